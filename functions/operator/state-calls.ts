/** The cluster's state: GET_STATE, GET_AGENTS, GET_FRAMEWORKS, GET_EXECUTORS, GET_TASKS (state.ts builds them). */
import { z } from 'zod';
import { MAX_TASK_PAGE } from '../registrar/index.js';
import { MANTLE_VERSION } from '../scheduler/subscribe.js';
import { operatorCall } from './dispatch.js';
import { badRequest, respond } from './responses.js';
import { EVERYTHING, readSnapshot } from './snapshot.js';
import { getAgents, getExecutors, getFrameworks, getState, getTasks } from './state.js';

export const GET_STATE = operatorCall({
  type: 'GET_STATE',
  handle: async (master) => respond('GET_STATE', 'get_state', getState(await readSnapshot(master, EVERYTHING))),
});

export const GET_AGENTS = operatorCall({
  type: 'GET_AGENTS',
  handle: async (master) =>
    respond('GET_AGENTS', 'get_agents', getAgents(await readSnapshot(master, { agents: true }))),
});

export const GET_FRAMEWORKS = operatorCall({
  type: 'GET_FRAMEWORKS',
  handle: async (master) =>
    respond(
      'GET_FRAMEWORKS',
      'get_frameworks',
      getFrameworks(await readSnapshot(master, { agents: true, frameworks: true })),
    ),
});

export const GET_EXECUTORS = operatorCall({
  type: 'GET_EXECUTORS',
  handle: async (master) =>
    respond('GET_EXECUTORS', 'get_executors', getExecutors(await readSnapshot(master, { tasks: true }))),
});

/**
 * Mantle's extension of GET_TASKS (Mesos's Call has no `get_tasks`): with it, one page of the tasks
 * in the Response's shape plus `next_cursor`; without it, every task, as Mesos answers.
 */
const TaskPageSchema = z.object({
  limit: z.number().int().min(1).max(MAX_TASK_PAGE).default(100),
  cursor: z.string().min(1).optional(),
  framework_id: z.object({ value: z.string() }).optional(),
});

export const GET_TASKS = operatorCall<z.infer<typeof TaskPageSchema> | undefined>({
  type: 'GET_TASKS',
  field: 'get_tasks',
  payload: TaskPageSchema,
  optional: true,
  handle: async (master, call) => {
    if (!call.payload) {
      return respond('GET_TASKS', 'get_tasks', getTasks(await readSnapshot(master, { tasks: true })));
    }
    const { limit, cursor, framework_id: frameworkId } = call.payload;
    const page = await master.registrar.tasks.page({
      limit,
      ...(cursor !== undefined ? { cursor } : {}),
      ...(frameworkId ? { frameworkId: frameworkId.value } : {}),
    });
    if (!page.ok) return badRequest(page.error.message);
    const snapshot = { agents: [], frameworks: [], tasks: page.value.tasks, version: MANTLE_VERSION };
    return respond('GET_TASKS', 'get_tasks', {
      ...getTasks(snapshot),
      ...(page.value.next ? { next_cursor: page.value.next } : {}),
    });
  },
});
