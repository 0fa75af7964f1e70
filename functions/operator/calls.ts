/**
 * Every operator call Mantle answers, by type (dispatch.ts explains a spec). Each room's calls are
 * listed as one group, so calls added by different changes land on different lines.
 */
import { DEACTIVATE_AGENT, DRAIN_AGENT, MARK_AGENT_GONE, REACTIVATE_AGENT, TEARDOWN } from './agent-calls.js';
import { callTable, type OperatorCallTable } from './dispatch.js';
import { GET_PENDING_REASONS } from './pending-calls.js';
import {
  GET_FLAGS,
  GET_HEALTH,
  GET_LOGGING_LEVEL,
  GET_MASTER,
  GET_METRICS,
  GET_VERSION,
  SET_LOGGING_LEVEL,
} from './master-calls.js';
import { MAINTENANCE_CALLS } from './maintenance-calls.js';
import { RESERVATION_CALLS } from './reservation-calls.js';
import { GET_QUOTA, GET_ROLES, GET_WEIGHTS, UPDATE_QUOTA, UPDATE_WEIGHTS } from './role-calls.js';
import { GET_AGENTS, GET_EXECUTORS, GET_FRAMEWORKS, GET_STATE, GET_TASKS } from './state-calls.js';
import { SUBSCRIBE } from './stream-calls.js';

const MASTER_CALLS = [
  GET_HEALTH,
  GET_VERSION,
  GET_FLAGS,
  GET_MASTER,
  GET_METRICS,
  GET_LOGGING_LEVEL,
  SET_LOGGING_LEVEL,
];
const STATE_CALLS = [GET_STATE, GET_AGENTS, GET_FRAMEWORKS, GET_EXECUTORS, GET_TASKS];
const ROLE_CALLS = [GET_ROLES, GET_WEIGHTS, UPDATE_WEIGHTS, GET_QUOTA, UPDATE_QUOTA];
const AGENT_CALLS = [DRAIN_AGENT, DEACTIVATE_AGENT, REACTIVATE_AGENT, MARK_AGENT_GONE, TEARDOWN];
// Reservations and persistent volumes made by an operator (RESERVE_RESOURCES, CREATE_VOLUMES, …).
const RESOURCE_CALLS = RESERVATION_CALLS;
// Mantle's extension (docs/operator.md, "Why pending").
const OBSERVABILITY_CALLS = [GET_PENDING_REASONS];

const STREAM_CALLS = [SUBSCRIBE];

export const OPERATOR_CALLS: OperatorCallTable = callTable([
  ...MASTER_CALLS,
  ...STATE_CALLS,
  ...ROLE_CALLS,
  ...AGENT_CALLS,
  ...RESOURCE_CALLS,
  ...OBSERVABILITY_CALLS,
  ...MAINTENANCE_CALLS,
  ...STREAM_CALLS,
]);
