/** The cluster's state: GET_STATE, GET_AGENTS, GET_FRAMEWORKS, GET_EXECUTORS, GET_TASKS (state.ts builds them). */
import { operatorCall } from './dispatch.js';
import { respond } from './responses.js';
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

export const GET_TASKS = operatorCall({
  type: 'GET_TASKS',
  handle: async (master) => respond('GET_TASKS', 'get_tasks', getTasks(await readSnapshot(master, { tasks: true }))),
});
