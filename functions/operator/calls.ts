/**
 * Every operator call Mantle answers, by type (dispatch.ts explains a spec). Each room's calls are
 * listed as one group, so calls added by different changes land on different lines.
 */
import { DEACTIVATE_AGENT, DRAIN_AGENT, MARK_AGENT_GONE, REACTIVATE_AGENT, TEARDOWN } from './agent-calls.js';
import { callTable, type OperatorCallTable } from './dispatch.js';
import { GET_HEALTH, GET_VERSION } from './master-calls.js';
import { GET_PENDING_REASONS } from './pending-calls.js';
import { GET_QUOTA, GET_ROLES, GET_WEIGHTS, UPDATE_QUOTA, UPDATE_WEIGHTS } from './role-calls.js';
import { GET_AGENTS, GET_EXECUTORS, GET_FRAMEWORKS, GET_STATE, GET_TASKS } from './state-calls.js';

const MASTER_CALLS = [GET_HEALTH, GET_VERSION];
const STATE_CALLS = [GET_STATE, GET_AGENTS, GET_FRAMEWORKS, GET_EXECUTORS, GET_TASKS];
const ROLE_CALLS = [GET_ROLES, GET_WEIGHTS, UPDATE_WEIGHTS, GET_QUOTA, UPDATE_QUOTA];
const AGENT_CALLS = [DRAIN_AGENT, DEACTIVATE_AGENT, REACTIVATE_AGENT, MARK_AGENT_GONE, TEARDOWN];
// Mantle's extension (docs/operator.md, "Why pending").
const OBSERVABILITY_CALLS = [GET_PENDING_REASONS];

export const OPERATOR_CALLS: OperatorCallTable = callTable([
  ...MASTER_CALLS,
  ...STATE_CALLS,
  ...ROLE_CALLS,
  ...AGENT_CALLS,
  ...OBSERVABILITY_CALLS,
]);
