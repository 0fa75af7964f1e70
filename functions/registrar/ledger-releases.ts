/**
 * The ledger changes that only give resources back (DECLINE, RESCIND, offer expiry, terminal tasks,
 * ended executors), each a pure function returning the condition and update of one conditional write,
 * and another that says what the write did from the item as it was. Giving back never lets another
 * writer take more than the agent has, so none is conditioned on the ledger version but the release of
 * ended DEFAULT executors, which tells an ended group from one given a new task meanwhile.
 */
import { taskKey } from '#shared/ids.js';
import { ok, type Result } from '#shared/result.js';
import type { AgentRecord } from './agent-records.js';
import { failure, type RegistrarError } from './errors.js';
import { Expression, partiqlName, type ItemChange } from './expression.js';
import type { AllocatedExecutor, AllocatedTask, OfferRecord } from './ledger.js';

/**
 * Removes ledger entries in one write that happens only if at least one of them is there (no empty
 * version bumps); `conditions` are the change's own. Undefined when there is nothing to remove.
 */
function removeEntries(x: Expression, paths: readonly string[], conditions: readonly string[]): ItemChange | undefined {
  if (paths.length === 0) return undefined;
  const version = x.name('version');
  const anyThere = `(${paths.map((path) => `attribute_exists(${path})`).join(' OR ')})`;
  return {
    update: `REMOVE ${paths.join(', ')} SET ${version} = ${version} + ${x.value(1)}`,
    condition: [...conditions, anyThere].join(' AND '),
    expression: x,
  };
}

/** Offers out (DECLINE, RESCIND, expiry); with `frameworkId`, only if none of them is another's. */
export function removeOffersChange(
  offerIds: readonly string[],
  frameworkId: string | undefined,
): ItemChange | undefined {
  const x = new Expression();
  const paths = offerIds.map((id) => x.path('offers', id));
  const conditions = [`attribute_exists(${x.name('agent_id')})`];
  if (frameworkId !== undefined) {
    const owner = x.value(frameworkId);
    for (const path of paths) {
      conditions.push(`(attribute_not_exists(${path}) OR ${path}.${x.name('framework_id')} = ${owner})`);
    }
  }
  return removeEntries(x, paths, conditions);
}

/**
 * Offers out of the ledger as `agent` holds it, as one statement of a PartiQL batch (BatchExecuteStatement: 25
 * conditional writes a request, each decided alone): conditioned on the ledger's version, so the offers are
 * known to be there and nothing else changed since it was read. What it did is offersRemoved(agent, true, …).
 */
export function removeOffersStatement(
  table: string,
  agent: AgentRecord,
  offerIds: readonly string[],
): { statement: string; parameters: unknown[] } {
  const removes = offerIds.map((id) => `REMOVE "offers".${partiqlName(id)}`);
  return {
    statement: `UPDATE ${partiqlName(table)} ${removes.join(' ')} SET "version" = ? WHERE "agent_id" = ? AND "version" = ?`,
    parameters: [agent.version + 1, agent.agentId, agent.version],
  };
}

/** What a removal of offers did, from the item as it was before (`written`) or when it failed. */
export function offersRemoved(
  old: AgentRecord,
  written: boolean,
  offerIds: readonly string[],
  frameworkId: string | undefined,
): Result<{ removed: OfferRecord[]; agent: AgentRecord }, RegistrarError<'OFFER_NOT_OWNED'>> {
  if (!written) {
    const foreign = offerIds.find((id) => old.offers[id] && old.offers[id].frameworkId !== frameworkId);
    if (foreign !== undefined) return failure('OFFER_NOT_OWNED', `Offer ${foreign} is not yours`);
    return ok({ removed: [], agent: old });
  }
  const removed = offerIds.flatMap((id) => (old.offers[id] ? [old.offers[id]] : []));
  const offers = Object.fromEntries(Object.entries(old.offers).filter(([id]) => !offerIds.includes(id)));
  return ok({ removed, agent: { ...old, offers, version: old.version + 1 } });
}

/**
 * Tasks' resources back (terminal tasks); tasks not in the ledger are ignored. A key given a launch id in
 * `launches` is that launch's entry only: if the key holds another launch's, nothing is removed.
 */
export function releaseTasksChange(
  keys: readonly string[],
  launches: ReadonlyMap<string, string> = new Map(),
): ItemChange | undefined {
  const x = new Expression();
  const paths = keys.map((key) => x.path('tasks', key));
  const conditions = [`attribute_exists(${x.name('agent_id')})`];
  for (const [index, key] of keys.entries()) {
    const launchId = launches.get(key);
    if (launchId === undefined) continue;
    const path = paths[index] as string;
    conditions.push(`(attribute_not_exists(${path}) OR ${path}.${x.name('launch_id')} = ${x.value(launchId)})`);
  }
  return removeEntries(x, paths, conditions);
}

/** What a release did, from the item as it was before (`written`) or when it failed. */
export function tasksReleased(
  old: AgentRecord,
  written: boolean,
  keys: readonly string[],
): { released: AllocatedTask[]; agent: AgentRecord } {
  if (!written) return { released: [], agent: old };
  const released = keys.flatMap((key) => (old.tasks[key] ? [old.tasks[key]] : []));
  const tasks = Object.fromEntries(Object.entries(old.tasks).filter(([key]) => !keys.includes(key)));
  return { released, agent: { ...old, tasks, version: old.version + 1 } };
}

/** Executors' resources back (an executor ended, its framework or agent removed); absent ones ignored. */
export function releaseExecutorsChange(keys: readonly string[]): ItemChange | undefined {
  const x = new Expression();
  const paths = keys.map((key) => x.path('executors', key));
  return removeEntries(x, paths, [`attribute_exists(${x.name('agent_id')})`]);
}

/** What an executor release did, from the item as it was before (`written`) or when it failed. */
export function executorsReleased(
  old: AgentRecord,
  written: boolean,
  keys: readonly string[],
): { released: AllocatedExecutor[]; agent: AgentRecord } {
  if (!written) return { released: [], agent: old };
  const released = keys.flatMap((key) => (old.executors[key] ? [old.executors[key]] : []));
  const executors = Object.fromEntries(Object.entries(old.executors).filter(([key]) => !keys.includes(key)));
  return { released, agent: { ...old, executors, version: old.version + 1 } };
}

/**
 * The DEFAULT executors no task of the ledger names any more: their task groups ended, and the default
 * executor with them (it is always charged with a task, so one without tasks has none left to run).
 */
export function endedDefaultExecutors(agent: AgentRecord): string[] {
  const named = new Set(
    Object.values(agent.tasks).flatMap((task) =>
      task.executorId === undefined ? [] : [taskKey(task.frameworkId, task.executorId)],
    ),
  );
  return Object.entries(agent.executors)
    .filter(([key, executor]) => executor.kind === 'DEFAULT' && !named.has(key))
    .map(([key]) => key);
}

/**
 * Those DEFAULT executors out, only if the ledger is still at `version`: an ACCEPT that gave one of
 * them a new task meanwhile changed the version, and the executor stays.
 */
export function releaseEndedExecutorsChange(keys: readonly string[], version: number): ItemChange | undefined {
  const x = new Expression();
  const paths = keys.map((key) => x.path('executors', key));
  return removeEntries(x, paths, [`${x.name('version')} = ${x.value(version)}`]);
}

/**
 * The custom executors a re-registering agent no longer runs (Mesos rebuilds an agent's executors from
 * its re-registration): those it did not report, but for any charged since `chargedBefore` — its LAUNCH
 * may still wait in the agent's queue, to start the executor once the agent reads it.
 */
export function unreportedExecutors(
  agent: AgentRecord,
  reported: ReadonlySet<string>,
  chargedBefore: number,
): AllocatedExecutor[] {
  return Object.entries(agent.executors)
    .filter(([key, executor]) => executor.kind === 'CUSTOM' && !reported.has(key))
    .filter(([, executor]) => executor.launchedAt < chargedBefore)
    .map(([, executor]) => executor);
}
