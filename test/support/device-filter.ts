/**
 * The cgroup2 GPU device filter's loader for tests: built from agent/isolation/device-filter.c with the
 * machine's C compiler (`cc`) into a temporary directory, as an operator builds it beside the agent.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEVICE_FILTER_BINARY } from '../../agent/isolation/device-filter.js';

export const DEVICE_FILTER_SOURCE = join(import.meta.dirname, '..', '..', 'agent', 'isolation', 'device-filter.c');

/**
 * Whether this machine has a C compiler. Without one the loader cannot be built here and its tests are
 * skipped (named as skipped); `.ci/setup` installs gcc and libc6-dev so CI always runs them.
 */
export const HAS_C_COMPILER = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;

/** Compiles the loader; rejects with the compiler's output (no `cc`: install gcc and libc6-dev). */
export async function buildDeviceFilter(): Promise<string> {
  const output = join(await mkdtemp(join(tmpdir(), 'mantle-device-filter-')), DEVICE_FILTER_BINARY);
  await new Promise<void>((resolve, reject) =>
    execFile('cc', ['-O2', '-Wall', '-Werror', '-o', output, DEVICE_FILTER_SOURCE], (error, _out, stderr) =>
      error ? reject(new Error(`cc ${DEVICE_FILTER_SOURCE}: ${stderr || error.message}`)) : resolve(),
    ),
  );
  return output;
}
