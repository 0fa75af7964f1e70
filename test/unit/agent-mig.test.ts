/**
 * MIG devices as GPUs (agent/gpu/mig.ts): `nvidia-smi -L` parsed (written fixtures in NVIDIA's documented
 * layout), each MIG device one `gpus` unit handed out by UUID, --nvidia_gpu_devices picking a GPU with
 * its MIG devices, the gpu_mig_profile attribute, and the task's environment and Docker device request.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { taskEnvironment } from '../../agent/containerizer/command.js';
import type { LaunchSpec } from '../../agent/containerizer/containerizer.js';
import { gpuDeviceRequests } from '../../agent/containerizer/docker-spec.js';
import { GpuAllocator } from '../../agent/gpu/allocator.js';
import { migAttributes, NVIDIA_SMI_LIST_ARGS, parseMigDevices, profileMemoryMiB } from '../../agent/gpu/mig.js';
import { detectGpus, NVIDIA_SMI_ARGS, selectGpus, type Gpu } from '../../agent/gpu/nvidia.js';
import { SAFE_GRANT } from '#shared/protocol/internal.js';
import { commandTask } from '../support/agent.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', 'nvidia-smi', name), 'utf8');
const QUERY = fixture('p4d.24xlarge-8x-a100-mig-on-0-5.csv');
const LIST = fixture('p4d.24xlarge-8x-a100-mig-on-0-5-list.txt');
const GPU0 = 'GPU-015c33b2-df14-61aa-f8eb-18b900745130';

async function p4d(): Promise<{ gpus: readonly Gpu[]; notes: readonly string[]; calls: string[][] }> {
  const calls: string[][] = [];
  const inventory = await detectGpus(
    'nvidia-smi',
    (file, args) => {
      calls.push([file, ...args]);
      return Promise.resolve(args.includes('-L') ? LIST : QUERY);
    },
    () => Promise.reject(new Error('no procfs here')),
  );
  return { ...inventory, calls };
}

describe('nvidia-smi -L', () => {
  it('reads the MIG devices under each GPU, with profile, device number and UUID', () => {
    const devices = parseMigDevices(LIST);
    expect(devices).toHaveLength(5);
    expect(devices[0]).toEqual({
      parentUuid: GPU0,
      profile: '3g.20gb',
      device: 0,
      uuid: 'MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f',
    });
    expect(devices.filter((d) => d.parentUuid === 'GPU-f7f35634-f0e3-cd97-2e81-d66d346c6e2b')).toHaveLength(2);
  });

  it("takes older drivers' MIG-GPU-<uuid>/<gi>/<ci> UUIDs and refuses a MIG device before any GPU", () => {
    const old = `GPU 0: A100-SXM4-40GB (UUID: ${GPU0})\n  MIG 1g.5gb Device 0: (UUID: MIG-${GPU0}/7/0)\n`;
    expect(parseMigDevices(old)[0]?.uuid).toBe(`MIG-${GPU0}/7/0`);
    expect(() => parseMigDevices('  MIG 1g.5gb Device 0: (UUID: MIG-abc)\n')).toThrow(/before any GPU/);
  });

  it('reads a profile memory', () => {
    expect([profileMemoryMiB('1g.5gb'), profileMemoryMiB('3g.40gb'), profileMemoryMiB('1g.10gb+me')]).toEqual([
      5120, 40960, 10240,
    ]);
  });
});

describe('MIG devices offered as gpus', () => {
  it('replaces each GPU in MIG mode by its MIG devices, on its index and minor', async () => {
    const { gpus, notes, calls } = await p4d();
    expect(calls).toEqual([
      ['nvidia-smi', ...NVIDIA_SMI_ARGS],
      ['nvidia-smi', ...NVIDIA_SMI_LIST_ARGS],
    ]);
    expect(notes).toEqual([]);
    expect(gpus).toHaveLength(6 + 5);
    const mig = gpus.filter((gpu) => gpu.mig);
    expect(mig.map((gpu) => [gpu.index, gpu.minor, gpu.mig?.profile, gpu.memoryMiB])).toEqual([
      [0, 0, '3g.20gb', 20480],
      [0, 0, '2g.10gb', 10240],
      [0, 0, '1g.5gb', 5120],
      [5, 5, '3g.20gb', 20480],
      [5, 5, '3g.20gb', 20480],
    ]);
    expect(mig[0]?.model).toBe('NVIDIA A100-SXM4-40GB MIG 3g.20gb');
    expect(gpus.some((gpu) => gpu.uuid === GPU0)).toBe(false);
  });

  it('says so when a GPU in MIG mode has no MIG devices, and fails loudly when nvidia-smi -L does', async () => {
    const bare = await detectGpus('nvidia-smi', (_file, args) =>
      Promise.resolve(args.includes('-L') ? `GPU 0: A100 (UUID: ${GPU0})\n` : QUERY),
    );
    expect(bare.notes[0]).toMatch(/GPU 0 .* MIG mode with no MIG devices: nothing of it is offered/);
    const failing = detectGpus('nvidia-smi', (_file, args) =>
      args.includes('-L')
        ? Promise.reject(Object.assign(new Error('exit 1'), { stderr: 'boom' }))
        : Promise.resolve(QUERY),
    );
    await expect(failing).rejects.toThrow(/nvidia-smi -L failed: boom/);
  });

  it('picks a GPU with all its MIG devices by --nvidia_gpu_devices; gpus counts MIG devices', async () => {
    const { gpus } = await p4d();
    const picked = selectGpus(gpus, [5, 1], 3);
    expect(picked.ok && picked.gpus.map((gpu) => gpu.uuid)).toEqual([
      'MIG-8f0e6a4b-2c1d-5e3f-9a8b-7c6d5e4f3a2b',
      'MIG-4d3c2b1a-0f9e-5d8c-b7a6-958473625140',
      'GPU-f5cae3bf-3729-c619-c60a-3cab359eeefb',
    ]);
    expect(selectGpus(gpus, [5], 1)).toMatchObject({ ok: false, error: /asks for 1 gpus but 2/ });
  });

  it('names the one profile of an agent in gpu_mig_profile, and notes a mix', async () => {
    const { gpus } = await p4d();
    const five = gpus.filter((gpu) => gpu.index === 5);
    expect(migAttributes(five)).toEqual({
      attributes: [{ name: 'gpu_mig_profile', type: 'TEXT', text: { value: '3g.20gb' } }],
      notes: [],
    });
    const mixed = migAttributes(gpus);
    expect(mixed.attributes).toEqual([]);
    expect(mixed.notes[0]).toMatch(/mix whole GPUs, 3g.20gb, 2g.10gb, 1g.5gb: a task cannot choose/);
    expect(migAttributes(gpus.filter((gpu) => !gpu.mig))).toEqual({ attributes: [], notes: [] });
  });
});

describe('a task holding a MIG device', () => {
  it('is handed it by UUID, each device to one task, and re-claims it by UUID or a whole GPU by its old index', async () => {
    const { gpus } = await p4d();
    const allocator = new GpuAllocator(gpus.filter((gpu) => gpu.index === 0 || gpu.index === 1));
    const mig = allocator.allocate('b', 2) ?? [];
    expect(mig.map((gpu) => gpu.mig?.profile)).toEqual(['3g.20gb', '2g.10gb']);
    expect(allocator.allocate('a', 2)?.map((gpu) => gpu.mig?.profile ?? gpu.uuid)).toEqual([
      '1g.5gb',
      'GPU-f5cae3bf-3729-c619-c60a-3cab359eeefb',
    ]);
    expect(allocator.free).toBe(0);
    expect(gpuDeviceRequests(mig)).toEqual([
      { Driver: 'nvidia', Count: 0, DeviceIDs: mig.map((gpu) => gpu.uuid), Capabilities: [['gpu']] },
    ]);
    const spec = {
      containerId: 'c',
      agentId: 'a',
      frameworkId: 'f',
      frameworkInfo: { user: 'u', name: 'f' },
      executorId: 't',
      task: commandTask('t', 'true'),
      sandbox: '/s',
      gpus: mig.slice(0, 1),
      allGpus: gpus,
      recorded: Promise.resolve(),
      grant: SAFE_GRANT,
    } satisfies LaunchSpec;
    expect(taskEnvironment(spec, '/s')).toMatchObject({
      CUDA_VISIBLE_DEVICES: 'MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f',
      NVIDIA_VISIBLE_DEVICES: 'MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f',
    });

    const recovered = new GpuAllocator(gpus.filter((gpu) => gpu.index === 0 || gpu.index === 1));
    expect(recovered.claim('b', [mig[1]?.uuid as string, 1]).conflicts).toEqual([]);
    expect(recovered.claim('c', [mig[1]?.uuid as string]).conflicts).toEqual([mig[1]?.uuid]);
    // An index names a whole GPU only: a GPU in MIG mode is no longer one.
    expect(recovered.claim('d', [0]).conflicts).toEqual([0]);
  });
});
