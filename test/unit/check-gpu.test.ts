/**
 * `npm run check:gpu` on a machine without a GPU (this one): it says so, writes `{"gpu": false}` and
 * exits 0; an nvidia-smi that fails is a failed check (exit 1). Its GPU path needs a GPU and is run on
 * one when a session has it (docs/gpu-training.md).
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'check-gpu-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function check(env: Record<string, string>): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'bench', 'check-gpu.ts')],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout }),
    );
  });
}

describe('check:gpu without a GPU', () => {
  it('says there is none, writes {"gpu": false} and exits 0', async () => {
    const out = join(dir, 'absent.json');
    const result = await check({ NVIDIA_SMI: join(dir, 'no-such-nvidia-smi'), GPU_CHECK_OUT: out });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/No NVIDIA GPU here/);
    expect(JSON.parse(await readFile(out, 'utf8'))).toMatchObject({ gpu: false });
  });

  it('fails when nvidia-smi is there but fails (a broken driver)', async () => {
    const smi = join(dir, 'nvidia-smi');
    await writeFile(
      smi,
      '#!/bin/sh\necho "NVIDIA-SMI has failed because it could not communicate with the driver" >&2\nexit 9\n',
    );
    await chmod(smi, 0o755);
    const out = join(dir, 'broken.json');
    const result = await check({ NVIDIA_SMI: smi, GPU_CHECK_OUT: out });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/GPU detection failed: .*could not communicate with the driver/);
    expect(JSON.parse(await readFile(out, 'utf8'))).toMatchObject({ gpu: false });
  });
});
