/**
 * The sweeper (docs/architecture.md): the master's timers, run on a schedule (EventBridge in AWS, a
 * timer locally). Every step is idempotent and re-checks its condition in the registrar's conditional
 * write, so overlapping or interrupted sweeps are harmless. What happens to each agent is decided by
 * `planAgentSweep` (sweep-plan.ts, pure), then done.
 *
 * - Frameworks: reconnect grace, deactivation, failover_timeout (see lifecycle.ts).
 * - Agents silent past agent_ping_timeout × max_agent_ping_timeouts become unreachable: their offers
 *   are rescinded, their tasks become TASK_UNREACHABLE (TASK_LOST for frameworks without
 *   PARTITION_AWARE), REASON_AGENT_REMOVED, and every active framework gets a FAILURE event.
 * - Ledger entries held past launchTimeoutSeconds are settled by their task rows (planOverdueLaunch).
 *   One with no row of its own (the ACCEPT died, or its row write failed, after the ledger write) is
 *   recorded TASK_DROPPED first, so that its late row is refused, and its resources (and an executor
 *   charge only its unsent launch made) go back; the agent is told to kill the task in case the launch
 *   arrives late. A launch still TASK_STAGING is dropped the same way when a sibling of its launch had
 *   no row (rows all come before the launch command, so it was never sent); otherwise only the agent
 *   knows, so it is asked (RECONCILE, as Mesos's master asks a re-registered agent): it answers
 *   TASK_DROPPED for a task it does not have and refuses that launch if it arrives later, while a launch
 *   it did start is confirmed by its own updates, which may still be queued behind others (a backlog on
 *   the status queue is no sign of a lost launch).
 * - Offers past their offer timeout are rescinded.
 * - The TaskInfo leases of tasks running for a whole day more are renewed (TaskRegistry.renewInfos).
 * - In AWS, silent agents whose EC2 instance is stopped or terminated are marked gone at once.
 */
import { taskKey } from '#shared/ids.js';
import type { InstanceStates } from './ec2.js';
import {
  INFO_RENEWAL_MS,
  type AgentRecord,
  type AllocatedTask,
  type FrameworkRecord,
  type TaskRecord,
} from '../registrar/index.js';
import { markAgentsOfLostInstancesGone } from './instances.js';
import { infoRenewalsDue, planAgentSweep, planOverdueLaunch, unsentExecutors } from './sweep-plan.js';
import { announceRescinds, notifyFramework, rescindOffers, sweepFrameworks } from '../master/lifecycle.js';
import { publishEvents, sendAgentCommands, type Master } from '../master/master.js';
import { masterStatus } from '../master/statuses.js';

export interface SweepReport {
  readonly gone: number;
  readonly deactivated: number;
  readonly removed: number;
  readonly unreachable: number;
  readonly droppedLaunches: number;
  /** Ledger entries with no task record of their own launch, given back (see planOverdueLaunch). */
  readonly orphanedLaunches: number;
  /** Launches still TASK_STAGING past the launch timeout, asked about (RECONCILE). */
  readonly reconciledLaunches: number;
  readonly expiredOffers: number;
  /** TaskInfo leases renewed. */
  readonly renewedTaskInfos: number;
}

/** Reads each framework at most once per sweep. */
class Frameworks {
  private readonly cache = new Map<string, Promise<FrameworkRecord | undefined>>();
  constructor(private readonly master: Master) {}
  get(frameworkId: string): Promise<FrameworkRecord | undefined> {
    let found = this.cache.get(frameworkId);
    if (!found) {
      found = this.master.registrar.frameworks.get(frameworkId);
      this.cache.set(frameworkId, found);
    }
    return found;
  }
}

export interface SweepOptions {
  /** EC2, in AWS: silent agents whose instance is stopped or terminated are marked gone at once. */
  readonly instances?: InstanceStates;
}

export async function sweep(master: Master, options: SweepOptions = {}): Promise<SweepReport> {
  const started = master.now();
  const { deactivated, removed } = await sweepFrameworks(master);
  const frameworks = new Frameworks(master);
  const silentSince = master.now() - master.config.agentPingTimeoutSeconds * master.config.maxAgentPingTimeouts * 1000;
  let unreachable = 0;
  let droppedLaunches = 0;
  let orphanedLaunches = 0;
  let reconciledLaunches = 0;
  let expiredOffers = 0;
  const agents: AgentRecord[] = [];
  for await (const agent of master.registrar.agents.list()) agents.push(agent);
  const lastHeard = await lastHeardSince(master, silentSince);
  // Faster than Mesos: no need to wait out the ping timeout for an instance EC2 says is gone.
  const gone = options.instances
    ? await markAgentsOfLostInstancesGone(master, options.instances, agents, lastHeard)
    : 0;
  for (const listed of agents) {
    const agent = gone > 0 ? await master.registrar.agents.get(listed.agentId) : listed;
    const heard = agent ? lastHeard(agent) : 0;
    const plan = planAgentSweep(agent, heard, silentSince, master.now(), master.config.launchTimeoutSeconds);
    if (plan.kind === 'skip') continue;
    const current = agent as AgentRecord;
    if (plan.kind === 'unreachable') {
      if (await markAgentUnreachable(master, current, silentSince, plan.lastHeard, frameworks)) unreachable++;
      continue;
    }
    if (plan.expiredOffers.length > 0) expiredOffers += (await rescindOffers(master, plan.expiredOffers)).length;
    const settled = await settleOverdueLaunches(master, current, plan.overdueLaunches, frameworks);
    droppedLaunches += settled.dropped;
    orphanedLaunches += settled.orphaned;
    reconciledLaunches += settled.reconciled;
  }
  const renewedTaskInfos = await renewTaskInfos(master, agents);
  master.metrics.observe('master/sweep_ms', master.now() - started);
  return {
    gone,
    deactivated,
    removed,
    unreachable,
    droppedLaunches,
    orphanedLaunches,
    reconciledLaunches,
    expiredOffers,
    renewedTaskInfos,
  };
}

/**
 * Renews the TaskInfo leases that may be due. Not worth failing the sweep for: the next sweeps of the window look
 * again, and a lease outlasts two missed periods.
 */
async function renewTaskInfos(master: Master, agents: readonly AgentRecord[]): Promise<number> {
  const due = infoRenewalsDue(agents, master.now(), INFO_RENEWAL_MS);
  try {
    return await master.registrar.tasks.renewInfos(due);
  } catch (error) {
    master.metrics.increment('master/task_info_renewal_errors');
    master.logger.warn('Renewing TaskInfo leases failed; the next sweep tries again', {
      tasks: due.length,
      error: String(error),
    });
    return 0;
  }
}

/**
 * When each agent was last heard, as far back as `since`: its latest heartbeat in the log, or its
 * (re-)registration, whichever is later.
 */
export async function lastHeardSince(master: Master, since: number): Promise<(agent: AgentRecord) => number> {
  const heartbeats = await master.registrar.heartbeats.lastSeen(since);
  return (agent) => Math.max(agent.lastHeartbeat, heartbeats.get(agent.agentId) ?? 0);
}

/**
 * Marks a silent agent unreachable and tells the frameworks. False if it re-registered meanwhile; a
 * heartbeat that arrives after this asks the agent to re-register (functions/fleet/heartbeats.ts).
 */
export async function markAgentUnreachable(
  master: Master,
  agent: AgentRecord,
  heartbeatBefore: number,
  lastHeard: number,
  frameworks = new Frameworks(master),
): Promise<boolean> {
  const result = await master.registrar.agents.markUnreachable(agent.agentId, heartbeatBefore);
  if (!result.ok) return false;
  const now = master.now();
  master.metrics.increment('master/slave_unreachable_completed');
  master.logger.warn('Agent unreachable', {
    agentId: agent.agentId,
    hostname: agent.hostname,
    lastHeard,
  });
  await announceRescinds(master, result.value.rescinded);
  for (const task of Object.values(result.value.agent.tasks)) {
    const framework = await frameworks.get(task.frameworkId);
    if (!framework) continue;
    const status = masterStatus(framework.info, {
      taskId: task.taskId,
      state: 'TASK_UNREACHABLE',
      reason: 'REASON_AGENT_REMOVED',
      message: 'Agent is unreachable',
      agentId: agent.agentId,
      unreachableSince: now,
      now,
    });
    const applied = await master.registrar.tasks.updateStatus(task.frameworkId, {
      ...status,
      state: 'TASK_UNREACHABLE',
    });
    if (applied.ok && applied.value.outcome === 'applied') await notifyFramework(master, framework, [status]);
  }
  for await (const framework of master.registrar.frameworks.list()) {
    if (framework.status !== 'SUBSCRIBED' && framework.status !== 'DISCONNECTED') continue;
    await publishEvents(master, framework, [{ type: 'FAILURE', failure: { agent_id: { value: agent.agentId } } }]);
  }
  return true;
}

/** What settling an agent's overdue launches did. */
interface Settled {
  /** Launches left in TASK_STAGING, dropped. */
  dropped: number;
  /** Ledger entries without a row of their own launch (`orphan`, `superseded`), given back. */
  orphaned: number;
  /** Launches still TASK_STAGING that may have been sent, asked about (RECONCILE). */
  reconciled: number;
}

/** Settles the launches the ledger has held past the launch timeout, each by its task row (planOverdueLaunch). */
async function settleOverdueLaunches(
  master: Master,
  agent: AgentRecord,
  overdue: readonly AllocatedTask[],
  frameworks: Frameworks,
): Promise<Settled> {
  const settled: Settled = { dropped: 0, orphaned: 0, reconciled: 0 };
  // Launches some task of which had no row: their commands were never sent.
  const unsent = new Set<string>();
  const unconfirmed: AllocatedTask[] = [];
  // Every running task is overdue here, at each sweep: their rows in eventually consistent batch reads (half
  // the units of consistent reads, a call per 100). A row a second stale defers a decision to the next
  // sweep, or meets the conditional write of recordDropped; a launch's own finished row is final either way.
  const rows = await master.registrar.tasks.getMany(overdue, false);
  for (const task of overdue) {
    let plan = planOverdueLaunch(task, rows.get(taskKey(task.frameworkId, task.taskId)));
    if (plan === 'orphan') {
      const ended = await endOrphan(master, agent, task, frameworks);
      if (ended === 'released') {
        unsent.add(task.launchId);
        settled.orphaned++;
        continue;
      }
      // A row was written meanwhile: the launch's own (its ACCEPT was late), or another launch's.
      plan = planOverdueLaunch(task, ended);
    }
    if (plan === 'unconfirmed') unconfirmed.push(task);
    if (plan === 'ended') await releaseHeld(master, agent, task);
    if (plan === 'superseded') {
      await releaseHeld(master, agent, task, { kill: true });
      countOrphan(master, agent, task, 'superseded');
      settled.orphaned++;
    }
  }
  const staging: AllocatedTask[] = [];
  for (const task of unconfirmed) {
    if (!unsent.has(task.launchId)) staging.push(task);
    else if (await dropLaunch(master, agent, task, frameworks)) settled.dropped++;
  }
  if (staging.length > 0) {
    await sendAgentCommands(master, agent, [
      {
        type: 'RECONCILE',
        tasks: staging.map((task) => ({ framework_id: { value: task.frameworkId }, task_id: { value: task.taskId } })),
      },
    ]);
    master.logger.info('Launches not confirmed in time; the agent is asked', {
      agentId: agent.agentId,
      taskIds: staging.map((task) => task.taskId),
    });
    settled.reconciled = staging.length;
  }
  if (unsent.size > 0) await releaseUnsentExecutors(master, agent.agentId, unsent);
  return settled;
}

/**
 * Ends an orphaned launch: its TASK_DROPPED row first (TASK_LOST to a framework without PARTITION_AWARE,
 * REASON_RECONCILIATION as Mesos says of a task the agent does not know), written only while the task id
 * is free, so that a late row of the launch is refused; then the framework is told, and the resources
 * go back. 'released', or the row written meanwhile that kept the drop from being recorded. A framework
 * gone has no one to tell and no ACCEPT to come late: its entry is only released.
 */
async function endOrphan(
  master: Master,
  agent: AgentRecord,
  task: AllocatedTask,
  frameworks: Frameworks,
): Promise<'released' | TaskRecord | undefined> {
  const framework = await frameworks.get(task.frameworkId);
  if (framework) {
    const status = masterStatus(framework.info, {
      taskId: task.taskId,
      state: 'TASK_DROPPED',
      reason: 'REASON_RECONCILIATION',
      message: 'The launch was never sent: the master failed between the ledger write and the task record',
      agentId: agent.agentId,
      now: master.now(),
    });
    const recorded = await master.registrar.tasks.recordDropped(task.taskId, {
      frameworkId: task.frameworkId,
      agentId: agent.agentId,
      role: task.role,
      resources: task.resources,
      launchId: task.launchId,
      status: { ...status, state: 'TASK_DROPPED' },
    });
    if (!recorded.written) return recorded.row;
    await notifyFramework(master, framework, [status]);
    master.metrics.increment('master/task_dropped/source_master/reason_reconciliation');
  }
  await releaseHeld(master, agent, task, { kill: true });
  countOrphan(master, agent, task, 'orphan');
  return 'released';
}

function countOrphan(master: Master, agent: AgentRecord, task: AllocatedTask, kind: 'orphan' | 'superseded'): void {
  master.metrics.increment('master/launches_orphaned');
  master.logger.warn('Ledger entry without a task record released', {
    kind,
    agentId: agent.agentId,
    frameworkId: task.frameworkId,
    taskId: task.taskId,
    launchId: task.launchId,
  });
}

/** The task's resources back; with `kill`, the agent is told to kill it in case its launch arrives late. */
async function releaseHeld(
  master: Master,
  agent: AgentRecord,
  task: AllocatedTask,
  options: { kill?: boolean } = {},
): Promise<boolean> {
  const released = await master.registrar.agents.releaseTasks({
    agentId: agent.agentId,
    // This launch's entry only: the task id may have been launched again on this agent meanwhile.
    tasks: [{ frameworkId: task.frameworkId, taskId: task.taskId, launchId: task.launchId }],
  });
  if (options.kill) {
    await sendAgentCommands(master, agent, [
      { type: 'KILL', framework_id: { value: task.frameworkId }, task_id: { value: task.taskId } },
    ]);
  }
  if (!released.ok || released.value.released.length === 0) return false;
  await master.allocation.request({ reason: 'RESOURCES_RECOVERED', agentIds: [agent.agentId] });
  return true;
}

/** The custom executors only launches never sent charged, once none of their tasks is left. */
async function releaseUnsentExecutors(master: Master, agentId: string, unsent: ReadonlySet<string>): Promise<void> {
  const agent = await master.registrar.agents.get(agentId);
  const executors = agent ? unsentExecutors(agent, unsent) : [];
  if (executors.length === 0) return;
  const released = await master.registrar.agents.releaseExecutors({ agentId, executors });
  if (released.ok && released.value.released.length > 0) {
    await master.allocation.request({ reason: 'RESOURCES_RECOVERED', agentIds: [agentId] });
  }
}

async function dropLaunch(
  master: Master,
  agent: AgentRecord,
  task: AllocatedTask,
  frameworks: Frameworks,
): Promise<boolean> {
  const framework = await frameworks.get(task.frameworkId);
  const now = master.now();
  if (framework) {
    const status = masterStatus(framework.info, {
      taskId: task.taskId,
      state: 'TASK_DROPPED',
      reason: 'REASON_AGENT_DISCONNECTED',
      message: 'The launch was never sent: its ACCEPT failed before the launch command',
      agentId: agent.agentId,
      now,
    });
    await master.registrar.tasks.updateStatus(task.frameworkId, { ...status, state: 'TASK_DROPPED' });
    await notifyFramework(master, framework, [status]);
  }
  // If the launch command is merely late, the agent must not start it now.
  const released = await releaseHeld(master, agent, task, { kill: true });
  master.logger.warn('Launch not confirmed; dropped', {
    agentId: agent.agentId,
    frameworkId: task.frameworkId,
    taskId: task.taskId,
  });
  return released;
}
