/**
 * The status pipeline's and the sweeper's decisions without I/O (planStatusUpdate, planAgentSweep,
 * planOverdueLaunch, unsentExecutors, infoRenewalsDue).
 * Done over the registrar and the queues they are in test/contract/scheduler-calls.test.ts and
 * test/contract/sweeper.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { AgentMessage } from '#shared/protocol/internal.js';
import type { TaskState } from '#shared/protocol/mesos.js';
import { failure, ok } from '#shared/result.js';
import type {
  AgentRecord,
  AllocatedExecutor,
  AllocatedTask,
  FrameworkRecord,
  TaskRecord,
} from '../../functions/registrar/index.js';
import { planStatusUpdate, QUEUE_RESEND_AFTER_MS } from '../../functions/master/status-plan.js';
import {
  INFO_RENEWAL_WINDOW_MS,
  infoRenewalsDue,
  planAgentSweep,
  planOverdueLaunch,
  unsentExecutors,
} from '../../functions/fleet/sweep-plan.js';

const update = (state: TaskState, uuid = 'dXVpZA==') =>
  ({
    type: 'STATUS_UPDATE',
    agent_id: { value: 'a1' },
    framework_id: { value: 'fw-1' },
    status: { task_id: { value: 't1' }, state, uuid },
  }) as Extract<AgentMessage, { type: 'STATUS_UPDATE' }>;

const task = (state: TaskState, extra: Partial<TaskRecord> = {}) =>
  ({ frameworkId: 'fw-1', taskId: 't1', agentId: 'a1', state, acknowledged: false, ...extra }) as TaskRecord;

const framework = {
  frameworkId: 'fw-1',
  info: { user: 'u', name: 'f' },
  status: 'SUBSCRIBED',
  eventQueueUrl: 'q',
} as unknown as FrameworkRecord;

const NOW = 1_000_000;

describe('planStatusUpdate', () => {
  it('forwards an applied update (TASK_LOST for a framework without PARTITION_AWARE) and frees a terminal task', () => {
    const plan = planStatusUpdate(
      update('TASK_UNREACHABLE'),
      ok({ outcome: 'applied', task: task('TASK_UNREACHABLE'), previous: 'TASK_RUNNING', becameTerminal: false }),
      framework,
      NOW,
    );
    expect(plan.reply).toMatchObject({ kind: 'forward', status: { state: 'TASK_LOST', agent_id: { value: 'a1' } } });
    expect(plan.release).toBeUndefined();
    expect(plan.counters).toEqual(['master/valid_status_updates', 'master/task_updates/TASK_UNREACHABLE']);

    const finished = planStatusUpdate(
      update('TASK_FINISHED'),
      ok({ outcome: 'applied', task: task('TASK_FINISHED'), previous: 'TASK_RUNNING', becameTerminal: true }),
      framework,
      NOW,
    );
    expect(finished.release).toEqual({ agentId: 'a1', frameworkId: 'fw-1', taskId: 't1' });
  });

  it('acknowledges to the agent what no framework will: refused updates, gone frameworks, acknowledged ends', () => {
    const refused = planStatusUpdate(update('TASK_RUNNING'), failure('UNKNOWN_TASK', 'no such task'), framework, NOW);
    expect(refused).toMatchObject({ reply: { kind: 'acknowledge' }, refused: { code: 'UNKNOWN_TASK' } });
    const applied = ok({
      outcome: 'applied' as const,
      task: task('TASK_RUNNING'),
      previous: 'TASK_STAGING' as const,
      becameTerminal: false,
    });
    expect(planStatusUpdate(update('TASK_RUNNING'), applied, undefined, NOW).reply.kind).toBe('acknowledge');
    expect(planStatusUpdate(update('TASK_RUNNING'), applied, { ...framework, status: 'REMOVED' }, NOW).reply.kind).toBe(
      'acknowledge',
    );
    const again = planStatusUpdate(
      update('TASK_FINISHED'),
      ok({
        outcome: 'duplicate',
        task: task('TASK_FINISHED', { acknowledged: true, status: update('TASK_FINISHED').status }),
      }),
      framework,
      NOW,
    );
    expect(again.reply.kind).toBe('acknowledge');
  });

  it('does not show an older update again', () => {
    const older = planStatusUpdate(
      update('TASK_RUNNING', 'b2xk'),
      ok({ outcome: 'duplicate', task: task('TASK_FINISHED', { status: update('TASK_FINISHED').status }) }),
      framework,
      NOW,
    );
    expect(older.reply.kind).toBe('none');
  });

  it('frees a task whose agent says it ended (latest_state) while an earlier update waits, and shows that update', () => {
    const running = { ...update('TASK_RUNNING'), latest_state: 'TASK_FINISHED' as const };
    const plan = planStatusUpdate(
      running,
      ok({ outcome: 'duplicate', task: task('TASK_RUNNING', { status: running.status, updatedAt: 0 }) }),
      framework,
      NOW,
    );
    expect(plan.release).toEqual({ agentId: 'a1', frameworkId: 'fw-1', taskId: 't1' });
    expect(plan.reply).toMatchObject({ kind: 'forward', status: { state: 'TASK_RUNNING' } });
  });

  it("forwards an agent's resent update again only once the first copy is old: 5 s for a stream, 60 s for a queue", () => {
    const running = update('TASK_RUNNING');
    const resent = (updatedAt: number) =>
      ok({ outcome: 'duplicate' as const, task: task('TASK_RUNNING', { status: running.status, updatedAt }) });
    const queue = { ...framework, delivery: 'queue' } as FrameworkRecord;
    expect(planStatusUpdate(running, resent(NOW - 10_000), framework, NOW).reply.kind).toBe('forward');
    expect(planStatusUpdate(running, resent(NOW - 100), framework, NOW).reply.kind).toBe('none');
    expect(planStatusUpdate(running, resent(NOW - 10_000), queue, NOW).reply.kind).toBe('none');
    expect(planStatusUpdate(running, resent(NOW - QUEUE_RESEND_AFTER_MS), queue, NOW).reply.kind).toBe('forward');
  });
});

describe('planAgentSweep', () => {
  const agent = {
    agentId: 'a1',
    status: 'ACTIVE',
    offers: {
      old: { offerId: 'old', expiresAt: 100 },
      fresh: { offerId: 'fresh', expiresAt: 10_000 },
      forever: { offerId: 'forever' },
    },
    tasks: {
      'fw-1/late': { taskId: 'late', launchedAt: 0 },
      'fw-1/recent': { taskId: 'recent', launchedAt: 900 },
    },
  } as unknown as AgentRecord;

  it('skips agents that are not active, marks silent ones unreachable, and tends the others', () => {
    expect(planAgentSweep(undefined, 0, 0, 1000, 0.5)).toEqual({ kind: 'skip' });
    expect(planAgentSweep({ ...agent, status: 'UNREACHABLE' }, 0, 0, 1000, 0.5)).toEqual({ kind: 'skip' });
    expect(planAgentSweep(agent, 10, 500, 1000, 0.5)).toEqual({ kind: 'unreachable', lastHeard: 10 });
    const tend = planAgentSweep(agent, 600, 500, 1000, 0.5);
    expect(tend.kind).toBe('tend');
    if (tend.kind !== 'tend') return;
    expect(tend.expiredOffers.map((offer) => offer.offerId)).toEqual(['old']);
    expect(tend.overdueLaunches.map((task) => task.taskId)).toEqual(['late']);
  });
});

describe('planOverdueLaunch', () => {
  const held = { frameworkId: 'fw-1', taskId: 't1', launchId: 'L1' } as AllocatedTask;

  it('settles an entry by the row of its own launch: confirmed, unconfirmed (STAGING) or ended', () => {
    expect(planOverdueLaunch(held, task('TASK_RUNNING', { launchId: 'L1' }))).toBe('confirmed');
    expect(planOverdueLaunch(held, task('TASK_UNREACHABLE', { launchId: 'L1' }))).toBe('confirmed');
    expect(planOverdueLaunch(held, task('TASK_STAGING', { launchId: 'L1' }))).toBe('unconfirmed');
    expect(planOverdueLaunch(held, task('TASK_FINISHED', { launchId: 'L1' }))).toBe('ended');
    expect(planOverdueLaunch(held, task('TASK_DROPPED', { launchId: 'L1' }))).toBe('ended');
  });

  it('finds an entry with no row of its own an orphan, or superseded when another launch holds the task id', () => {
    expect(planOverdueLaunch(held, undefined)).toBe('orphan');
    expect(planOverdueLaunch(held, task('TASK_FINISHED', { launchId: 'L0' }))).toBe('orphan');
    expect(planOverdueLaunch(held, task('TASK_STAGING', { launchId: 'L2' }))).toBe('superseded');
    expect(planOverdueLaunch(held, task('TASK_RUNNING', { launchId: 'L2' }))).toBe('superseded');
  });
});

describe('unsentExecutors', () => {
  const executor = (executorId: string, launchId: string, kind: 'CUSTOM' | 'DEFAULT' = 'CUSTOM') =>
    ({ frameworkId: 'fw-1', executorId, launchId, kind }) as AllocatedExecutor;
  const agent = {
    agentId: 'a1',
    tasks: { 'fw-1/t9': { frameworkId: 'fw-1', taskId: 't9', executorId: 'busy' } },
    executors: {
      'fw-1/idle': executor('idle', 'L1'),
      'fw-1/busy': executor('busy', 'L1'),
      'fw-1/sent': executor('sent', 'L2'),
      'fw-1/group': executor('group', 'L1', 'DEFAULT'),
    },
  } as unknown as AgentRecord;

  it('names the custom executors only unsent launches charged, once none of their tasks is held', () => {
    expect(unsentExecutors(agent, new Set(['L1'])).map((e) => e.executorId)).toEqual(['idle']);
    expect(unsentExecutors(agent, new Set())).toEqual([]);
  });
});

describe('infoRenewalsDue', () => {
  const DAY = 86_400_000;
  const agent = (agentId: string, status: string, launchedAt: Record<string, number>) =>
    ({
      agentId,
      status,
      tasks: Object.fromEntries(
        Object.entries(launchedAt).map(([taskId, at]) => [`fw-1/${taskId}`, { taskId, launchedAt: at }]),
      ),
    }) as unknown as AgentRecord;

  it('names the tasks whose age passed a whole period within the window, on any agent that is not gone', () => {
    const now = 10 * DAY;
    const agents = [
      agent('a1', 'ACTIVE', {
        young: now - DAY + 1,
        'just-a-day': now - DAY,
        'end-of-window': now - DAY - INFO_RENEWAL_WINDOW_MS + 1,
        'past-window': now - DAY - INFO_RENEWAL_WINDOW_MS,
        'three-days': now - 3 * DAY - 60_000,
      }),
      agent('a2', 'UNREACHABLE', { unreachable: now - 2 * DAY }),
      agent('a3', 'GONE', { gone: now - 2 * DAY }),
    ];
    expect(infoRenewalsDue(agents, now, DAY).map((task) => task.taskId)).toEqual([
      'just-a-day',
      'end-of-window',
      'three-days',
      'unreachable',
    ]);
    expect(infoRenewalsDue([], now, DAY)).toEqual([]);
  });
});
