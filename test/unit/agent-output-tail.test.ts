import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { outputTail } from '../../agent/output-tail.js';

let sandbox: string | undefined;
afterEach(async () => {
  if (sandbox) await rm(sandbox, { recursive: true, force: true });
});

const decoded = (data: string | undefined) => (data === undefined ? undefined : Buffer.from(data, 'base64').toString());

describe('outputTail', () => {
  it('is the end of stdout then of stderr, each bounded', async () => {
    sandbox = await mkdtemp(join(tmpdir(), 'tail-'));
    await writeFile(join(sandbox, 'stdout'), `${'x'.repeat(10_000)}last line\n`);
    await writeFile(join(sandbox, 'stderr'), 'warning\n');
    const text = decoded(await outputTail(sandbox, 64));
    expect(text).toBe(`${'x'.repeat(54)}last line\nwarning\n`);
  });

  it('is undefined when the task wrote nothing or the sandbox is gone', async () => {
    sandbox = await mkdtemp(join(tmpdir(), 'tail-'));
    await writeFile(join(sandbox, 'stdout'), '');
    expect(await outputTail(sandbox)).toBeUndefined();
    expect(await outputTail(join(sandbox, 'missing'))).toBeUndefined();
  });
});
