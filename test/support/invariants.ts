/**
 * The registrar's invariants, checked from outside after a test has done its worst: every agent ledger
 * fits in its agent; every task a ledger holds exists and is not terminal; every live task on an active
 * agent is in that agent's ledger (no resources leaked, none double-counted).
 */
import type { Master } from '../../functions/master/master.js';
import type { AgentRecord, TaskRecord } from '../../functions/registrar/index.js';
import type { Resource } from '#shared/protocol/mesos.js';
import { taskKey } from '#shared/ids.js';
import { allocatedResources, ledgerViolation } from '../../functions/registrar/index.js';
import { isTerminal } from '#shared/tasks/state-machine.js';

export interface RegistrarSnapshot {
  readonly agents: AgentRecord[];
  readonly tasks: TaskRecord[];
}

export async function registrarSnapshot(master: Master): Promise<RegistrarSnapshot> {
  const agents: AgentRecord[] = [];
  for await (const agent of master.registrar.agents.list()) agents.push(agent);
  const tasks: TaskRecord[] = [];
  for await (const framework of master.registrar.frameworks.list()) {
    for await (const task of master.registrar.tasks.listByFramework(framework.frameworkId)) tasks.push(task);
  }
  return { agents, tasks };
}

/** What is wrong with the registrar; empty when its invariants hold. */
export async function registrarViolations(master: Master): Promise<string[]> {
  const { agents, tasks } = await registrarSnapshot(master);
  const problems: string[] = [];
  const byKey = new Map(tasks.map((task) => [taskKey(task.frameworkId, task.taskId), task]));
  const agentById = new Map(agents.map((agent) => [agent.agentId, agent]));
  for (const agent of agents) {
    const violation = ledgerViolation(agent);
    if (violation) problems.push(`agent ${agent.agentId}: ${violation}`);
    for (const key of Object.keys(agent.tasks)) {
      const task = byKey.get(key);
      if (!task) problems.push(`agent ${agent.agentId} holds resources for ${key}, which has no task record`);
      else if (isTerminal(task.state))
        problems.push(`agent ${agent.agentId} still holds ${key}, which is ${task.state}`);
      else if (task.agentId !== agent.agentId)
        problems.push(`agent ${agent.agentId} holds ${key}, which runs on ${task.agentId}`);
    }
  }
  for (const task of tasks) {
    if (isTerminal(task.state)) continue;
    const agent = agentById.get(task.agentId);
    if (agent?.status === 'ACTIVE' && !agent.tasks[taskKey(task.frameworkId, task.taskId)])
      problems.push(`task ${task.frameworkId}/${task.taskId} is ${task.state} but not in its agent's ledger`);
  }
  return problems;
}

/** Each agent's resources allocated to tasks (empty lists when the cluster is idle). */
export function allocatedByAgent(snapshot: RegistrarSnapshot): Record<string, Resource[]> {
  return Object.fromEntries(snapshot.agents.map((agent) => [agent.agentId, allocatedResources(agent)]));
}
