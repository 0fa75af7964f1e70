/** The pure parts of the Jobs framework's edges: task ids, exit codes, waits, the REQUEST demand, TaskInfos. */
import { describe, expect, it } from 'vitest';
import { exitCodeOf, parseTaskId } from '../../frameworks/jobs/attempts.js';
import { leafWait } from '../../frameworks/jobs/engine.js';
import { newJob } from '../../frameworks/jobs/lifecycle.js';
import { attemptTaskId, parseJobSpec, type Attempt, type Job } from '../../frameworks/jobs/model.js';
import { placementOffer, taskInfo } from '../../frameworks/jobs/offers.js';
import { pendingDemand } from '../../frameworks/jobs/ticker.js';

function job(spec: Record<string, unknown>, id = 'j1'): Job {
  const parsed = parseJobSpec({ name: 'n', command: 'true', ...spec });
  if (!parsed.ok) throw new Error(parsed.error.message);
  return newJob(parsed.value, { id, now: Date.parse('2026-12-06T00:00:00Z') });
}

function task(state: Attempt['state'], startedAt: string | null): Attempt {
  return {
    attempt: 1,
    gang_index: null,
    task_id: 'j1-1',
    agent_id: 'a',
    hostname: 'h',
    state,
    started_at: startedAt,
    ended_at: null,
    exit_code: null,
    message: null,
  };
}

describe('the Jobs framework edges', () => {
  it('reads task ids back into job, attempt and gang index', () => {
    for (const [id, n, g] of [
      ['0mxb-abc', 1, null],
      ['0mxb-abc:7', 12, 3],
      ['0mxb-abc@20261206T000000Z', 100000, null],
    ] as const) {
      expect(parseTaskId(attemptTaskId(id, n, g))).toEqual({ jobId: id, attempt: n, gangIndex: g });
    }
    expect(parseTaskId('no-number-here-x')).toBeUndefined();
    expect(exitCodeOf('Command exited with status 3')).toBe(3);
    expect(exitCodeOf('Command terminated with signal 9')).toBeUndefined();
  });

  it('waits: a launch check while unheard of, then the timeout, a kill once cancelled, a retry after backoff', () => {
    const now = Date.parse('2026-12-06T00:01:00Z');
    const running = { ...job({ timeout_seconds: 10 }), state: 'RUNNING' as const };
    expect(leafWait({ ...running, attempts: [task('TASK_STAGING', null)] }, null, now, 1000)).toEqual({
      kind: 'launch',
      until: now + 1000,
    });
    const started = { ...running, attempts: [task('TASK_RUNNING', '2026-12-06T00:00:55.000Z')] };
    expect(leafWait(started, null, now)).toEqual({ kind: 'timeout', until: Date.parse('2026-12-06T00:01:05Z') });
    const cancelled = { ...started, state: 'CANCELLED' as const };
    expect(leafWait(cancelled, null, now)).toEqual({ kind: 'kill', until: now });
    const retry = { ...job({}), retry_at: '2026-12-06T00:02:00.000Z' };
    expect(leafWait(retry, null, now)).toEqual({ kind: 'retry', until: Date.parse('2026-12-06T00:02:00Z') });
    expect(leafWait({ ...retry, retry_at: '2026-12-06T00:00:00.000Z' }, null, now)).toBeNull();
  });

  it('counts the pending tasks per resource shape (one task’s resources and a count), a gang of N counting N', () => {
    const stored = (spec: Record<string, unknown>, id: string) => ({ job: job(spec, id), wait: null, attemptCount: 0 });
    const requests = pendingDemand([
      stored({ resources: 'cpus:4;mem:1024;gpus:1' }, 'a'),
      stored({ resources: 'cpus:4;mem:1024;gpus:1', gang: 3 }, 'b'),
      stored({ resources: 'cpus:1;mem:128' }, 'c'),
    ]);
    const text = requests.map(
      (request) =>
        `${(request.resources ?? []).map((r) => `${r.name}:${r.scalar?.value ?? 0}`).join(';')} x${request.count}`,
    );
    expect(text.sort()).toEqual(['cpus:1;mem:128 x1', 'cpus:4;mem:1024;gpus:1 x4']);
    expect(pendingDemand([])).toEqual([]);
  });

  it('builds a gang member’s TaskInfo: the command in a shell, the environment, the offer’s resources', () => {
    const gang = job({ gang: 2, env: { A: 'b' }, docker_image: 'busybox' });
    const offer = placementOffer({
      id: { value: 'o1' },
      framework_id: { value: 'f' },
      agent_id: { value: 'agent-1' },
      hostname: 'h1',
      allocation_info: { role: 'default' },
      resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 1 } }],
    });
    expect(offer.role).toBe('default');
    const launch = { jobId: gang.id, gangIndex: 1, offerId: 'o1', agentId: 'agent-1', hostname: 'h1', resources: [] };
    const info = taskInfo(gang, 'j1-1.1', 1, launch, ['h0', 'h1']);
    expect(info.command).toMatchObject({ shell: true, value: 'true' });
    expect(info.container).toEqual({ type: 'DOCKER', docker: { image: 'busybox' } });
    const env = Object.fromEntries((info.command?.environment?.variables ?? []).map((v) => [v.name, v.value]));
    expect(env).toMatchObject({ A: 'b', MANTLE_GANG_SIZE: '2', MANTLE_GANG_INDEX: '1', MANTLE_GANG_HOSTS: 'h0,h1' });
  });
});
