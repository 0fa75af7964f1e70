/**
 * Agents and the EC2 instances they run on. An agent on EC2 carries its instance id as the attribute
 * `instance_id` (the launch template's user data sets it), which ties the instance's fate to the
 * agent's: an instance that stops or terminates takes its agent with it at once, without waiting out
 * the ping timeout (agent_ping_timeout × max_agent_ping_timeouts) as Mesos would.
 */
import type { InstanceStates } from './ec2.js';
import type { AgentRecord } from '../registrar/index.js';
import { instanceIdOf } from './instance-id.js';
import { isPartitionAware } from '../master/statuses.js';
import { announceRescinds, notifyFramework } from '../master/lifecycle.js';
import { publishEvents, type Master } from '../master/master.js';
import { masterStatus } from '../master/statuses.js';

/**
 * The agents on an instance that are not gone (an agent that lost its checkpoint registers anew, so an
 * instance can carry an old record beside the current one). A scan: instance events are rare.
 */
export async function agentsOnInstance(master: Master, instanceId: string): Promise<AgentRecord[]> {
  const found: AgentRecord[] = [];
  for await (const agent of master.registrar.agents.list()) {
    if (agent.status !== 'GONE' && instanceIdOf(agent) === instanceId) found.push(agent);
  }
  return found;
}

/**
 * Marks an agent gone because its instance is (Mesos's agent removal): its offers are rescinded, its
 * tasks become TASK_GONE (TASK_LOST without PARTITION_AWARE) and give their resources back (its
 * executors' too), frameworks
 * get FAILURE if they had not already (an unreachable agent's), and its command queue is deleted.
 * An operator's MARK_AGENT_GONE (`byOperator`) makes them TASK_GONE_BY_OPERATOR, as in Mesos.
 * False when it was gone already.
 */
export async function markAgentGone(
  master: Master,
  agent: AgentRecord,
  why: string,
  options: { byOperator?: boolean } = {},
): Promise<boolean> {
  const result = await master.registrar.agents.markGone(agent.agentId);
  if (!result.ok) return false;
  const now = master.now();
  master.metrics.increment('master/slave_removals');
  master.logger.warn('Agent gone', { agentId: agent.agentId, hostname: agent.hostname, why });
  await announceRescinds(master, result.value.rescinded);
  const tasks = Object.values(result.value.agent.tasks);
  const state = options.byOperator ? 'TASK_GONE_BY_OPERATOR' : 'TASK_GONE';
  for (const task of tasks) {
    const framework = await master.registrar.frameworks.get(task.frameworkId);
    if (!framework) continue;
    const status = masterStatus(framework.info, {
      taskId: task.taskId,
      state,
      reason: options.byOperator ? 'REASON_AGENT_REMOVED_BY_OPERATOR' : 'REASON_AGENT_REMOVED',
      message: why,
      agentId: agent.agentId,
      now,
    });
    const applied = await master.registrar.tasks.updateStatus(task.frameworkId, { ...status, state });
    if (!applied.ok || applied.value.outcome !== 'applied') continue;
    // A framework without PARTITION_AWARE saw TASK_LOST when the agent became unreachable already.
    if (applied.value.previous === 'TASK_UNREACHABLE' && !isPartitionAware(framework.info)) continue;
    await notifyFramework(master, framework, [status]);
  }
  if (tasks.length > 0) {
    await master.registrar.agents.releaseTasks({
      agentId: agent.agentId,
      tasks: tasks.map((task) => ({ frameworkId: task.frameworkId, taskId: task.taskId })),
    });
  }
  const executors = Object.values(result.value.agent.executors);
  if (executors.length > 0) await master.registrar.agents.releaseExecutors({ agentId: agent.agentId, executors });
  if (agent.status === 'ACTIVE') {
    for await (const framework of master.registrar.frameworks.list()) {
      if (framework.status !== 'SUBSCRIBED' && framework.status !== 'DISCONNECTED') continue;
      await publishEvents(master, framework, [{ type: 'FAILURE', failure: { agent_id: { value: agent.agentId } } }]);
    }
  }
  if (agent.commandQueueUrl) await master.queues.remove(agent.commandQueueUrl);
  return true;
}

/** An instance stopped or terminated (EC2's state-change event): its agents are gone. */
export async function instanceLost(master: Master, instanceId: string, state: string): Promise<number> {
  let gone = 0;
  for (const agent of await agentsOnInstance(master, instanceId)) {
    if (await markAgentGone(master, agent, `Its EC2 instance ${instanceId} is ${state}`)) gone++;
  }
  return gone;
}

/**
 * The sweeper's check: agents that missed a heartbeat (silent for longer than the ping timeout) or are
 * unreachable, and run on EC2, are looked up in EC2 in one call; those whose instances are stopped,
 * terminated or no longer listed are marked gone at once. Returns how many.
 */
export async function markAgentsOfLostInstancesGone(
  master: Master,
  instances: InstanceStates,
  agents: Iterable<AgentRecord>,
  lastHeard: (agent: AgentRecord) => number = (agent) => agent.lastHeartbeat,
): Promise<number> {
  const silentSince = master.now() - master.config.agentPingTimeoutSeconds * 1000;
  const suspects = new Map<string, AgentRecord[]>();
  for (const agent of agents) {
    const silent = agent.status === 'UNREACHABLE' || (agent.status === 'ACTIVE' && lastHeard(agent) < silentSince);
    const instanceId = instanceIdOf(agent);
    if (!silent || instanceId === undefined) continue;
    suspects.set(instanceId, [...(suspects.get(instanceId) ?? []), agent]);
  }
  if (suspects.size === 0) return 0;
  const lost = await instances.lostInstances([...suspects.keys()]);
  let gone = 0;
  for (const [instanceId, state] of lost) {
    for (const agent of suspects.get(instanceId) ?? []) {
      if (await markAgentGone(master, agent, `Its EC2 instance ${instanceId} is ${state}`)) gone++;
    }
  }
  return gone;
}
