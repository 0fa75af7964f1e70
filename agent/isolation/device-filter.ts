/**
 * The GPU device filter of process tasks on cgroup v2 (Mesos's `gpu/nvidia` isolator's role, which on
 * v1 writes `devices.deny`): cgroup v2 has no devices files; access to devices is decided by eBPF
 * programs (BPF_PROG_TYPE_CGROUP_DEVICE) attached to a cgroup. Node cannot make the bpf() syscall, so
 * `mantle-device-filter` (device-filter.c, a few raw syscalls, built with `cc`) loads and attaches the
 * program: NVIDIA GPU devices (major 195, minors 0–253) other than the task's are denied, everything
 * else is left as it is. The attachment lives as long as the cgroup, across agent restarts.
 */
import { execFile } from 'node:child_process';
import { mkdir, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEVICE_FILTER_BINARY = 'mantle-device-filter';

/** Beside the agent's code: agent/isolation/ in a checkout, beside index.mjs in the bundle. */
export function defaultDeviceFilter(): string {
  return join(dirname(fileURLToPath(import.meta.url)), DEVICE_FILTER_BINARY);
}

/** The loader's command line for a cgroup: only the task's GPU minors stay open. */
export function deviceFilterArgs(cgroupDir: string, major: number, allowedMinors: readonly number[]): string[] {
  return [cgroupDir, String(major), ...[...new Set(allowedMinors)].sort((a, b) => a - b).map(String)];
}

/** Attaches the filter to a cgroup2 directory; rejects with the loader's own words. */
export function attachDeviceFilter(
  loader: string,
  cgroupDir: string,
  major: number,
  allowedMinors: readonly number[],
): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(loader, deviceFilterArgs(cgroupDir, major, allowedMinors), { timeout: 10_000 }, (error, _out, stderr) => {
      if (!error) resolve();
      else reject(new Error(`${DEVICE_FILTER_BINARY}: ${stderr.trim() || error.message}`, { cause: error }));
    });
  });
}

/**
 * Whether the filter can be attached under `base` (the kernel may lack cgroup BPF, the agent the
 * capability, the host the binary): attaches one to a scratch cgroup and removes it. Undefined when it
 * can; else why not.
 */
export async function probeDeviceFilter(loader: string, base: string, major: number): Promise<string | undefined> {
  const scratch = join(base, `.device-filter-probe-${process.pid}`);
  try {
    await mkdir(scratch, { recursive: true });
    await attachDeviceFilter(loader, scratch, major, []);
    return undefined;
  } catch (error) {
    const code = (error as { cause?: NodeJS.ErrnoException }).cause?.code;
    return code === 'ENOENT' ? `${loader} is not there` : (error as Error).message;
  } finally {
    await rmdir(scratch).catch(() => undefined);
  }
}
