/**
 * NVIDIA GPU discovery (Mesos's `gpu/nvidia` isolator discovers through NVML; the agent asks nvidia-smi):
 * `nvidia-smi --query-gpu=index,uuid,name,memory.total,pci.bus_id,mig.mode.current
 * --format=csv,noheader,nounits`, one line per GPU. A GPU in MIG mode is offered as its MIG devices,
 * which `nvidia-smi -L` lists (mig.ts). Parsing is pure; running the binary is not.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Gpu } from './gpu.js';
import { NVIDIA_SMI_LIST_ARGS, parseMigDevices, withMigDevices } from './mig.js';

export const NVIDIA_SMI_ARGS = [
  '--query-gpu=index,uuid,name,memory.total,pci.bus_id,mig.mode.current',
  '--format=csv,noheader,nounits',
] as const;

/** The character device major of /dev/nvidia<minor> (fixed by the NVIDIA driver). */
export const NVIDIA_MAJOR = 195;

export type { Gpu };

export interface GpuInventory {
  readonly gpus: readonly Gpu[];
  readonly notes: readonly string[];
  /** The UUIDs of GPUs in MIG mode (not in `gpus` until their MIG devices replace them). */
  readonly migMode?: ReadonlySet<string>;
}

function unset(value: string | undefined): boolean {
  return value === undefined || value === '' || value === '[N/A]' || value === 'N/A' || value === '[Not Supported]';
}

/** Parses the query output (a model name never holds a comma, but one would survive: fields are anchored at both ends). */
export function parseNvidiaSmi(output: string): GpuInventory {
  const gpus: Gpu[] = [];
  const notes: string[] = [];
  const migMode = new Set<string>();
  for (const [n, rawLine] of output.split('\n').entries()) {
    const line = rawLine.trim();
    if (line === '') continue;
    const fields = line.split(',').map((field) => field.trim());
    if (fields.length < 6) throw new Error(`nvidia-smi line ${n + 1} has ${fields.length} fields, expected 6`);
    // index, uuid, name, memory.total, pci.bus_id, mig.mode.current; the name is whatever lies between.
    const [indexText, uuid] = fields as [string, string];
    const [memoryText, pciBusId, mig] = fields.slice(-3) as [string, string, string];
    const name = fields.slice(2, -3).join(', ');
    if (!/^\d+$/.test(indexText)) throw new Error(`nvidia-smi line ${n + 1}: index '${indexText}' is not a number`);
    if (!/^GPU-[0-9a-fA-F-]+$/.test(uuid)) throw new Error(`nvidia-smi line ${n + 1}: '${uuid}' is not a GPU UUID`);
    const memoryMiB = Number(memoryText);
    if (unset(memoryText) || !Number.isFinite(memoryMiB)) {
      throw new Error(`nvidia-smi line ${n + 1}: memory.total '${memoryText}' is not a number of MiB`);
    }
    const index = Number(indexText);
    if (mig === 'Enabled') migMode.add(uuid);
    gpus.push({
      index,
      uuid,
      model: name,
      memoryMiB,
      ...(unset(pciBusId) ? {} : { pciBusId }),
      minor: index,
    });
  }
  const seen = new Set<number>();
  for (const gpu of gpus) {
    if (seen.has(gpu.index)) throw new Error(`nvidia-smi lists GPU index ${gpu.index} twice`);
    seen.add(gpu.index);
  }
  return { gpus: gpus.sort((a, b) => a.index - b.index), notes, migMode };
}

/** Reads "Device Minor: N" from /proc/driver/nvidia/gpus/<bus id>/information. */
export function parseDeviceMinor(information: string): number | undefined {
  const match = /^Device Minor:\s*(\d+)\s*$/m.exec(information);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** The procfs directory name of a bus id: nvidia-smi prints 00000000:18:00.0, procfs has 0000:18:00.0. */
export function procBusId(pciBusId: string): string {
  const [domain = '', rest = ''] = pciBusId.toLowerCase().split(/:(.*)/s);
  return `${domain.slice(-4).padStart(4, '0')}:${rest}`;
}

export type CommandRunner = (file: string, args: readonly string[]) => Promise<string>;

const runCommand: CommandRunner = (file, args) =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(error, { stderr }));
      else resolve(stdout);
    });
  });

/**
 * Finds the host's GPUs. No nvidia-smi (ENOENT) means no GPUs; nvidia-smi failing on a host that has it
 * is an error the operator must see.
 */
export async function detectGpus(
  nvidiaSmi: string,
  run: CommandRunner = runCommand,
  readInformation: (busId: string) => Promise<string> = (busId) =>
    readFile(`/proc/driver/nvidia/gpus/${busId}/information`, 'utf8'),
): Promise<GpuInventory> {
  if (nvidiaSmi === 'none') return { gpus: [], notes: [] };
  let output: string;
  try {
    output = await run(nvidiaSmi, NVIDIA_SMI_ARGS);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { gpus: [], notes: [] };
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
    throw new Error(`${nvidiaSmi} failed: ${stderr || (error as Error).message}`, { cause: error });
  }
  const inventory = parseNvidiaSmi(output);
  const gpus: Gpu[] = [];
  for (const gpu of inventory.gpus) {
    let minor = gpu.index;
    if (gpu.pciBusId) {
      const information = await readInformation(procBusId(gpu.pciBusId)).catch(() => undefined);
      minor = (information === undefined ? undefined : parseDeviceMinor(information)) ?? gpu.index;
    }
    gpus.push({ ...gpu, minor });
  }
  const migMode = inventory.migMode ?? new Set<string>();
  if (migMode.size === 0) return { gpus, notes: inventory.notes };
  let listing: string;
  try {
    listing = await run(nvidiaSmi, NVIDIA_SMI_LIST_ARGS);
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
    throw new Error(`${nvidiaSmi} -L failed: ${stderr || (error as Error).message}`, { cause: error });
  }
  const mig = withMigDevices(gpus, migMode, parseMigDevices(listing));
  return { gpus: mig.gpus, notes: [...inventory.notes, ...mig.notes] };
}

/** The GPUs an agent offers: `--nvidia_gpu_devices` picks among them; `gpus` in `--resources` must match. */
export function selectGpus(
  inventory: readonly Gpu[],
  devices: readonly number[] | undefined,
  requestedCount: number | undefined,
): { ok: true; gpus: Gpu[] } | { ok: false; error: string } {
  let gpus = [...inventory];
  if (devices) {
    const indices = new Set(inventory.map((gpu) => gpu.index));
    const missing = devices.filter((index) => !indices.has(index));
    if (missing.length > 0) {
      return {
        ok: false,
        error: `--nvidia_gpu_devices names GPU(s) ${missing.join(', ')} that nvidia-smi does not list`,
      };
    }
    if (new Set(devices).size !== devices.length) {
      return { ok: false, error: '--nvidia_gpu_devices names a GPU twice' };
    }
    // A GPU in MIG mode is all its MIG devices.
    gpus = devices.flatMap((index) => inventory.filter((gpu) => gpu.index === index));
  }
  if (requestedCount !== undefined && requestedCount !== gpus.length) {
    return {
      ok: false,
      error: `--resources asks for ${requestedCount} gpus but ${gpus.length} GPU(s) are available${devices ? ' in --nvidia_gpu_devices' : ''}; they must be equal`,
    };
  }
  return { ok: true, gpus };
}
