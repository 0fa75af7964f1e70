/** The Jobs command line's own parts: flags into a spec, files, queue quantities, what --wait prints; the list query. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSpec, parseDependency, readSpecFile, shellCommand, specFromFlags } from '../../cli/job-spec.js';
import { changes } from '../../cli/job-wait.js';
import { jobsTable, table } from '../../cli/job-format.js';
import { parseQuantities } from '../../cli/queue.js';
import { UsageError } from '../../cli/jobs-client.js';
import { parseListQuery } from '../../frameworks/jobs/api.js';
import { newJob } from '../../frameworks/jobs/lifecycle.js';
import { parseJobSpec, type Job } from '../../frameworks/jobs/model.js';
import { encodeCursor } from '../../frameworks/jobs/store.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mantle-jobs-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function job(spec: Record<string, unknown> = {}): Job {
  const parsed = parseJobSpec({ name: 'j', command: 'true', ...spec });
  if (!parsed.ok) throw new Error(parsed.error.message);
  return newJob(parsed.value, { id: '0mxb17aqg-e1386189593d', now: Date.parse('2026-12-06T00:00:00Z') });
}

describe('mantle job submit: flags into a spec', () => {
  it('sets only the fields given, integers as numbers, --depends-on with its condition', () => {
    expect(
      specFromFlags(
        {
          queue: 'gpu',
          priority: '-5',
          image: 'pytorch/pytorch:2',
          retries: '2',
          'retry-backoff': '60',
          timeout: '3600',
          array: '10',
          'depends-on': ['0mxb-1', '0mxb-2:3:finished', '0mxb-3:succeeded', '0mxb-4:7'],
        },
        ['python', 'train.py'],
      ),
    ).toEqual({
      queue: 'gpu',
      priority: -5,
      command: 'python train.py',
      docker_image: 'pytorch/pytorch:2',
      retries: 2,
      retry_backoff_seconds: 60,
      timeout_seconds: 3600,
      array: 10,
      depends_on: [
        { job: '0mxb-1' },
        { job: '0mxb-2:3', condition: 'finished' },
        { job: '0mxb-3', condition: 'succeeded' },
        { job: '0mxb-4:7' },
      ],
    });
    expect(specFromFlags({}, [])).toEqual({});
  });

  it('refuses what a flag cannot be, and a command given twice', () => {
    expect(() => specFromFlags({ priority: 'high' }, [])).toThrow(
      new UsageError("--priority must be an integer, not 'high'"),
    );
    expect(() => specFromFlags({ gang: '2.5' }, [])).toThrow(UsageError);
    expect(() => specFromFlags({ command: 'a' }, ['b'])).toThrow(/not both/);
  });

  it('quotes the words after -- for the shell only where needed', () => {
    expect(shellCommand(['python', 'train.py', '--lr', '0.1', 'a b', "it's", '$HOME'])).toBe(
      `python train.py --lr 0.1 'a b' 'it'\\''s' '$HOME'`,
    );
    expect(parseDependency('x:1:finished')).toEqual({ job: 'x:1', condition: 'finished' });
  });

  it('reads a JSON file, the flags over it, --env added to its variables', async () => {
    const file = join(dir, 'job.json');
    await writeFile(
      file,
      JSON.stringify({ name: 'from-file', command: 'echo $A', env: { A: '1', B: '2' }, retries: 1 }),
    );
    expect(await buildSpec({ file, retries: '3', env: ['B=override', 'C=3=3'] }, [])).toEqual({
      name: 'from-file',
      command: 'echo $A',
      env: { A: '1', B: 'override', C: '3=3' },
      retries: 3,
    });
  });

  it('says what is wrong with a file', async () => {
    await writeFile(join(dir, 'bad.json'), '{"name": ');
    await writeFile(join(dir, 'list.json'), '[]');
    await expect(readSpecFile(join(dir, 'bad.json'))).rejects.toThrow(/bad\.json is not valid JSON/);
    await expect(readSpecFile(join(dir, 'list.json'))).rejects.toThrow(/must hold one job spec/);
    await expect(readSpecFile(join(dir, 'missing.json'))).rejects.toThrow(/missing\.json: ENOENT/);
    await expect(buildSpec({ env: ['NOEQUALS'] }, [])).rejects.toThrow(/'NOEQUALS' is not KEY=VALUE/);
  });
});

describe('mantle queue set: quantities', () => {
  it('reads name=quantity lists, repeated or comma-separated', () => {
    expect(parseQuantities('limit', ['gpus=8,cpus=64', 'mem=1024.5'])).toEqual({ gpus: 8, cpus: 64, mem: 1024.5 });
    expect(() => parseQuantities('guarantee', ['gpus'])).toThrow("--guarantee: 'gpus' is not name=quantity");
    expect(() => parseQuantities('limit', ['gpus=-1'])).toThrow(UsageError);
  });
});

describe('mantle job submit --wait: what it prints', () => {
  it('prints each change once: task states, then the job state with its reason', () => {
    const seen = new Map<string, string>();
    const pending = { ...job(), pending_reason: 'no agent with the resources: cpus:1;mem:128' };
    expect(changes(pending, seen)).toEqual([
      'job 0mxb17aqg-e1386189593d PENDING: no agent with the resources: cpus:1;mem:128',
    ]);
    expect(changes(pending, seen)).toEqual([]);
    const attempt = {
      attempt: 1,
      gang_index: null,
      task_id: '0mxb17aqg-e1386189593d-1',
      agent_id: 'S0',
      hostname: 'host-1',
      state: 'TASK_RUNNING' as const,
      started_at: '2026-12-06T00:00:01Z',
      ended_at: null,
      exit_code: null,
      message: null,
    };
    const running: Job = { ...pending, state: 'RUNNING', pending_reason: null, attempts: [attempt] };
    expect(changes(running, seen)).toEqual([
      '  attempt 1 task 0mxb17aqg-e1386189593d-1 TASK_RUNNING on host-1',
      'job 0mxb17aqg-e1386189593d RUNNING',
    ]);
    const failed: Job = {
      ...running,
      state: 'FAILED',
      status_reason: 'attempt 1 failed',
      attempts: [{ ...attempt, state: 'TASK_FAILED', exit_code: 3, message: 'Command exited with status 3' }],
    };
    expect(changes(failed, seen)).toEqual([
      '  attempt 1 task 0mxb17aqg-e1386189593d-1 TASK_FAILED on host-1 exit 3: Command exited with status 3',
      'job 0mxb17aqg-e1386189593d FAILED: attempt 1 failed',
    ]);
  });
});

describe('tables', () => {
  it('pads columns to the widest cell', () => {
    expect(table(['A', 'LONG'], [['xyz', '1']])).toEqual(['A    LONG', 'xyz  1']);
    expect(jobsTable([])).toEqual(['no jobs']);
    expect(jobsTable([job({ queue: 'gpu', priority: 3 })])).toEqual([
      'ID                      NAME  QUEUE  PRIORITY  STATE    CREATED                   REASON',
      '0mxb17aqg-e1386189593d  j     gpu    3         PENDING  2026-12-06T00:00:00.000Z',
    ]);
  });
});

describe('GET /jobs query', () => {
  it('defaults the limit to 100 and names each bad parameter', () => {
    const cursor = encodeCursor('2026-12-06T00:00:00.000Z#0mxb17aqg-e1386189593d');
    expect(parseListQuery({})).toEqual({ limit: 100 });
    expect(parseListQuery({ limit: '1000', queue: 'a/b', state: 'RUNNING', parent: 'x:1', next: cursor })).toEqual({
      limit: 1000,
      queue: 'a/b',
      state: 'RUNNING',
      parent: 'x:1',
      next: cursor,
    });
    expect(parseListQuery({ limit: '1e3' })).toMatch(/'limit'/);
    expect(parseListQuery({ limit: '' })).toMatch(/'limit'/);
    expect(parseListQuery({ state: 'running' })).toMatch(/'state'/);
    expect(parseListQuery({ queue: '' })).toMatch(/'queue'/);
    expect(parseListQuery({ next: '' })).toMatch(/'next'/);
    expect(parseListQuery({ next: 'garbage' })).toMatch(/'next'/);
  });
});
