import { describe, expect, it } from 'vitest';
import { validateTaskId } from '#shared/ids.js';
import { scalarTotal } from '#shared/resources/resources.js';
import {
  arrayChildId,
  attemptTaskId,
  LIMITS,
  newJobId,
  parseJobSpec,
  parseQueueSpec,
  queueRole,
  scheduledRunId,
  type JobSpec,
} from '../../frameworks/jobs/model.js';

function spec(input: Record<string, unknown>): JobSpec {
  const parsed = parseJobSpec({ name: 'train', command: 'python train.py', ...input });
  if (!parsed.ok) throw new Error(parsed.error.message);
  return parsed.value;
}

function refusal(input: unknown): string {
  const parsed = parseJobSpec(input);
  if (parsed.ok) throw new Error('accepted');
  expect(parsed.error.code).toBe('INVALID_JOB');
  return parsed.error.message;
}

const base = { name: 'train', command: 'python train.py' };

describe('job spec', () => {
  it('fills in the defaults', () => {
    expect(spec({})).toEqual({
      name: 'train',
      queue: 'default',
      priority: 0,
      command: 'python train.py',
      docker_image: null,
      resources: [
        { name: 'cpus', type: 'SCALAR', scalar: { value: 1 } },
        { name: 'mem', type: 'SCALAR', scalar: { value: 128 } },
      ],
      env: {},
      retries: 0,
      retry_backoff_seconds: 0,
      timeout_seconds: null,
      array: null,
      depends_on: [],
      schedule: null,
      gang: null,
    });
  });

  it('takes resources as Mesos text or a Mesos resource list, with per-name defaults', () => {
    const text = spec({ resources: 'cpus:4;mem:8192;gpus:1' }).resources;
    expect([scalarTotal(text, 'cpus'), scalarTotal(text, 'mem'), scalarTotal(text, 'gpus')]).toEqual([4, 8192, 1]);
    const list = spec({ resources: [{ name: 'gpus', type: 'SCALAR', scalar: { value: 2 } }] }).resources;
    expect([scalarTotal(list, 'cpus'), scalarTotal(list, 'mem'), scalarTotal(list, 'gpus')]).toEqual([1, 128, 2]);
  });

  it('takes an array as {"size": N} or N, and a command-less job with an image', () => {
    expect(spec({ array: { size: 10 } }).array).toEqual({ size: 10 });
    expect(spec({ array: 10_000 }).array).toEqual({ size: 10_000 });
    const image = parseJobSpec({ name: 'x', docker_image: 'pytorch/pytorch:2.4.0-cuda12.1' });
    expect(image.ok && image.value.command).toBeNull();
  });

  it('defaults a dependency to succeeded, and takes schedules of both kinds', () => {
    expect(spec({ depends_on: [{ job: 'abc:1' }, { job: 'def', condition: 'finished' }] }).depends_on).toEqual([
      { job: 'abc:1', condition: 'succeeded' },
      { job: 'def', condition: 'finished' },
    ]);
    expect(spec({ schedule: '0 2 * * *' }).schedule).toBe('0 2 * * *');
    expect(spec({ schedule: 'R5/2026-12-06T00:00:00Z/PT30S' }).schedule).toBe('R5/2026-12-06T00:00:00Z/PT30S');
  });

  it.each<[string, unknown, string]>([
    ['not an object', 'train', 'expected object'],
    ['no name', { command: 'x' }, "field 'name'"],
    ['an empty name', { ...base, name: '' }, "field 'name'"],
    ['a long name', { ...base, name: 'n'.repeat(LIMITS.name + 1) }, "field 'name'"],
    ['a control character in the name', { ...base, name: 'a\nb' }, "field 'name': must not contain control"],
    ['no command and no image', { name: 'x' }, "field 'command': is required when there is no docker_image"],
    ['an unknown field', { ...base, retires: 3 }, "unknown field 'retires'"],
    ['queue *', { ...base, queue: '*' }, "field 'queue': Queue '*' is Mesos's default role"],
    ['a queue with a space', { ...base, queue: 'a b' }, "field 'queue'"],
    ['a queue starting with a dash', { ...base, queue: '-q' }, 'starts with a dash'],
    ['a queue with ..', { ...base, queue: 'a/..' }, "cannot include '..'"],
    ['a long queue', { ...base, queue: 'q'.repeat(LIMITS.queue + 1) }, 'longer than 128'],
    ['a fractional priority', { ...base, priority: 1.5 }, "field 'priority'"],
    ['a huge priority', { ...base, priority: 2_000_000 }, "field 'priority'"],
    ['a text priority', { ...base, priority: 'high' }, "field 'priority'"],
    ['an image with a space', { ...base, docker_image: 'a b' }, "field 'docker_image': must not contain whitespace"],
    ['non-scalar resources', { ...base, resources: 'ports:[1-2]' }, 'scalar resources only'],
    ['reserved resources', { ...base, resources: 'cpus(ml):1' }, 'plain unreserved scalar'],
    ['half a GPU', { ...base, resources: 'gpus:0.5' }, "'gpus' resource must be an unsigned integer"],
    ['bad resource text', { ...base, resources: 'cpus' }, "field 'resources': Failed to parse resource"],
    ['negative cpus', { ...base, resources: 'cpus:-1' }, "field 'resources'"],
    ['a bad resource list', { ...base, resources: [{ name: 'cpus' }] }, "field 'resources"],
    ['resources of the wrong type', { ...base, resources: 4 }, "field 'resources'"],
    ['a reserved variable', { ...base, env: { MANTLE_GANG_SIZE: '2' } }, "field 'env.MANTLE_GANG_SIZE'"],
    ['a Batch variable', { ...base, env: { AWS_BATCH_JOB_ID: 'x' } }, 'set by Mantle'],
    ['a bad variable name', { ...base, env: { '1A': 'x' } }, "field 'env.1A': is not a variable name"],
    ['a non-string variable', { ...base, env: { A: 1 } }, "field 'env.A'"],
    [
      'too many variables',
      { ...base, env: Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`V${i}`, ''])) },
      'at most 256 variables',
    ],
    [
      'a huge environment',
      { ...base, env: { A: 'x'.repeat(32_768), B: 'x'.repeat(32_768), C: 'x'.repeat(32_768), D: 'x'.repeat(32_768) } },
      'larger than',
    ],
    ['negative retries', { ...base, retries: -1 }, "field 'retries'"],
    ['too many retries', { ...base, retries: 101 }, "field 'retries'"],
    ['a long backoff', { ...base, retry_backoff_seconds: 86_401 }, "field 'retry_backoff_seconds'"],
    ['a zero timeout', { ...base, timeout_seconds: 0 }, "field 'timeout_seconds'"],
    ['an empty array', { ...base, array: 0 }, "field 'array'"],
    ['a huge array', { ...base, array: { size: 10_001 } }, "field 'array.size': Too big"],
    ['an array with other fields', { ...base, array: { size: 2, index: 1 } }, "unknown field 'index'"],
    ['a gang of 0', { ...base, gang: 0 }, "field 'gang'"],
    ['a huge gang', { ...base, gang: 257 }, "field 'gang'"],
    ['an array of gangs', { ...base, array: 2, gang: 2 }, "field 'gang': cannot be combined with array"],
    ['a bad dependency id', { ...base, depends_on: [{ job: 'a/b' }] }, "field 'depends_on[0].job'"],
    [
      'a bad condition',
      { ...base, depends_on: [{ job: 'a', condition: 'failed' }] },
      "field 'depends_on[0].condition'",
    ],
    ['a repeated dependency', { ...base, depends_on: [{ job: 'a' }, { job: 'a' }] }, 'names a job more than once'],
    [
      'too many dependencies',
      { ...base, depends_on: Array.from({ length: 101 }, (_, i) => ({ job: `j${i}` })) },
      "field 'depends_on'",
    ],
    ['a bad schedule', { ...base, schedule: '* * *' }, "field 'schedule': Invalid schedule '* * *'"],
    [
      'a scheduled dependant',
      { ...base, schedule: '@daily', depends_on: [{ job: 'a' }] },
      'cannot be combined with schedule',
    ],
  ])('refuses %s', (_case, input, message) => {
    expect(refusal(input)).toContain(message);
  });
});

describe('queue spec', () => {
  it('defaults to weight 1 and no quota', () => {
    expect(parseQueueSpec('gpu', {})).toEqual({
      ok: true,
      value: { weight: 1, quota: { guarantees: {}, limits: {} } },
    });
    expect(queueRole('eng/ml')).toBe('eng/ml');
  });

  it('takes a weight and a quota', () => {
    const parsed = parseQueueSpec('eng/ml', { weight: 2.5, quota: { guarantees: { gpus: 2 }, limits: { gpus: 8 } } });
    expect(parsed).toEqual({
      ok: true,
      value: { weight: 2.5, quota: { guarantees: { gpus: 2 }, limits: { gpus: 8 } } },
    });
  });

  it.each<[string, string, unknown, string]>([
    ['the default role', '*', {}, "Queue '*'"],
    ['a bad name', 'a b', {}, 'whitespace'],
    ['a zero weight', 'q', { weight: 0 }, "field 'weight'"],
    ['a negative quota', 'q', { quota: { limits: { cpus: -1 } } }, "field 'quota.limits.cpus'"],
    [
      'a guarantee above its limit',
      'q',
      { quota: { guarantees: { gpus: 4 }, limits: { gpus: 2 } } },
      'above the limit',
    ],
    ['an unknown field', 'q', { weigth: 2 }, "unknown field 'weigth'"],
  ])('refuses %s', (_case, name, input, message) => {
    const parsed = parseQueueSpec(name, input);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error.code).toBe('INVALID_QUEUE');
      expect(parsed.error.message).toContain(message);
    }
  });
});

describe('ids', () => {
  it('job ids sort by submission time and are valid task ids with every suffix', () => {
    const early = newJobId(Date.parse('2026-12-05T20:00:00Z'));
    const late = newJobId(Date.parse('2026-12-05T20:00:01Z'));
    expect(early < late).toBe(true);
    expect(newJobId(0)).not.toBe(newJobId(0));
    const run = scheduledRunId(early, Date.parse('2026-12-06T00:00:00Z'));
    expect(run).toBe(`${early}@20261206T000000Z`);
    const child = arrayChildId(run, 9_999);
    const deepest = attemptTaskId(child, 111, 255);
    expect(deepest).toBe(`${early}@20261206T000000Z:9999-111.255`);
    for (const id of [early, run, child, deepest, attemptTaskId(early, 1)]) expect(validateTaskId(id)).toBeUndefined();
    const parsed = parseJobSpec({ ...base, depends_on: [{ job: child }] });
    expect(parsed.ok).toBe(true);
  });
});
