/** Allocation over the registrar: the pass that reads the registrar and commits offers, and its triggers. */
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
export { runAllocationPass } from './run-pass.js';
export type { AllocationPassDeps, AllocationPassReport, AllocationPassRequest, PassLogger } from './run-pass.js';
export { WarmSnapshot } from './warm-snapshot.js';
export type { ItemsRead } from './warm-snapshot.js';
