/**
 * An ACCEPT of many tasks on one agent, in writes DynamoDB takes. One write's condition names each offer
 * and each task (DynamoDB stops an expression at 4 KB: some 100 tasks), so a larger accept goes in
 * several. The first takes the offers out and its tasks in, and leaves a hold: an offer of the framework
 * that keeps what the remaining tasks take. Each next write exchanges the hold for its tasks and a
 * smaller hold. Nothing is free in between, so no other offer can take it; a handler that dies midway
 * leaves a hold that expires as offers do, and the tasks it did not write were never launched.
 */
import { taskKey } from '#shared/ids.js';
import { ok, type Result } from '#shared/result.js';
import { add } from '#shared/resources/resources.js';
import { acceptWrite, type AcceptInput } from './agent-changes.js';
import { failure, type RegistrarError } from './errors.js';
import type { ItemChange } from './expression.js';
import type { AllocatedTask, OfferRecord } from './ledger.js';

/** DynamoDB's limit on one expression is 4096 bytes; some margin for the placeholders' growth. */
export const MAX_EXPRESSION_BYTES = 4000;
/** Tasks one write carries at most (DynamoDB also bounds an expression's operators at 300). */
export const TASKS_PER_WRITE = 50;
/** How long a hold outlives a handler that died midway, before offer expiry gives it back. */
export const HOLD_MS = 60_000;

/** One write of an accept: `input.offers` (the offers, or the previous hold) out, `tasks` and `hold` in. */
export interface AcceptStep {
  readonly input: AcceptInput;
  readonly tasks: readonly AllocatedTask[];
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
  tasks: readonly AllocatedTask[],
  newOfferId: () => string,
  now: number,
): Result<AcceptStep[], RegistrarError<'INVALID_ARGUMENT'>> {
  const steps: AcceptStep[] = [];
  let from = input;
  let rest = tasks;
  for (;;) {
    const step = largestStep(from, rest, steps.length === 0, (left) => ({
      offerId: newOfferId(),
      agentId: input.agentId,
      frameworkId: input.frameworkId,
      role: (left[0] as AllocatedTask).role,
      resources: left.reduce<OfferRecord['resources']>((sum, task) => add(sum, task.resources), []),
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

/** The write that carries the most of `rest` (none, for a first write whose offers fill it). */
function largestStep(
  from: AcceptInput,
  rest: readonly AllocatedTask[],
  first: boolean,
  holdFor: (left: readonly AllocatedTask[]) => OfferRecord,
): AcceptStep | undefined {
  const least = first || rest.length === 0 ? 0 : 1;
  for (let count = Math.min(TASKS_PER_WRITE, rest.length); count >= least; count--) {
    const tasks = rest.slice(0, count);
    const left = rest.slice(count);
    const hold = left.length > 0 ? holdFor(left) : undefined;
    const keys = tasks.map((task) => taskKey(task.frameworkId, task.taskId));
    const change = acceptWrite(from, tasks, keys, hold);
    if (fitsOneWrite(change)) return { input: from, tasks, change, ...(hold ? { hold } : {}) };
  }
  return undefined;
}
