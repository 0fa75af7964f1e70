/**
 * The operator API's dispatch table (Mesos `POST /api/v1`, `Master::Http::api`): a call's `type` names
 * its spec, and the spec says which sub-message the call carries, how to validate it (zod) and who
 * handles it. The route (functions/handlers/operator-route.ts) has already checked the method, the media
 * types and that the caller is an operator; this parses the `Call`, finds its spec, validates the
 * sub-message (400, as Mesos's `validation::master::call::validate`) and runs the handler.
 *
 * To add a call: define it with `operatorCall({ type, field, payload, handle })` in a module of this room
 * and list it in `OPERATOR_CALLS` (calls.ts). A handler receives the validated sub-message as
 * `call.payload` and the caller, and answers an `OperatorResponse` (responses.ts).
 */
import { z } from 'zod';
import { describeZodError } from '#shared/protocol/errors.js';
import type { PrincipalRecord } from '../registrar/index.js';
import type { Master } from '../master/master.js';
import type { Authority } from '../scheduler/task-authorization.js';
import { badRequest, refuse, type OperatorResponse } from './responses.js';

/** Who calls: an operator (or anyone, with authentication off). */
export interface OperatorCaller {
  /** The authenticated principal; absent with authentication off. */
  readonly principal?: PrincipalRecord;
  readonly authority: Authority;
}

/** A parsed call: its type and its validated sub-message (undefined for calls that carry none). */
export interface OperatorCall<P> {
  readonly type: string;
  readonly payload: P;
}

export type OperatorHandler<P> = (
  master: Master,
  call: OperatorCall<P>,
  caller: OperatorCaller,
) => Promise<OperatorResponse>;

export interface OperatorCallSpec<P = unknown> {
  /** The `Call.Type`, as Mesos spells it (`GET_AGENTS`). */
  readonly type: string;
  /**
   * The call's sub-message (`get_metrics`, `update_weights`), which Mesos requires when the call has one;
   * absent for calls without one (GET_STATE). A call with a field needs a payload schema.
   */
  readonly field?: string;
  readonly payload?: z.ZodType<P>;
  /** The sub-message may be left out (a filter, say): the handler then gets an undefined payload. */
  readonly optional?: boolean;
  readonly handle: OperatorHandler<P>;
}

/** Defines a call; the type parameter follows the payload schema. */
export function operatorCall<P = undefined>(spec: OperatorCallSpec<P>): OperatorCallSpec {
  return spec as OperatorCallSpec;
}

/**
 * Every `Call.Type` of Mesos's `master.proto`: one the table does not answer is a 501, as Mesos answers
 * what it does not implement; any other type is not a Call at all (400).
 */
const MESOS_CALL_TYPES = new Set([
  'UNKNOWN',
  'GET_HEALTH',
  'GET_FLAGS',
  'GET_VERSION',
  'GET_METRICS',
  'GET_LOGGING_LEVEL',
  'SET_LOGGING_LEVEL',
  'LIST_FILES',
  'READ_FILE',
  'GET_STATE',
  'GET_AGENTS',
  'GET_FRAMEWORKS',
  'GET_EXECUTORS',
  'GET_OPERATIONS',
  'GET_TASKS',
  'GET_ROLES',
  'GET_WEIGHTS',
  'UPDATE_WEIGHTS',
  'GET_MASTER',
  'SUBSCRIBE',
  'RESERVE_RESOURCES',
  'UNRESERVE_RESOURCES',
  'CREATE_VOLUMES',
  'DESTROY_VOLUMES',
  'GROW_VOLUME',
  'SHRINK_VOLUME',
  'GET_MAINTENANCE_STATUS',
  'GET_MAINTENANCE_SCHEDULE',
  'UPDATE_MAINTENANCE_SCHEDULE',
  'START_MAINTENANCE',
  'STOP_MAINTENANCE',
  'DRAIN_AGENT',
  'DEACTIVATE_AGENT',
  'REACTIVATE_AGENT',
  'GET_QUOTA',
  'UPDATE_QUOTA',
  'SET_QUOTA',
  'REMOVE_QUOTA',
  'TEARDOWN',
  'MARK_AGENT_GONE',
]);

export type OperatorCallTable = ReadonlyMap<string, OperatorCallSpec>;

/** Builds the table, refusing two specs for one type (a merge that lists a call twice fails at once). */
export function callTable(specs: readonly OperatorCallSpec[]): OperatorCallTable {
  const table = new Map<string, OperatorCallSpec>();
  for (const spec of specs) {
    if (table.has(spec.type)) throw new Error(`Operator call ${spec.type} is defined twice`);
    table.set(spec.type, spec);
  }
  return table;
}

const EnvelopeSchema = z.looseObject({ type: z.string().optional() });

/** Finds the call's spec and validates its sub-message; the spec and payload, or the 400/501 to answer. */
export function parseOperatorCall(
  table: OperatorCallTable,
  json: unknown,
): { spec: OperatorCallSpec; payload: unknown } | OperatorResponse {
  const envelope = EnvelopeSchema.safeParse(json);
  if (!envelope.success) {
    return badRequest(`Failed to convert JSON into Call protobuf: ${describeZodError(envelope.error)}`);
  }
  const type = envelope.data.type;
  if (type === undefined) return badRequest("Failed to validate master::Call: Expecting 'type' to be present");
  const spec = table.get(type);
  if (!spec) {
    return MESOS_CALL_TYPES.has(type)
      ? refuse(501, `Operator call ${type} is not implemented by Mantle`)
      : badRequest(`Failed to convert JSON into Call protobuf: unknown call type '${type}'`);
  }
  if (spec.field === undefined || spec.payload === undefined) return { spec, payload: undefined };
  const raw = (envelope.data as Record<string, unknown>)[spec.field];
  if (raw === undefined) {
    if (spec.optional) return { spec, payload: undefined };
    return badRequest(`Failed to validate master::Call: Expecting '${spec.field}' to be present`);
  }
  const payload = spec.payload.safeParse(raw);
  if (!payload.success) {
    return badRequest(`Failed to validate master::Call: ${prefixed(spec.field, describeZodError(payload.error))}`);
  }
  return { spec, payload: payload.data };
}

/** Names the sub-message in the error's field paths (`field 'update_weights.weight_infos[0].weight'`). */
function prefixed(field: string, message: string): string {
  return message.replace(/field '/g, `field '${field}.`);
}

/** Runs a parsed call's handler. */
export async function runOperatorCall(
  master: Master,
  parsed: { spec: OperatorCallSpec; payload: unknown },
  caller: OperatorCaller,
): Promise<OperatorResponse> {
  master.metrics.increment(`master/operator/calls/${parsed.spec.type}`);
  return parsed.spec.handle(master, { type: parsed.spec.type, payload: parsed.payload }, caller);
}
