/**
 * Mesos `Response.GetState` from the registrar, for SUBSCRIBED: tasks (those done with and acknowledged as
 * `completed_tasks`), executors (Mantle's tasks run under the agents' built-in executors: none to list),
 * frameworks (removed ones as `completed_frameworks`) and agents (gone ones left out).
 */
import type { Master } from '../master/master.js';
import type { TaskRecord } from '../registrar/index.js';
import { MANTLE_VERSION } from '../scheduler/subscribe.js';
import { agentJson, frameworkJson, taskJson } from './event-shapes.js';

export async function stateOf(master: Pick<Master, 'registrar'>): Promise<Record<string, unknown>> {
  const { registrar } = master;
  const frameworks = [];
  for await (const framework of registrar.frameworks.list()) frameworks.push(framework);
  const agents = [];
  for await (const agent of registrar.agents.list()) if (agent.status !== 'GONE') agents.push(agent);
  const tasks: TaskRecord[] = [];
  for (const framework of frameworks) {
    for await (const task of registrar.tasks.listByFramework(framework.frameworkId)) tasks.push(task);
  }
  const done = (task: TaskRecord): boolean => task.acknowledged;
  return {
    get_tasks: {
      pending_tasks: [],
      tasks: tasks.filter((task) => !done(task)).map((task) => taskJson(task)),
      completed_tasks: tasks.filter(done).map((task) => taskJson(task)),
    },
    get_executors: { executors: [] },
    get_frameworks: {
      frameworks: frameworks.filter((f) => f.status !== 'REMOVED').map(frameworkJson),
      completed_frameworks: frameworks.filter((f) => f.status === 'REMOVED').map(frameworkJson),
    },
    get_agents: { agents: agents.map((agent) => agentJson(agent, MANTLE_VERSION)) },
  };
}
