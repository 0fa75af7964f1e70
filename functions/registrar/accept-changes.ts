/**
 * An ACCEPT's change of the agent ledger (see agent-changes.ts for the ledger's rules): the offers out,
 * the tasks in, and each new executor's resources in once per executor and agent, as Mesos charges them
 * (`Master::addExecutor`). A task naming an executor already charged adds only itself, conditioned on
 * the executor's entry being there with the same ExecutorInfo digest; a new executor's entry is written
 * only if none is there. Pure: returns the condition and update of one conditional write, and reads the
 * item as it was when the condition failed to say why.
 */
import type { Resource } from '#shared/protocol/mesos.js';
import { taskKey } from '#shared/ids.js';
import { ok, type Result } from '#shared/result.js';
import { allocate } from '#shared/resources/resources.js';
import { parseResources } from '#shared/resources/parse.js';
import { storedExecutor, storedOffer, storedTask, type AgentRecord, type LaunchRequest } from './agent-records.js';
import { failure, type RegistrarError } from './errors.js';
import { Expression, type ItemChange } from './expression.js';
import { holdsResources, storedResources } from './stored-resources.js';
import { takeInTurn, type AllocatedExecutor, type AllocatedTask, type OfferRecord } from './ledger.js';

export interface AcceptInput {
  readonly agentId: string;
  readonly frameworkId: string;
  /** The offers as read; the write checks they are still there, the framework's and unchanged. */
  readonly offers: readonly OfferRecord[];
  readonly launches: readonly LaunchRequest[];
  /** Unique per ACCEPT; recorded with each task so that a retried write recognises its own result. */
  readonly launchId: string;
  /**
   * A new total when the ACCEPT also reserves, unreserves, creates or destroys (offer operations
   * convert the agent's resources): the write then checks the total is still `expected`, and the
   * tasks must fit in `offered`, the offers' resources after those conversions.
   */
  readonly total?: { expected: readonly Resource[]; next: readonly Resource[]; offered: readonly Resource[] };
}

export type AcceptError = RegistrarError<
  | 'OFFER_GONE'
  | 'OFFER_NOT_OWNED'
  | 'INVALID_ARGUMENT'
  | 'INVALID_RESOURCES'
  | 'INSUFFICIENT_RESOURCES'
  | 'DUPLICATE_TASK'
>;

export interface AcceptedTasks {
  readonly tasks: AllocatedTask[];
  /** The executors this accept charged, each with the first of its tasks. */
  readonly executors: AllocatedExecutor[];
  /** What the offers held that no task took: free again once the write is done. */
  readonly unused: Resource[];
  /** An accept of many writes whose later write failed: its tasks not written (never launched), and why. */
  readonly notWritten?: readonly AllocatedTask[];
  readonly why?: string;
}

/** The part of an accept one write carries: its tasks, and the executors charged with them. */
export interface WritePart {
  readonly tasks: readonly AllocatedTask[];
  readonly executors: readonly AllocatedExecutor[];
}

/** Offers out, tasks and new executors in, in one write (and the converted total, when operations changed it). */
export function acceptChange(
  input: AcceptInput,
  now: number,
): Result<AcceptedTasks & { change: ItemChange }, AcceptError> {
  const { offers } = input;
  // Each offer and each task is one path of the update: a path named twice is no expression at all.
  if (offers.length === 0) return failure('INVALID_ARGUMENT', 'No offers to accept');
  if (new Set(offers.map((offer) => offer.offerId)).size !== offers.length) {
    return failure('INVALID_ARGUMENT', 'Duplicate offer ids');
  }
  const entries = ledgerEntries(input, now);
  if (!entries.ok) return entries;
  const { tasks, executors } = entries.value;
  const keys = tasks.map((task) => taskKey(task.frameworkId, task.taskId));
  if (new Set(keys).size !== keys.length) return failure('DUPLICATE_TASK', 'A task id appears twice in one accept');
  const offered = input.total ? input.total.offered : offers.flatMap((offer) => offer.resources);
  const fit = takeInTurn(
    offered,
    [...tasks, ...executors].map((entry) => entry.resources),
  );
  if (!fit.fits) {
    const what =
      fit.index < tasks.length
        ? `Task ${tasks[fit.index]?.taskId}`
        : `Executor ${executors[fit.index - tasks.length]?.executorId}`;
    return failure('INSUFFICIENT_RESOURCES', `${what} asks for more than the offers left`);
  }
  return ok({ tasks, executors, unused: fit.remaining, change: acceptWrite(input, { tasks, executors }) });
}

/** The tasks and new executors of the launches, each allocated to the offers' role. */
function ledgerEntries(
  input: AcceptInput,
  now: number,
): Result<{ tasks: AllocatedTask[]; executors: AllocatedExecutor[] }, AcceptError> {
  const { frameworkId, launchId } = input;
  // The tasks take the offers' role (the scheduler checked the offers have one).
  const role = (input.offers[0] as OfferRecord).role;
  const tasks: AllocatedTask[] = [];
  const executors: AllocatedExecutor[] = [];
  const digests = new Map<string, string>();
  for (const launch of input.launches) {
    const resources = parseResources(launch.resources);
    if (!resources.ok) return failure('INVALID_RESOURCES', resources.error.message);
    if (typeof launch.taskId !== 'string' || launch.taskId === '') {
      return failure('INVALID_ARGUMENT', 'A task needs an id');
    }
    const executor = launch.executor;
    tasks.push({
      frameworkId,
      taskId: launch.taskId,
      role,
      resources: allocate(resources.value, role),
      launchId,
      launchedAt: now,
      ...(executor ? { executorId: executor.executorId } : {}),
    });
    if (!executor) continue;
    const seen = digests.get(executor.executorId);
    if (seen !== undefined && seen !== executor.infoHash) {
      return failure('INVALID_ARGUMENT', `Executor ${executor.executorId} is described two ways in one accept`);
    }
    digests.set(executor.executorId, executor.infoHash);
    if (executor.resources === undefined || seen !== undefined) continue;
    const charged = parseResources(executor.resources);
    if (!charged.ok) return failure('INVALID_RESOURCES', charged.error.message);
    const { executorId, kind, infoHash } = executor;
    const allocated = allocate(charged.value, role);
    executors.push({ frameworkId, executorId, kind, role, resources: allocated, infoHash, launchId, launchedAt: now });
  }
  return ok({ tasks, executors });
}

/** The digest of each executor the launches name, by executor id. */
function executorDigests(input: AcceptInput): Map<string, string> {
  return new Map(
    input.launches.flatMap((launch) =>
      launch.executor ? [[launch.executor.executorId, launch.executor.infoHash]] : [],
    ),
  );
}

/**
 * One write of an accept: `input.offers` out, `part` in, and `hold` (an offer keeping what the tasks of
 * the accept's later writes take: functions/registrar/accept-writes.ts) in when given. An executor the
 * part's tasks name and the part does not charge must be there, the same ExecutorInfo.
 */
export function acceptWrite(input: AcceptInput, part: WritePart, hold?: OfferRecord): ItemChange {
  const x = new Expression();
  const conditions: string[] = [];
  const removes: string[] = [];
  for (const offer of input.offers) {
    const path = x.path('offers', offer.offerId);
    conditions.push(
      `attribute_exists(${path})`,
      `${path}.${x.name('framework_id')} = ${x.value(input.frameworkId)}`,
      holdsResources(x, `${path}.${x.name('resources')}`, offer.resources),
    );
    removes.push(path);
  }
  const sets: string[] = [];
  for (const task of part.tasks) {
    const path = x.path('tasks', taskKey(task.frameworkId, task.taskId));
    conditions.push(`attribute_not_exists(${path})`);
    sets.push(`${path} = ${x.value(storedTask(task))}`);
  }
  const charged = new Set(part.executors.map((executor) => executor.executorId));
  for (const executor of part.executors) {
    const path = x.path('executors', taskKey(executor.frameworkId, executor.executorId));
    conditions.push(`attribute_not_exists(${path})`);
    sets.push(`${path} = ${x.value(storedExecutor(executor))}`);
  }
  const digests = executorDigests(input);
  const running = new Set(part.tasks.flatMap((task) => (task.executorId === undefined ? [] : [task.executorId])));
  for (const executorId of running) {
    if (charged.has(executorId)) continue;
    const path = x.path('executors', taskKey(input.frameworkId, executorId));
    conditions.push(`${path}.${x.name('info_hash')} = ${x.value(digests.get(executorId) ?? '')}`);
  }
  if (hold) sets.push(`${x.path('offers', hold.offerId)} = ${x.value(storedOffer(hold))}`);
  const version = x.name('version');
  sets.push(`${version} = ${version} + ${x.value(1)}`);
  if (input.total) {
    const total = x.name('total');
    conditions.push(holdsResources(x, total, input.total.expected));
    sets.push(`${total} = ${x.value(storedResources(input.total.next))}`);
  }
  return {
    update: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
    condition: conditions.join(' AND '),
    expression: x,
  };
}

/** Why the accept was not written, from the item as it was (or our own write, retried by the SDK). */
export function acceptRefusal(
  input: AcceptInput,
  accepted: AcceptedTasks,
  old: AgentRecord | undefined,
): Result<AcceptedTasks & { agent: AgentRecord }, AcceptError> {
  const { agentId, frameworkId } = input;
  if (!old) return failure('OFFER_GONE', `Agent ${agentId} is not registered`);
  const keys = accepted.tasks.map((task) => taskKey(task.frameworkId, task.taskId));
  // A retried request whose first attempt was applied (lost response) finds its own result.
  const applied = keys.length > 0 && keys.every((key) => old.tasks[key]?.launchId === input.launchId);
  if (applied) return ok({ ...accepted, agent: old });
  for (const offer of input.offers) {
    const current = old.offers[offer.offerId];
    if (!current) return failure('OFFER_GONE', `Offer ${offer.offerId} is no longer valid`);
    if (current.frameworkId !== frameworkId) return failure('OFFER_NOT_OWNED', `Offer ${offer.offerId} is not yours`);
    if (storedResources(current.resources) !== storedResources(offer.resources)) {
      return failure('OFFER_GONE', `Offer ${offer.offerId} is not the offer that was read`);
    }
  }
  const duplicate = keys.find((key) => old.tasks[key]);
  if (duplicate) return failure('DUPLICATE_TASK', `Task ${duplicate} is already on agent ${agentId}`);
  const executor = executorChange(input, accepted, old);
  if (executor) return failure('OFFER_GONE', executor);
  return failure('OFFER_GONE', `The resources of agent ${agentId} changed meanwhile`);
}

/** An executor the write expected absent that is there, or expected running that ended or differs. */
function executorChange(input: AcceptInput, accepted: AcceptedTasks, old: AgentRecord): string | undefined {
  const charged = new Set(accepted.executors.map((executor) => executor.executorId));
  const named = new Set(accepted.tasks.map((task) => task.executorId));
  for (const [executorId, digest] of executorDigests(input)) {
    if (!named.has(executorId)) continue;
    const current = old.executors[taskKey(input.frameworkId, executorId)];
    if (charged.has(executorId) && current) return `Executor ${executorId} was launched meanwhile`;
    if (!charged.has(executorId) && current?.infoHash !== digest) {
      return current
        ? `ExecutorInfo of executor ${executorId} differs from that of the running executor`
        : `Executor ${executorId} ended meanwhile`;
    }
  }
  return undefined;
}
