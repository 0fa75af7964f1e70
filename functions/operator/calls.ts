/**
 * Every operator call Mantle answers, by type (dispatch.ts explains a spec). Each room's calls are
 * listed as one group, so calls added by different changes land on different lines.
 */
import { callTable, type OperatorCallTable } from './dispatch.js';
import { GET_HEALTH, GET_VERSION } from './master-calls.js';
import { MAINTENANCE_CALLS } from './maintenance-calls.js';
import { SUBSCRIBE } from './stream-calls.js';

const MASTER_CALLS = [GET_HEALTH, GET_VERSION];

const STREAM_CALLS = [SUBSCRIBE];

export const OPERATOR_CALLS: OperatorCallTable = callTable([...MASTER_CALLS, ...MAINTENANCE_CALLS, ...STREAM_CALLS]);
