/**
 * What a sweep does with one agent (the sweeper's decision, pure): skip it, mark it unreachable, or
 * tend it — rescind its expired offers and settle the launches its ledger has held past the launch
 * timeout, each by its task row. Also which tasks' TaskInfo leases are due for renewal. sweeper.ts does it.
 */
import { taskKey } from '#shared/ids.js';
import { isTerminal } from '#shared/tasks/state-machine.js';
import type { AgentRecord, AllocatedExecutor, AllocatedTask, OfferRecord, TaskRecord } from '../registrar/index.js';

/**
 * How long after each whole renewal period of a task's age the sweeps look at its TaskInfo's lease: fifteen
 * one-minute sweeps, so that a few failed or late ones miss nothing (each look is half a read unit).
 */
export const INFO_RENEWAL_WINDOW_MS = 15 * 60 * 1000;

/** What a sweep does with one agent, decided from its record and when it was last heard. */
export type AgentSweep =
  | { readonly kind: 'skip' }
  /** Silent past the ping timeouts: it becomes unreachable. */
  | { readonly kind: 'unreachable'; readonly lastHeard: number }
  /** Alive: its expired offers are rescinded, and its launches not confirmed in time are checked. */
  | { readonly kind: 'tend'; readonly expiredOffers: OfferRecord[]; readonly overdueLaunches: AllocatedTask[] };

/**
 * Decides the sweep of one agent (pure): `silentSince` is when an agent last heard before is silent,
 * `launchTimeoutSeconds` how long a launch may stay unconfirmed.
 */
export function planAgentSweep(
  agent: AgentRecord | undefined,
  lastHeard: number,
  silentSince: number,
  now: number,
  launchTimeoutSeconds: number,
): AgentSweep {
  if (agent?.status !== 'ACTIVE') return { kind: 'skip' };
  if (lastHeard < silentSince) return { kind: 'unreachable', lastHeard };
  const launchDeadline = now - launchTimeoutSeconds * 1000;
  return {
    kind: 'tend',
    expiredOffers: Object.values(agent.offers).filter(
      (offer) => offer.expiresAt !== undefined && offer.expiresAt <= now,
    ),
    overdueLaunches: Object.values(agent.tasks).filter((task) => task.launchedAt <= launchDeadline),
  };
}

/**
 * What becomes of a ledger entry held past the launch timeout, by the task row (pure). An ACCEPT sends
 * its launch commands only once each of its rows is written, so an entry with no row of its own launch
 * is a launch the agent never received: the ACCEPT died, or its row write failed, after the ledger write.
 *
 * - `confirmed`: the agent reported the task; nothing to do.
 * - `unconfirmed`: its row is still TASK_STAGING; dropped, and the agent told to kill it.
 * - `ended`: its row is terminal and the release that follows was lost; its resources go back.
 * - `orphan`: no row of its own, the task id free; its drop is recorded (a late row of the launch is
 *   then refused), the framework told, its resources go back.
 * - `superseded`: no row of its own, the task id active under another launch (the framework launched
 *   it again elsewhere); its resources go back, the framework is not told (the row is the other's).
 */
export type OverdueLaunch = 'confirmed' | 'unconfirmed' | 'ended' | 'orphan' | 'superseded';

export function planOverdueLaunch(task: AllocatedTask, row: TaskRecord | undefined): OverdueLaunch {
  if (row?.launchId === task.launchId) {
    if (row.state === 'TASK_STAGING') return 'unconfirmed';
    return isTerminal(row.state) ? 'ended' : 'confirmed';
  }
  return row && !isTerminal(row.state) ? 'superseded' : 'orphan';
}

/**
 * The custom executors charged by launches that were never sent (`unsent`, launch ids) that no task
 * of the ledger names any more: never started, so no EXECUTOR_EXITED will give them back. (A DEFAULT
 * executor goes with its last task already.)
 */
export function unsentExecutors(agent: AgentRecord, unsent: ReadonlySet<string>): AllocatedExecutor[] {
  const named = new Set(
    Object.values(agent.tasks).flatMap((task) =>
      task.executorId === undefined ? [] : [taskKey(task.frameworkId, task.executorId)],
    ),
  );
  return Object.entries(agent.executors)
    .filter(([key, executor]) => executor.kind === 'CUSTOM' && unsent.has(executor.launchId) && !named.has(key))
    .map(([, executor]) => executor);
}

/**
 * The ledger's tasks whose TaskInfo lease may be due (pure): those whose age passed a whole renewal period
 * (`periodMs`, the registrar's INFO_RENEWAL_MS) within the last INFO_RENEWAL_WINDOW_MS. Whether it is due is the registrar's to see (TaskRegistry.renewInfos), so only
 * a running task's sweeps in that window read it; one that ended within its first period is never looked at.
 */
export function infoRenewalsDue(agents: readonly AgentRecord[], now: number, periodMs: number): AllocatedTask[] {
  return agents.flatMap((agent) =>
    agent.status === 'GONE'
      ? []
      : Object.values(agent.tasks).filter((task) => {
          const age = now - task.launchedAt;
          return age >= periodMs && age % periodMs < INFO_RENEWAL_WINDOW_MS;
        }),
  );
}
