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
 * - Launches the agent has not confirmed within launchTimeoutSeconds: one with no task row was never sent
 *   (the master died between the ledger write and the task row, which comes before the launch command)
 *   and ends TASK_DROPPED / TASK_LOST here, giving its resources back; for one still TASK_STAGING only
 *   the agent knows, so it is asked (RECONCILE, Mesos's master asks a re-registered agent the same way):
 *   it answers TASK_DROPPED for a task it does not have and refuses that launch if it arrives later,
 *   while a launch it did start is confirmed by its own updates, which may still be queued behind
 *   others (a backlog on the status queue is no sign of a lost launch).
 * - Offers past their offer timeout are rescinded.
 * - In AWS, silent agents whose EC2 instance is stopped or terminated are marked gone at once.
 */
import type { InstanceStates } from './ec2.js';
import type { AgentRecord, AllocatedTask, FrameworkRecord } from '../registrar/index.js';
import { markAgentsOfLostInstancesGone } from './instances.js';
import { planAgentSweep } from './sweep-plan.js';
import { announceRescinds, notifyFramework, rescindOffers, sweepFrameworks } from '../master/lifecycle.js';
import { publishEvents, sendAgentCommands, type Master } from '../master/master.js';
import { masterStatus } from '../master/statuses.js';

export interface SweepReport {
  readonly gone: number;
  readonly deactivated: number;
  readonly removed: number;
  readonly unreachable: number;
  readonly droppedLaunches: number;
  /** Launches still TASK_STAGING past the launch timeout, asked about (RECONCILE). */
  readonly reconciledLaunches: number;
  readonly expiredOffers: number;
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
    const launches = await checkUnconfirmedLaunches(master, current, plan.overdueLaunches, frameworks);
    droppedLaunches += launches.dropped;
    reconciledLaunches += launches.reconciled;
  }
  master.metrics.observe('master/sweep_ms', master.now() - started);
  return { gone, deactivated, removed, unreachable, droppedLaunches, reconciledLaunches, expiredOffers };
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

/**
 * The overdue launches the agent has not confirmed: those without a task row (never sent) are dropped, and the
 * agent is asked about those still TASK_STAGING, in one RECONCILE.
 */
async function checkUnconfirmedLaunches(
  master: Master,
  agent: AgentRecord,
  overdue: readonly AllocatedTask[],
  frameworks: Frameworks,
): Promise<{ dropped: number; reconciled: number }> {
  let dropped = 0;
  const staging: AllocatedTask[] = [];
  for (const task of overdue) {
    const row = await master.registrar.tasks.get(task.frameworkId, task.taskId);
    // The row is missing when the master died between the ledger write and the task row.
    if (!row) {
      if (await dropLaunch(master, agent, task, frameworks)) dropped++;
    } else if (row.launchId === task.launchId && row.state === 'TASK_STAGING') staging.push(task);
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
  }
  return { dropped, reconciled: staging.length };
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
      message: `The launch was never sent (no task row ${master.config.launchTimeoutSeconds} s after the ledger write)`,
      agentId: agent.agentId,
      now,
    });
    await master.registrar.tasks.updateStatus(task.frameworkId, { ...status, state: 'TASK_DROPPED' });
    await notifyFramework(master, framework, [status]);
  }
  const released = await master.registrar.agents.releaseTasks({
    agentId: agent.agentId,
    tasks: [{ frameworkId: task.frameworkId, taskId: task.taskId }],
  });
  // If the launch command is merely late, the agent must not start it now.
  await sendAgentCommands(master, agent, [
    { type: 'KILL', framework_id: { value: task.frameworkId }, task_id: { value: task.taskId } },
  ]);
  master.logger.warn('Launch not confirmed; dropped', {
    agentId: agent.agentId,
    frameworkId: task.frameworkId,
    taskId: task.taskId,
  });
  if (released.ok && released.value.released.length > 0) {
    await master.allocation.request({ reason: 'RESOURCES_RECOVERED', agentIds: [agent.agentId] });
    return true;
  }
  return false;
}
