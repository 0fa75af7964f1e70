/** The allocator (ARCHITECTURE flow 2, spec §4): the pure pass, its policies, and the pass over the registrar. */
export { Allocator } from './allocator.js';
export type { AllocateOptions, AllocationResult, AllocationStats, ProposedOffer, RoleReport } from './allocator.js';
export type { AgentSnapshot, AllocationSnapshot, FilterSnapshot, FrameworkSnapshot, RoleSnapshot } from './snapshot.js';
export {
  allocatorConfig,
  allocatorConfigFromEnvironment,
  parseMinAllocatable,
  DEFAULT_MIN_ALLOCATABLE_RESOURCES,
  DEFAULT_OFFER_TIMEOUT_SECONDS,
  POLICIES,
} from './config.js';
export type { AllocatorConfig, AllocatorConfigInput, PolicyName } from './config.js';
export { compareDrf, drfPolicy, multilevelPolicy, policyFromConfig, strictPriorityPolicy } from './policies.js';
export type { AllocationPolicy, RoleStanding } from './policies.js';
export { PENDING_REASONS } from './reasons.js';
export type { PendingReason, PendingReasonCode } from './reasons.js';
export { DEFAULT_REFUSE_SECONDS, MAX_REFUSE_SECONDS, filterKey, refusalFilter } from './filters.js';
export { validateOfferConstraints } from './constraints.js';
export { mesosOffer, offersEvent, recipientOf, rescindEvent } from './offers.js';
export {
  AllocationTriggers,
  coalesce,
  ensureAllocationQueue,
  startPeriodicTriggers,
  triggerMessage,
  TRIGGER_REASONS,
  TriggerMessageSchema,
} from './triggers.js';
export type { AllocationRequest, AllocationTrigger, TriggerMessage, TriggerReason } from './triggers.js';
export { runAllocationPass } from './pass.js';
export type { AllocationPassDeps, AllocationPassReport, PassLogger } from './pass.js';
export { allocationHandler, allocationHandlerFromEnvironment } from './handler.js';
export type { AllocationHandlerDeps } from './handler.js';
