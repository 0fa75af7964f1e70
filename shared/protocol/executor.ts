/**
 * mesos.v1.executor (include/mesos/v1/executor/executor.proto): the Call a custom executor POSTs to its
 * agent's /api/v1/executor and the Event it receives on its SUBSCRIBE stream, and the checks Mesos makes
 * of a call before it looks at the executor (src/executor/validation.cpp). Pure.
 */
import { z } from 'zod';
import { describeZodError } from './errors.js';
import { bytes, opt, optEnum, rep } from './dialect.js';
import {
  AgentInfoSchema,
  ContainerIDSchema,
  ExecutorIDSchema,
  ExecutorInfoSchema,
  FrameworkIDSchema,
  FrameworkInfoSchema,
  KillPolicySchema,
  TaskGroupInfoSchema,
  TaskIDSchema,
  TaskInfoSchema,
  TaskStatusSchema,
} from './mesos.js';
import { err, ok, type Result } from '../result.js';

export const EXECUTOR_CALL_TYPES = ['UNKNOWN', 'SUBSCRIBE', 'UPDATE', 'MESSAGE'] as const;

const UpdateSchema = z.object({ status: TaskStatusSchema });

export const ExecutorCallSchema = z.object({
  type: optEnum(EXECUTOR_CALL_TYPES),
  framework_id: FrameworkIDSchema,
  executor_id: ExecutorIDSchema,
  subscribe: opt(
    z.object({
      unacknowledged_tasks: rep(TaskInfoSchema),
      unacknowledged_updates: rep(UpdateSchema),
    }),
  ),
  update: opt(UpdateSchema),
  message: opt(z.object({ data: bytes })),
});
export type ExecutorCall = z.infer<typeof ExecutorCallSchema>;

export const EXECUTOR_EVENT_TYPES = [
  'UNKNOWN',
  'SUBSCRIBED',
  'LAUNCH',
  'LAUNCH_GROUP',
  'KILL',
  'ACKNOWLEDGED',
  'MESSAGE',
  'ERROR',
  'SHUTDOWN',
  'HEARTBEAT',
] as const;

export const ExecutorEventSchema = z.object({
  type: optEnum(EXECUTOR_EVENT_TYPES),
  subscribed: opt(
    z.object({
      executor_info: ExecutorInfoSchema,
      framework_info: FrameworkInfoSchema,
      agent_info: AgentInfoSchema,
      container_id: opt(ContainerIDSchema),
    }),
  ),
  launch: opt(z.object({ task: TaskInfoSchema })),
  launch_group: opt(z.object({ task_group: TaskGroupInfoSchema })),
  kill: opt(z.object({ task_id: TaskIDSchema, kill_policy: opt(KillPolicySchema) })),
  acknowledged: opt(z.object({ task_id: TaskIDSchema, uuid: bytes })),
  message: opt(z.object({ data: bytes })),
  error: opt(z.object({ message: z.string() })),
});
export type ExecutorEvent = z.infer<typeof ExecutorEventSchema>;

/** A call refused before the executor is looked at: Mesos's status code and message. */
export interface ExecutorCallRejection {
  readonly status: 400 | 501;
  readonly message: string;
}

/** The three calls, narrowed to the sub-message each carries. */
export type ValidExecutorCall =
  | (ExecutorCall & { type: 'SUBSCRIBE'; subscribe: NonNullable<ExecutorCall['subscribe']> })
  | (ExecutorCall & { type: 'UPDATE'; update: NonNullable<ExecutorCall['update']> })
  | (ExecutorCall & { type: 'MESSAGE'; message: NonNullable<ExecutorCall['message']> });

function reject(message: string, status: 400 | 501 = 400): Result<never, ExecutorCallRejection> {
  return err({ status, message });
}

/** A UUID as TaskStatus carries it: 16 bytes, base64. */
export function isStatusUuid(base64: string): boolean {
  return Buffer.from(base64, 'base64').byteLength === 16;
}

function updateRejection(call: ExecutorCall, update: NonNullable<ExecutorCall['update']>): string | undefined {
  const { status } = update;
  if (status.uuid === undefined) return "Expecting 'uuid' to be present";
  if (!isStatusUuid(status.uuid)) return "'uuid' is not a valid UUID";
  if (status.state === 'TASK_STAGING') return 'Received TASK_STAGING from executor, which is not allowed';
  if (status.executor_id !== undefined && status.executor_id.value !== call.executor_id.value) {
    return "ExecutorID in Call: '" + call.executor_id.value + "' does not match ExecutorID in TaskStatus";
  }
  if (status.source !== undefined && status.source !== 'SOURCE_EXECUTOR') {
    return "Received wrong 'source' in TaskStatus: executors send SOURCE_EXECUTOR";
  }
  return undefined;
}

/** Checks a call (Mesos `executor::validation::call::validate`); pure. */
export function validateExecutorCall(call: ExecutorCall): Result<ValidExecutorCall, ExecutorCallRejection> {
  switch (call.type) {
    case undefined:
      return reject("Expecting 'type' to be present");
    case 'UNKNOWN':
      return reject('Received an unknown call', 501);
    case 'SUBSCRIBE':
      return call.subscribe
        ? ok({ ...call, type: 'SUBSCRIBE', subscribe: call.subscribe })
        : reject("Expecting 'subscribe' to be present");
    case 'UPDATE': {
      if (!call.update) return reject("Expecting 'update' to be present");
      const why = updateRejection(call, call.update);
      return why ? reject(why) : ok({ ...call, type: 'UPDATE', update: call.update });
    }
    case 'MESSAGE':
      return call.message
        ? ok({ ...call, type: 'MESSAGE', message: call.message })
        : reject("Expecting 'message' to be present");
  }
}

/**
 * A request body, already decoded into a JSON value, as a checked call: the one place a call enters,
 * so that another media type only needs its decoder in front of it.
 */
export function parseExecutorCall(json: unknown): Result<ValidExecutorCall, ExecutorCallRejection> {
  const parsed = ExecutorCallSchema.safeParse(json);
  if (!parsed.success) return reject(`Failed to convert JSON into Call protobuf: ${describeZodError(parsed.error)}`);
  return validateExecutorCall(parsed.data);
}
