/**
 * `mantle job` and `mantle queue` as a user runs them, against `mantle local` (which runs Mantle Jobs):
 * submit from flags and from files, --wait and its exit codes, list, show, cancel, logs, queues.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/aws-standins.js';
import { mantle, run, type Run } from '../support/cli.js';
import { untilFile } from '../support/gates.js';

const SMALL = 'cpus:0.1;mem:32';

let local: Run;
let url: string;
let workDir: string;
const started: Run[] = [];

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'mantle-jobs-cli-'));
  const port = await freePort();
  local = mantle(['local', '--port', String(port), '--agents', '1', '--work_dir', join(workDir, 'cluster')]);
  started.push(local);
  await local.line(/^mantle: ready in \d+ ms/, 120_000);
  url = `http://127.0.0.1:${port}`;
}, 150_000);

afterAll(async () => {
  for (const child of started) if (child.child.exitCode === null) child.child.kill('SIGINT');
  await Promise.all(started.map((child) => child.exited));
  await rm(workDir, { recursive: true, force: true });
}, 60_000);

/** `mantle job <verb> --master <url> ...` (the master before the words after `--`). */
const job = ([verb, ...args]: readonly string[]) => run(['job', verb ?? '', '--master', url, ...args]);
const idOf = (output: string) => /job (\S+) submitted/.exec(output)?.[1] ?? '';

describe('mantle job', () => {
  it('submit --wait runs a job to SUCCEEDED (exit 0), printing its changes; logs prints its output', async () => {
    // It runs until the CLI has printed RUNNING: a fixed sleep could end between two of its 1 s polls on a
    // loaded machine.
    const release = join(workDir, 'release-hello');
    const command = `${untilFile(release)}; echo hello from a job`;
    const waiting = mantle(['job', 'submit', '--master', url, '--wait', '--resources', SMALL, '--command', command]);
    started.push(waiting);
    await waiting.line(/TASK_RUNNING/, 90_000);
    await writeFile(release, '');
    const done = { code: await waiting.exited, output: waiting.lines.join('\n') };
    expect(done.code, done.output).toBe(0);
    const id = idOf(done.output);
    expect(done.output).toMatch(new RegExp(`attempt 1 task ${id}-1 TASK_RUNNING on \\S+`));
    expect(done.output).toMatch(new RegExp(`attempt 1 task ${id}-1 TASK_FINISHED on \\S+ exit 0`));
    expect(done.output).toContain(`job ${id} SUCCEEDED`);
    const logs = await job(['logs', id]);
    expect(logs.code).toBe(0);
    expect(logs.output).toContain('hello from a job');
  }, 120_000);

  it('submit --wait exits 3 when the job FAILED after its retries, every attempt shown', async () => {
    const failed = await job(['submit', '--wait', '--retries', '1', '--resources', SMALL, '--command', 'exit 7']);
    expect(failed.code, failed.output).toBe(3);
    const id = idOf(failed.output);
    expect(failed.output).toMatch(new RegExp(`attempt 1 task ${id}-1 TASK_FAILED .*exit 7`));
    expect(failed.output).toMatch(new RegExp(`attempt 2 task ${id}-2 TASK_FAILED .*exit 7`));
    expect(failed.output).toMatch(new RegExp(`job ${id} FAILED`));
    const shown = await job(['show', id]);
    expect(shown.output).toMatch(/^state: +FAILED$/m);
    expect(shown.output.match(/^ {2}[12] +\S+ .*TASK_FAILED/gm)).toHaveLength(2);
  }, 120_000);

  it('submit --wait exits 4 when the job is cancelled; cancel kills what runs', async () => {
    const waiting = mantle(['job', 'submit', '--master', url, '--wait', '--resources', SMALL, '--', 'sleep', '120']);
    started.push(waiting);
    const line = await waiting.line(/TASK_RUNNING/, 90_000);
    const id = /task (\S+)-1 /.exec(line)?.[1] ?? '';
    const running = await job(['logs', id]);
    expect(running.code).toBe(0);
    expect(running.output).toBe('(no output: no attempt has ended yet, or it wrote nothing)');
    const cancelled = await job(['cancel', id, '--reason', 'not needed']);
    expect(cancelled.code, cancelled.output).toBe(0);
    expect(cancelled.output).toContain(`job ${id} CANCELLED: not needed`);
    expect(await waiting.exited).toBe(4);
    const attemptState = async () =>
      (JSON.parse((await job(['show', id, '--json'])).output) as { attempts: Array<{ state: string }> }).attempts[0]
        ?.state;
    await expect.poll(attemptState, { timeout: 30_000 }).toBe('TASK_KILLED');
    const again = await job(['cancel', 'no-such-job']);
    expect(again.code).toBe(1);
    expect(again.output).toContain("Job 'no-such-job' does not exist (HTTP 404)");
  }, 150_000);

  it('submits a JSON file with flags over it: an array whose children see their index', async () => {
    const file = join(workDir, 'array.json');
    await writeFile(
      file,
      JSON.stringify({
        name: 'from-file',
        command: 'echo "shard $MANTLE_ARRAY_INDEX of $GREETING"',
        resources: SMALL,
        env: { GREETING: 'file' },
        array: 2,
      }),
    );
    const done = await job(['submit', '--file', file, '--name', 'overridden', '--env', 'GREETING=flag', '--wait']);
    expect(done.code, done.output).toBe(0);
    const id = idOf(done.output);
    const parent = JSON.parse((await job(['show', id, '--json'])).output) as { name: string; state: string };
    expect(parent).toMatchObject({ name: 'overridden', state: 'SUCCEEDED' });
    const listed = await job(['list', '--parent', id, '--json']);
    const children = (JSON.parse(listed.output) as { jobs: Array<{ id: string; array_index: number }> }).jobs;
    expect(children.map((child) => child.array_index).sort()).toEqual([0, 1]);
    for (const child of children) {
      expect((await job(['logs', child.id])).output).toContain(`shard ${child.array_index} of flag`);
    }
    const table = await job(['list', '--parent', id]);
    expect(table.output).toMatch(/^ID +NAME +QUEUE +PRIORITY +STATE +CREATED +REASON$/m);
    expect(table.output.match(/SUCCEEDED/g)).toHaveLength(2);
  }, 150_000);

  it('submits a YAML file; logs --json gives the output as JSON', async () => {
    const file = join(workDir, 'job.yaml');
    await writeFile(file, `name: yaml-job\ncommand: echo from yaml\nresources: "${SMALL}"\n`);
    const submitted = await job(['submit', '--file', file, '--wait']);
    expect(submitted.code, submitted.output).toBe(0);
    const id = idOf(submitted.output);
    expect((await job(['logs', id])).output).toContain('from yaml');
    const json = await job(['logs', id, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.output)).toEqual({ id, output: expect.stringContaining('from yaml') });
  }, 120_000);

  it('refuses a bad spec with the API message (exit 1) and bad arguments (exit 2)', async () => {
    const bad = await job(['submit', '--retries', '1000', '--', 'true']);
    expect(bad.code).toBe(1);
    expect(bad.output).toContain("mantle job submit: Invalid job: field 'retries'");
    expect((await job(['submit', '--bogus', '--', 'true'])).code).toBe(2);
    expect((await job(['submit', '--priority', 'high', '--', 'true'])).code).toBe(2);
    expect((await job(['submit', '--file', join(workDir, 'missing.json')])).code).toBe(2);
    expect((await run(['job', 'explode'])).code).toBe(2);
    const nobody = await run(['job', 'list', '--master', `127.0.0.1:${await freePort()}`]);
    expect(nobody.code).toBe(1);
    expect(nobody.output).toMatch(/Could not reach the master at .*ECONNREFUSED/);
  });
});

describe('mantle queue', () => {
  it('sets a queue weight and quota, and lists it', async () => {
    const set = await run(['queue', 'set', 'etl', '--weight', '2', '--limit', 'cpus=4,gpus=0', '--master', url]);
    expect(set.code, set.output).toBe(0);
    expect(set.output).toMatch(/^etl +2 +- +cpus=4,gpus=0 +0 +0 +0 +0 +0$/m);
    const listed = await run(['queue', 'list', '--json', '--master', url]);
    const queues = (JSON.parse(listed.output) as { queues: Array<{ name: string; weight: number }> }).queues;
    expect(queues).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'etl', weight: 2 })]));
    const bad = await run(['queue', 'set', 'etl', '--guarantee', 'cpus=8', '--limit', 'cpus=4', '--master', url]);
    expect(bad.code).toBe(1);
    expect(bad.output).toMatch(/guarantee 8 is above the limit 4/);
  });
});
