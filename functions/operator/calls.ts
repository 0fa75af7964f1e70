/**
 * Every operator call Mantle answers, by type (dispatch.ts explains a spec). Each room's calls are
 * listed as one group, so calls added by different changes land on different lines.
 */
import { callTable, type OperatorCallTable } from './dispatch.js';
import { GET_HEALTH, GET_VERSION } from './master-calls.js';

const MASTER_CALLS = [GET_HEALTH, GET_VERSION];

export const OPERATOR_CALLS: OperatorCallTable = callTable([...MASTER_CALLS]);
