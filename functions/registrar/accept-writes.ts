/**
 * An ACCEPT of many tasks on one agent, in writes DynamoDB takes. One write's condition names each offer
 * and each task (DynamoDB stops an expression at 4 KB: some 100 tasks), so a larger accept goes in
 * several. The first takes the offers out and its tasks in (with the executors they charge), and leaves a
 * hold: an offer of the framework that keeps what the remaining tasks and their new executors take. Each next write exchanges the hold for its tasks and a
 * smaller hold. Nothing is free in between, so no other offer can take it; a handler that dies midway
 * leaves a hold that expires as offers do, and the tasks it did not write were never launched.
 */
import type { Resource } from '#shared/protocol/mesos.js';
import { ok, type Result } from '#shared/result.js';
import { add } from '#shared/resources/resources.js';
import { acceptWrite, type AcceptInput, type WritePart } from './accept-changes.js';
import { failure, type RegistrarError } from './errors.js';
import type { ItemChange } from './expression.js';
import type { AllocatedExecutor, AllocatedTask, OfferRecord } from './ledger.js';

/** DynamoDB's limit on one expression is 4096 bytes; some margin for the placeholders' growth. */
export const MAX_EXPRESSION_BYTES = 4000;
/** Tasks one write carries at most (DynamoDB also bounds an expression's operators at 300). */
export const TASKS_PER_WRITE = 50;
/** How long a hold outlives a handler that died midway, before offer expiry gives it back. */
export const HOLD_MS = 60_000;

/** One write of an accept: `input.offers` (the offers, or the previous hold) out, `tasks`, `executors` and `hold` in. */
export interface AcceptStep extends WritePart {
  readonly input: AcceptInput;
  readonly hold?: OfferRecord;
  readonly change: ItemChange;
}

export function fitsOneWrite(change: ItemChange): boolean {
  return (
    Buffer.byteLength(change.condition) <= MAX_EXPRESSION_BYTES &&
    Buffer.byteLength(change.update) <= MAX_EXPRESSION_BYTES
  );
}

/** The accept's writes, in order; fails only when its offers alone are too many for one write. */
export function acceptSteps(
  input: AcceptInput,
  accepted: WritePart,
  newOfferId: () => string,
  now: number,
): Result<AcceptStep[], RegistrarError<'INVALID_ARGUMENT'>> {
  const steps: AcceptStep[] = [];
  const chargedBy = chargingTasks(accepted);
  let from = input;
  let rest = accepted.tasks;
  for (;;) {
    const step = largestStep(from, rest, steps.length === 0, chargedBy, (left) => ({
      offerId: newOfferId(),
      agentId: input.agentId,
      frameworkId: input.frameworkId,
      role: (left[0] as AllocatedTask).role,
      resources: partOf(left, chargedBy).reduce<OfferRecord['resources']>((sum, held) => add(sum, held), []),
      createdAt: now,
      expiresAt: now + HOLD_MS,
    }));
    if (!step) {
      return failure('INVALID_ARGUMENT', `One ACCEPT names too many offers of agent ${input.agentId}`);
    }
    steps.push(step);
    rest = rest.slice(step.tasks.length);
    if (!step.hold) return ok(steps);
    const { agentId, frameworkId, launches, launchId } = input;
    from = { agentId, frameworkId, launches, launchId, offers: [step.hold] };
  }
}

/** Each new executor by the task that charges it: the first task naming it. */
function chargingTasks(accepted: WritePart): Map<string, AllocatedExecutor> {
  const chargedBy = new Map<string, AllocatedExecutor>();
  for (const executor of accepted.executors) {
    const first = accepted.tasks.find((task) => task.executorId === executor.executorId);
    if (first) chargedBy.set(first.taskId, executor);
  }
  return chargedBy;
}

/** What the tasks hold, and the executors they charge. */
function partOf(tasks: readonly AllocatedTask[], chargedBy: ReadonlyMap<string, AllocatedExecutor>): Resource[][] {
  return tasks.flatMap((task) => [task.resources, chargedBy.get(task.taskId)?.resources ?? []]);
}

/** The write that carries the most of `rest` (none, for a first write whose offers fill it). */
function largestStep(
  from: AcceptInput,
  rest: readonly AllocatedTask[],
  first: boolean,
  chargedBy: ReadonlyMap<string, AllocatedExecutor>,
  holdFor: (left: readonly AllocatedTask[]) => OfferRecord,
): AcceptStep | undefined {
  const least = first || rest.length === 0 ? 0 : 1;
  for (let count = Math.min(TASKS_PER_WRITE, rest.length); count >= least; count--) {
    const tasks = rest.slice(0, count);
    const executors = tasks.flatMap((task) => chargedBy.get(task.taskId) ?? []);
    const left = rest.slice(count);
    const hold = left.length > 0 ? holdFor(left) : undefined;
    const change = acceptWrite(from, { tasks, executors }, hold);
    if (fitsOneWrite(change)) return { input: from, tasks, executors, change, ...(hold ? { hold } : {}) };
  }
  return undefined;
}
