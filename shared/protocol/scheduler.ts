/**
 * mesos.v1.scheduler (include/mesos/v1/scheduler/scheduler.proto): the Call a framework POSTs to
 * /api/v1/scheduler and the Event it receives on its SUBSCRIBE stream.
 */
import { z } from 'zod';
import { bytes, double, enumOf, int, map, opt, optEnum, rep } from './dialect.js';
import {
  AgentIDSchema,
  ExecutorIDSchema,
  FiltersSchema,
  FrameworkIDSchema,
  FrameworkInfoSchema,
  InverseOfferSchema,
  KillPolicySchema,
  MasterInfoSchema,
  OfferIDSchema,
  OfferSchema,
  OperationIDSchema,
  OperationSchema,
  OperationStatusSchema,
  RequestSchema,
  ResourceProviderIDSchema,
  TaskIDSchema,
  TaskStatusSchema,
} from './mesos.js';

// ------------------------------------------------------------------------------ offer constraints

export const AttributeConstraintSchema = z.object({
  selector: z.object({
    pseudoattribute_type: optEnum(['UNKNOWN', 'HOSTNAME', 'REGION', 'ZONE']),
    attribute_name: opt(z.string()),
  }),
  predicate: z.object({
    exists: opt(z.object({})),
    not_exists: opt(z.object({})),
    text_equals: opt(z.object({ value: z.string() })),
    text_not_equals: opt(z.object({ value: z.string() })),
    text_matches: opt(z.object({ regex: z.string() })),
    text_not_matches: opt(z.object({ regex: z.string() })),
  }),
});
export type AttributeConstraint = z.infer<typeof AttributeConstraintSchema>;

export const OfferConstraintsSchema = z.object({
  role_constraints: map(z.object({ groups: rep(z.object({ attribute_constraints: rep(AttributeConstraintSchema) })) })),
});
export type OfferConstraints = z.infer<typeof OfferConstraintsSchema>;

// ------------------------------------------------------------------------------------------- calls

export const CALL_TYPES = [
  'UNKNOWN',
  'SUBSCRIBE',
  'TEARDOWN',
  'ACCEPT',
  'DECLINE',
  'ACCEPT_INVERSE_OFFERS',
  'DECLINE_INVERSE_OFFERS',
  'REVIVE',
  'KILL',
  'SHUTDOWN',
  'ACKNOWLEDGE',
  'ACKNOWLEDGE_OPERATION_STATUS',
  'RECONCILE',
  'RECONCILE_OPERATIONS',
  'MESSAGE',
  'REQUEST',
  'SUPPRESS',
  'UPDATE_FRAMEWORK',
  // Mantle's extension: why the framework's roles get no offers (docs/scheduler-api.md).
  'GET_PENDING_REASONS',
] as const;
export type CallType = (typeof CALL_TYPES)[number];

const SubscribeSchema = z.object({
  framework_info: FrameworkInfoSchema,
  suppressed_roles: rep(z.string()),
  offer_constraints: opt(OfferConstraintsSchema),
});

export const CallSchema = z.object({
  framework_id: opt(FrameworkIDSchema),
  // Optional in the proto: an unknown name reads as unset, and the call then fails validation (400).
  type: optEnum(CALL_TYPES),
  subscribe: opt(SubscribeSchema),
  accept: opt(
    z.object({ offer_ids: rep(OfferIDSchema), operations: rep(OperationSchema), filters: opt(FiltersSchema) }),
  ),
  decline: opt(z.object({ offer_ids: rep(OfferIDSchema), filters: opt(FiltersSchema) })),
  accept_inverse_offers: opt(z.object({ inverse_offer_ids: rep(OfferIDSchema), filters: opt(FiltersSchema) })),
  decline_inverse_offers: opt(z.object({ inverse_offer_ids: rep(OfferIDSchema), filters: opt(FiltersSchema) })),
  revive: opt(z.object({ roles: rep(z.string()) })),
  kill: opt(z.object({ task_id: TaskIDSchema, agent_id: opt(AgentIDSchema), kill_policy: opt(KillPolicySchema) })),
  shutdown: opt(z.object({ executor_id: ExecutorIDSchema, agent_id: AgentIDSchema })),
  acknowledge: opt(z.object({ agent_id: AgentIDSchema, task_id: TaskIDSchema, uuid: bytes })),
  acknowledge_operation_status: opt(
    z.object({
      agent_id: opt(AgentIDSchema),
      resource_provider_id: opt(ResourceProviderIDSchema),
      uuid: bytes,
      operation_id: OperationIDSchema,
    }),
  ),
  reconcile: opt(z.object({ tasks: rep(z.object({ task_id: TaskIDSchema, agent_id: opt(AgentIDSchema) })) })),
  reconcile_operations: opt(
    z.object({
      operations: rep(
        z.object({
          operation_id: OperationIDSchema,
          agent_id: opt(AgentIDSchema),
          resource_provider_id: opt(ResourceProviderIDSchema),
        }),
      ),
    }),
  ),
  message: opt(z.object({ agent_id: AgentIDSchema, executor_id: ExecutorIDSchema, data: bytes })),
  request: opt(z.object({ requests: rep(RequestSchema) })),
  suppress: opt(z.object({ roles: rep(z.string()) })),
  update_framework: opt(SubscribeSchema),
});
export type Call = z.infer<typeof CallSchema>;

// ------------------------------------------------------------------------------------------ events

export const EVENT_TYPES = [
  'UNKNOWN',
  'SUBSCRIBED',
  'OFFERS',
  'INVERSE_OFFERS',
  'RESCIND',
  'RESCIND_INVERSE_OFFER',
  'UPDATE',
  'UPDATE_OPERATION_STATUS',
  'MESSAGE',
  'FAILURE',
  'ERROR',
  'HEARTBEAT',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const EventSchema = z.object({
  type: enumOf(EVENT_TYPES),
  subscribed: opt(
    z.object({
      framework_id: FrameworkIDSchema,
      heartbeat_interval_seconds: opt(double),
      master_info: opt(MasterInfoSchema),
    }),
  ),
  offers: opt(z.object({ offers: rep(OfferSchema) })),
  inverse_offers: opt(z.object({ inverse_offers: rep(InverseOfferSchema) })),
  rescind: opt(z.object({ offer_id: OfferIDSchema })),
  rescind_inverse_offer: opt(z.object({ inverse_offer_id: OfferIDSchema })),
  update: opt(z.object({ status: TaskStatusSchema })),
  update_operation_status: opt(z.object({ status: OperationStatusSchema })),
  message: opt(z.object({ agent_id: AgentIDSchema, executor_id: ExecutorIDSchema, data: bytes })),
  failure: opt(z.object({ agent_id: opt(AgentIDSchema), executor_id: opt(ExecutorIDSchema), status: opt(int) })),
  error: opt(z.object({ message: z.string() })),
});
export type Event = z.infer<typeof EventSchema>;

/** Mantle's extension (docs/scheduler-api.md, "Queue-delivered frameworks"): SUBSCRIBE asks for queue delivery. */
export const EVENT_DELIVERY_HEADER = 'Mantle-Event-Delivery';
/** The answer to a queue-delivered SUBSCRIBE names the queue its events go to. */
export const EVENT_QUEUE_URL_HEADER = 'Mantle-Event-Queue-Url';
