/**
 * MIG (Multi-Instance GPU) devices, each offered as one `gpus` unit. `nvidia-smi -L` lists every GPU
 * and, under a GPU in MIG mode, its MIG devices with their profile and UUID (NVIDIA's MIG user guide):
 *
 *     GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77)
 *       MIG 3g.20gb     Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)
 *       MIG 1g.5gb      Device  1: (UUID: MIG-cba663e8-9bed-5b25-b243-5985ef7c9beb)
 *
 * (drivers before R470 print `MIG-GPU-<gpu uuid>/<gi>/<ci>` as the UUID; both are taken). A task is
 * handed its MIG device by UUID (NVIDIA_VISIBLE_DEVICES, CUDA_VISIBLE_DEVICES, Docker's device
 * request), which CUDA and the NVIDIA container toolkit accept. Mesos has no MIG: the units of
 * `gpus` are alike to the master, so an agent whose MIG devices share one profile says which in the
 * `gpu_mig_profile` attribute, for frameworks to place by. Pure.
 */
import type { Attribute } from '#shared/protocol/mesos.js';
import type { Gpu } from './gpu.js';

export const NVIDIA_SMI_LIST_ARGS = ['-L'] as const;

export interface MigDevice {
  readonly parentUuid: string;
  readonly profile: string;
  readonly device: number;
  readonly uuid: string;
}

const GPU_LINE = /^GPU\s+(\d+):\s.*\(UUID:\s*(GPU-[0-9a-fA-F-]+)\)\s*$/;
const MIG_LINE = /^MIG\s+(\S+)\s+Device\s+(\d+):\s*\(UUID:\s*(MIG-[0-9A-Za-z/-]+)\)\s*$/;

/** The MIG devices of `nvidia-smi -L`, each under the GPU listed above it. */
export function parseMigDevices(output: string): MigDevice[] {
  const devices: MigDevice[] = [];
  let parent: string | undefined;
  for (const [n, raw] of output.split('\n').entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const gpu = GPU_LINE.exec(line);
    if (gpu) {
      parent = gpu[2];
      continue;
    }
    const mig = MIG_LINE.exec(line);
    if (!mig) continue;
    if (parent === undefined) throw new Error(`nvidia-smi -L line ${n + 1}: a MIG device before any GPU`);
    devices.push({ parentUuid: parent, profile: mig[1] as string, device: Number(mig[2]), uuid: mig[3] as string });
  }
  return devices;
}

/** The memory of a profile (`1g.10gb`, `3g.20gb`, `1g.10gb+me`) in MiB; 0 when it names none. */
export function profileMemoryMiB(profile: string): number {
  const match = /\.(\d+)gb/.exec(profile);
  return match ? Number(match[1]) * 1024 : 0;
}

/**
 * The GPUs to offer: GPUs not in MIG mode as they are, and in place of each GPU in MIG mode its MIG
 * devices (on the GPU's index and device minor, so `--nvidia_gpu_devices` picks a GPU with its MIG
 * devices, and the devices cgroup leaves the GPU's device to the tasks that hold one of them).
 */
export function withMigDevices(
  gpus: readonly Gpu[],
  migMode: ReadonlySet<string>,
  devices: readonly MigDevice[],
): { gpus: Gpu[]; notes: string[] } {
  const result: Gpu[] = [];
  const notes: string[] = [];
  for (const gpu of gpus) {
    if (!migMode.has(gpu.uuid)) {
      result.push(gpu);
      continue;
    }
    const own = devices.filter((device) => device.parentUuid === gpu.uuid).sort((a, b) => a.device - b.device);
    if (own.length === 0) {
      notes.push(`GPU ${gpu.index} (${gpu.uuid}) is in MIG mode with no MIG devices: nothing of it is offered`);
    }
    for (const device of own) {
      result.push({
        index: gpu.index,
        uuid: device.uuid,
        model: `${gpu.model} MIG ${device.profile}`,
        memoryMiB: profileMemoryMiB(device.profile),
        ...(gpu.pciBusId !== undefined ? { pciBusId: gpu.pciBusId } : {}),
        minor: gpu.minor,
        mig: { parentUuid: gpu.uuid, profile: device.profile, device: device.device },
      });
    }
  }
  return { gpus: result, notes };
}

/** `gpu_mig_profile:<profile>` when every GPU offered is a MIG device of one profile; a note when they differ. */
export function migAttributes(gpus: readonly Gpu[]): { attributes: Attribute[]; notes: string[] } {
  const profiles = [...new Set(gpus.flatMap((gpu) => (gpu.mig ? [gpu.mig.profile] : [])))];
  if (profiles.length === 0) return { attributes: [], notes: [] };
  const whole = gpus.some((gpu) => !gpu.mig);
  if (profiles.length === 1 && !whole) {
    return {
      attributes: [{ name: 'gpu_mig_profile', type: 'TEXT', text: { value: profiles[0] as string } }],
      notes: [],
    };
  }
  return {
    attributes: [],
    notes: [
      `The gpus offered mix ${[...(whole ? ['whole GPUs'] : []), ...profiles].join(', ')}: a task cannot choose which it gets; ` +
        'give each agent one MIG profile (or --nvidia_gpu_devices) to place by the gpu_mig_profile attribute',
    ],
  };
}
