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
 * - Launches the agent never confirmed (no status within launchTimeoutSeconds, e.g. because the master
 *   died between the ledger write and the launch command) end TASK_DROPPED / TASK_LOST and give their
 *   resources back; the agent is told to kill the task in case the launch arrives late.
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
    droppedLaunches += await dropUnconfirmedLaunches(master, current, plan.overdueLaunches, frameworks);
  }
  master.metrics.observe('master/sweep_ms', master.now() - started);
  return { gone, deactivated, removed, unreachable, droppedLaunches, expiredOffers };
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

/** Drops the overdue launches that the agent never confirmed (their task rows still STAGING, or none). */
async function dropUnconfirmedLaunches(
  master: Master,
  agent: AgentRecord,
  overdue: readonly AllocatedTask[],
  frameworks: Frameworks,
): Promise<number> {
  let dropped = 0;
  for (const task of overdue) {
    const row = await master.registrar.tasks.get(task.frameworkId, task.taskId);
    // The row is missing when the master died between the ledger write and the task row.
    if (row && (row.launchId !== task.launchId || row.state !== 'TASK_STAGING')) continue;
    if (await dropLaunch(master, agent, task, frameworks)) dropped++;
  }
  return dropped;
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
      message: `The agent did not confirm the launch within ${master.config.launchTimeoutSeconds} s`,
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
