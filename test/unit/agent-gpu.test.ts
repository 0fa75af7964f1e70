import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gpuDeviceRequests } from '../../agent/containerizer/docker-spec.js';
import { GpuAllocator } from '../../agent/gpu/allocator.js';
import {
  detectGpus,
  NVIDIA_SMI_ARGS,
  parseDeviceMinor,
  parseNvidiaSmi,
  procBusId,
  selectGpus,
} from '../../agent/gpu/nvidia.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', 'nvidia-smi', name), 'utf8');

describe('nvidia-smi parsing', () => {
  it('reads one Tesla T4 (g4dn.xlarge)', () => {
    const { gpus, notes } = parseNvidiaSmi(fixture('g4dn.xlarge-1x-tesla-t4.csv'));
    expect(notes).toEqual([]);
    expect(gpus).toHaveLength(1);
    expect(gpus[0]).toMatchObject({
      index: 0,
      model: 'Tesla T4',
      memoryMiB: 15360,
      pciBusId: '00000000:00:1E.0',
      minor: 0,
    });
    expect(gpus[0]?.uuid).toMatch(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('reads four A10Gs (g5.12xlarge)', () => {
    const { gpus } = parseNvidiaSmi(fixture('g5.12xlarge-4x-a10g.csv'));
    expect(gpus.map((gpu) => gpu.index)).toEqual([0, 1, 2, 3]);
    expect(new Set(gpus.map((gpu) => gpu.model))).toEqual(new Set(['NVIDIA A10G']));
    expect(gpus.every((gpu) => gpu.memoryMiB === 23028)).toBe(true);
    expect(new Set(gpus.map((gpu) => gpu.uuid)).size).toBe(4);
  });

  it('reads eight H100s with MIG off (p5.48xlarge)', () => {
    const { gpus, notes } = parseNvidiaSmi(fixture('p5.48xlarge-8x-h100.csv'));
    expect(notes).toEqual([]);
    expect(gpus).toHaveLength(8);
    expect(gpus.map((gpu) => gpu.pciBusId)).toEqual([
      '00000000:53:00.0',
      '00000000:64:00.0',
      '00000000:75:00.0',
      '00000000:86:00.0',
      '00000000:97:00.0',
      '00000000:A8:00.0',
      '00000000:B9:00.0',
      '00000000:CA:00.0',
    ]);
    expect(gpus.every((gpu) => gpu.model === 'NVIDIA H100 80GB HBM3' && gpu.memoryMiB === 81559)).toBe(true);
  });

  it('marks the GPUs in MIG mode, for their MIG devices to replace them', () => {
    const { gpus, migMode } = parseNvidiaSmi(fixture('p4d.24xlarge-8x-a100-mig-on-0-5.csv'));
    expect(gpus).toHaveLength(8);
    expect([...(migMode ?? [])]).toEqual([gpus[0]?.uuid, gpus[5]?.uuid]);
  });

  it('keeps a model name that holds a comma', () => {
    const { gpus } = parseNvidiaSmi('0, GPU-00000000-1111-2222-3333-444444444444, Odd, Name, 1024, [N/A], [N/A]\n');
    expect(gpus[0]).toMatchObject({ model: 'Odd, Name', memoryMiB: 1024 });
    expect(gpus[0]?.pciBusId).toBeUndefined();
  });

  it.each([
    ['a short line', '0, GPU-0000, T4\n', /expected 6/],
    ['a bad index', 'x, GPU-00000000-1111-2222-3333-444444444444, T4, 15360, 00000000:00:1E.0, [N/A]\n', /index/],
    ['a bad uuid', '0, nope, T4, 15360, 00000000:00:1E.0, [N/A]\n', /UUID/],
    ['a bad memory', '0, GPU-00000000-1111-2222-3333-444444444444, T4, [N/A], 00000000:00:1E.0, [N/A]\n', /memory/],
    [
      'an index twice',
      '0, GPU-00000000-1111-2222-3333-444444444444, T4, 1, a, [N/A]\n0, GPU-00000000-1111-2222-3333-555555555555, T4, 1, b, [N/A]\n',
      /twice/,
    ],
  ])('refuses %s', (_what, output, message) => {
    expect(() => parseNvidiaSmi(output)).toThrow(message);
  });

  it('reads the device minor from procfs and maps the bus id to its procfs name', () => {
    expect(parseDeviceMinor(fixture('information-minor-3.txt'))).toBe(3);
    expect(parseDeviceMinor('Model: x\n')).toBeUndefined();
    expect(procBusId('00000000:86:00.0')).toBe('0000:86:00.0');
  });

  it('detects through the runner, with minors from procfs', async () => {
    const calls: string[][] = [];
    const inventory = await detectGpus(
      'nvidia-smi',
      (file, args) => {
        calls.push([file, ...args]);
        return Promise.resolve(fixture('p5.48xlarge-8x-h100.csv'));
      },
      (busId) =>
        busId === '0000:86:00.0' ? Promise.resolve('Device Minor: 42\n') : Promise.reject(new Error('ENOENT')),
    );
    // No GPU in MIG mode: nvidia-smi -L is not run.
    expect(calls).toEqual([['nvidia-smi', ...NVIDIA_SMI_ARGS]]);
    expect(inventory.gpus.find((gpu) => gpu.index === 3)?.minor).toBe(42);
    expect(inventory.gpus.find((gpu) => gpu.index === 4)?.minor).toBe(4);
  });

  it('finds no GPUs when nvidia-smi is absent, and reports a failing nvidia-smi', async () => {
    const missing = Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT' });
    await expect(detectGpus('nvidia-smi', () => Promise.reject(missing))).resolves.toEqual({ gpus: [], notes: [] });
    const failing = Object.assign(new Error('exit 9'), {
      code: 9,
      stderr: 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver',
    });
    await expect(detectGpus('nvidia-smi', () => Promise.reject(failing))).rejects.toThrow(/could not communicate/);
    await expect(detectGpus('none', () => Promise.reject(new Error('not called')))).resolves.toEqual({
      gpus: [],
      notes: [],
    });
  });
});

describe('choosing the GPUs to offer', () => {
  const { gpus } = parseNvidiaSmi(fixture('p5.48xlarge-8x-h100.csv'));

  it('offers all of them by default, or those --nvidia_gpu_devices names', () => {
    expect(selectGpus(gpus, undefined, undefined)).toMatchObject({ ok: true, gpus: { length: 8 } });
    const picked = selectGpus(gpus, [6, 2], 2);
    expect(picked.ok && picked.gpus.map((gpu) => gpu.index)).toEqual([6, 2]);
  });

  it('refuses a gpus count that differs from the devices, and devices that do not exist', () => {
    expect(selectGpus(gpus, undefined, 4)).toMatchObject({ ok: false, error: /asks for 4 gpus but 8/ });
    expect(selectGpus(gpus, [0, 9], undefined)).toMatchObject({ ok: false, error: /GPU\(s\) 9/ });
    expect(selectGpus(gpus, [1, 1], undefined)).toMatchObject({ ok: false, error: /twice/ });
  });
});

describe('GPU allocation', () => {
  const { gpus } = parseNvidiaSmi(fixture('g5.12xlarge-4x-a10g.csv'));

  it('hands out specific GPUs, never one twice, and takes them back', () => {
    const allocator = new GpuAllocator(gpus);
    const a = allocator.allocate('a', 2);
    const b = allocator.allocate('b', 2);
    expect(a?.map((gpu) => gpu.index)).toEqual([0, 1]);
    expect(b?.map((gpu) => gpu.index)).toEqual([2, 3]);
    expect(allocator.allocate('c', 1)).toBeUndefined();
    allocator.release('a');
    expect(allocator.free).toBe(2);
    expect(allocator.allocate('c', 1)?.map((gpu) => gpu.index)).toEqual([0]);
    expect(allocator.allocate('d', 0)).toEqual([]);
    expect(allocator.allocate('d', 1.5)).toBeUndefined();
  });

  it('re-claims recovered GPUs unless another task holds them', () => {
    const allocator = new GpuAllocator(gpus);
    expect(allocator.claim('a', [1, 3]).conflicts).toEqual([]);
    expect(allocator.claim('b', [3]).conflicts).toEqual([3]);
    expect(allocator.claim('b', [7]).conflicts).toEqual([7]);
    expect(allocator.allocate('c', 2)?.map((gpu) => gpu.index)).toEqual([0, 2]);
  });

  it('asks Docker for exactly the allocated GPUs, by UUID', () => {
    const allocator = new GpuAllocator(gpus);
    allocator.allocate('a', 1);
    const mine = allocator.allocate('b', 2) ?? [];
    expect(gpuDeviceRequests(mine)).toEqual([
      { Driver: 'nvidia', Count: 0, DeviceIDs: [gpus[1]?.uuid, gpus[2]?.uuid], Capabilities: [['gpu']] },
    ]);
    expect(gpuDeviceRequests([])).toEqual([]);
  });
});
