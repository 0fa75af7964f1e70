/** The allocator: the pure hierarchical DRF pass and its policies. The pass over the registrar and its triggers are in functions/allocation. */
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
export { DEFAULT_REFUSE_SECONDS, MAX_REFUSE_SECONDS, refusalFilter } from './filters.js';
export { validateOfferConstraints } from './constraints.js';
export { mesosOffer, offersEvent, recipientOf, rescindEvent } from './offers.js';
