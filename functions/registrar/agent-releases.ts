/**
 * The agent ledger's releases (ledger-releases.ts: offers out, tasks' and executors' resources back),
 * run against DynamoDB in writes it takes. Part of the agents' store (agents.ts), which hands it its
 * read and its conditional write.
 */
import { taskKey } from '#shared/ids.js';
import { ok, type Result } from '#shared/result.js';
import { agentFromItem, type AgentRecord } from './agent-records.js';
import { failure, type RegistrarError } from './errors.js';
import { BATCH_STATEMENT_LIMIT, type BatchStatement, type StatementOutcome } from './context.js';
import type { ItemChange, WriteOutcome } from './expression.js';
import type { AllocatedExecutor, AllocatedTask, OfferRecord } from './ledger.js';
import {
  endedDefaultExecutors,
  executorsReleased,
  offersRemoved,
  releaseEndedExecutorsChange,
  releaseExecutorsChange,
  releaseTasksChange,
  removeOffersChange,
  removeOffersStatement,
  tasksReleased,
} from './ledger-releases.js';

/**
 * Ledger entries removed by one write: each costs a few operators and some 60 characters of condition,
 * and DynamoDB stops an expression at 4 KB and 300 operators.
 */
export const ENTRIES_PER_WRITE = 25;

/** Reads of an ended group's executor before giving up (each lost to another write of the ledger). */
const ENDED_EXECUTOR_TRIES = 5;

/** `ids` in groups of ENTRIES_PER_WRITE; one empty group for none (the write then only reads). */
function chunked(ids: readonly string[]): string[][] {
  if (ids.length === 0) return [[]];
  const groups: string[][] = [];
  for (let i = 0; i < ids.length; i += ENTRIES_PER_WRITE) groups.push(ids.slice(i, i + ENTRIES_PER_WRITE));
  return groups;
}

export interface LedgerStore {
  readonly table: string;
  get(agentId: string): Promise<AgentRecord | undefined>;
  run(agentId: string, change: ItemChange, returnValues: 'ALL_OLD'): Promise<WriteOutcome>;
  executeBatch(statements: readonly BatchStatement[]): Promise<StatementOutcome[]>;
}

type RemovedOffers = Result<
  { removed: OfferRecord[]; agent: AgentRecord },
  RegistrarError<'OFFER_NOT_OWNED' | 'UNKNOWN_AGENT'>
>;

type Removal = (keys: readonly string[]) => ItemChange | undefined;
type Removed<T> = (
  old: AgentRecord,
  written: boolean,
  keys: readonly string[],
) => { released: T[]; agent: AgentRecord };

export class LedgerReleases {
  constructor(private readonly store: LedgerStore) {}

  /**
   * Removes offers (DECLINE, RESCIND, offer expiry). Offers already gone are ignored, as Mesos ignores
   * declines of unknown offers; with `frameworkId`, offers of other frameworks make the call fail and
   * nothing is removed.
   */
  async removeOffers(input: {
    agentId: string;
    offerIds: readonly string[];
    frameworkId?: string;
  }): Promise<RemovedOffers> {
    const { agentId, frameworkId } = input;
    const named = [...new Set(input.offerIds)];
    const offerIds = await this.presentOnly(agentId, named, (agent, id) => agent.offers[id]);
    if (!offerIds.ok) return offerIds;
    const foreign = offerIds.value.ids.find((id) => {
      const owner = offerIds.value.agent?.offers[id]?.frameworkId;
      return frameworkId !== undefined && owner !== undefined && owner !== frameworkId;
    });
    if (foreign !== undefined) return failure('OFFER_NOT_OWNED', `Offer ${foreign} is not yours`);
    if (offerIds.value.agent && offerIds.value.ids.length === 0)
      return ok({ removed: [], agent: offerIds.value.agent });
    const removed: OfferRecord[] = [];
    let agent: AgentRecord | undefined = offerIds.value.agent;
    for (const chunk of chunked(offerIds.value.ids)) {
      const result = await this.removeEntries(agentId, removeOffersChange(chunk, frameworkId));
      if (!result.ok) return result;
      const done = offersRemoved(result.value.old, result.value.written, chunk, frameworkId);
      if (!done.ok) return done;
      removed.push(...done.value.removed);
      agent = done.value.agent;
    }
    return ok({ removed, agent: agent as AgentRecord });
  }

  /**
   * Removes offers from many agents at once (an allocation pass's offer expiry): each agent's in one statement
   * of ONE BatchExecuteStatement (at most BATCH_STATEMENT_LIMIT agents), conditioned on the ledger version in
   * `agent`, which must hold the offers. An agent whose ledger changed since it was read, or whose statement or
   * request failed, goes through removeOffers on its own, so the outcome is the same as one removeOffers each.
   */
  async removeOffersBatch(
    entries: ReadonlyArray<{ readonly agent: AgentRecord; readonly offerIds: readonly string[] }>,
  ): Promise<RemovedOffers[]> {
    if (entries.length > BATCH_STATEMENT_LIMIT) throw new Error(`At most ${BATCH_STATEMENT_LIMIT} agents`);
    const alone = (entry: (typeof entries)[number]) =>
      this.removeOffers({ agentId: entry.agent.agentId, offerIds: entry.offerIds });
    const batched = entries.filter(
      ({ agent, offerIds }) =>
        offerIds.length > 0 &&
        offerIds.length <= ENTRIES_PER_WRITE &&
        new Set(offerIds).size === offerIds.length &&
        offerIds.every((id) => agent.offers[id]),
    );
    const outcomes = await this.store
      .executeBatch(
        batched.map(({ agent, offerIds }) => ({
          table: this.store.table,
          key: { agent_id: agent.agentId },
          ...removeOffersStatement(this.store.table, agent, offerIds),
        })),
      )
      .catch((): StatementOutcome[] => batched.map(() => ({ written: false, error: 'REQUEST_FAILED' })));
    const written = new Map(batched.map((entry, i) => [entry, outcomes[i]?.written === true]));
    return Promise.all(
      entries.map(async (entry) =>
        written.get(entry) ? offersRemoved(entry.agent, true, entry.offerIds, undefined) : alone(entry),
      ),
    );
  }

  /**
   * Gives tasks' resources back (terminal tasks), and those of the DEFAULT executors whose last task
   * they were. Tasks not in the ledger are ignored: idempotent. A task named with its `launchId` is
   * released only if the ledger holds that launch of it (one write carries up to 25 tasks: one held by
   * another launch keeps that write's others in the ledger too).
   */
  async releaseTasks(input: {
    agentId: string;
    tasks: ReadonlyArray<{ frameworkId: string; taskId: string; launchId?: string }>;
  }): Promise<
    Result<
      { released: AllocatedTask[]; executors: AllocatedExecutor[]; agent: AgentRecord },
      RegistrarError<'UNKNOWN_AGENT'>
    >
  > {
    const named = input.tasks.map((task) => taskKey(task.frameworkId, task.taskId));
    const launches = new Map(
      input.tasks.flatMap((task) =>
        task.launchId === undefined ? [] : [[taskKey(task.frameworkId, task.taskId), task.launchId] as const],
      ),
    );
    const tasks = await this.release(
      input.agentId,
      named,
      (agent, key) => agent.tasks[key],
      (keys) => releaseTasksChange(keys, launches),
      tasksReleased,
    );
    if (!tasks.ok) return tasks;
    const ended = await this.releaseEndedExecutors(tasks.value.agent);
    return ok({ released: tasks.value.released, ...ended });
  }

  /** Gives executors' resources back (the executor ended); those not in the ledger are ignored. */
  releaseExecutors(input: {
    agentId: string;
    executors: ReadonlyArray<{ frameworkId: string; executorId: string }>;
  }): Promise<Result<{ released: AllocatedExecutor[]; agent: AgentRecord }, RegistrarError<'UNKNOWN_AGENT'>>> {
    const named = input.executors.map((executor) => taskKey(executor.frameworkId, executor.executorId));
    return this.release(
      input.agentId,
      named,
      (agent, key) => agent.executors[key],
      releaseExecutorsChange,
      executorsReleased,
    );
  }

  /** The ended DEFAULT executors of `agent` (read after a release) out, re-read on a lost race. */
  private async releaseEndedExecutors(
    agent: AgentRecord,
  ): Promise<{ executors: AllocatedExecutor[]; agent: AgentRecord }> {
    let current: AgentRecord | undefined = agent;
    for (let attempt = 0; current && attempt < ENDED_EXECUTOR_TRIES; attempt++) {
      const keys = endedDefaultExecutors(current);
      const change = releaseEndedExecutorsChange(keys, current.version);
      if (!change) return { executors: [], agent: current };
      const outcome = await this.store.run(current.agentId, change, 'ALL_OLD');
      if (outcome.written) {
        const done = executorsReleased(agentFromItem(outcome.item), true, keys);
        return { executors: done.released, agent: done.agent };
      }
      current = outcome.old ? agentFromItem(outcome.old) : undefined;
    }
    return { executors: [], agent: current ?? agent };
  }

  /** Ledger entries out, in writes DynamoDB takes; entries not there are ignored. */
  private async release<T>(
    agentId: string,
    named: readonly string[],
    holds: (agent: AgentRecord, key: string) => unknown,
    change: Removal,
    removed: Removed<T>,
  ): Promise<Result<{ released: T[]; agent: AgentRecord }, RegistrarError<'UNKNOWN_AGENT'>>> {
    const keys = await this.presentOnly(agentId, [...new Set(named)], holds);
    if (!keys.ok) return keys;
    if (keys.value.agent && keys.value.ids.length === 0) return ok({ released: [], agent: keys.value.agent });
    const released: T[] = [];
    let agent: AgentRecord | undefined = keys.value.agent;
    for (const chunk of chunked(keys.value.ids)) {
      const result = await this.removeEntries(agentId, change(chunk));
      if (!result.ok) return result;
      const done = removed(result.value.old, result.value.written, chunk);
      released.push(...done.released);
      agent = done.agent;
    }
    return ok({ released, agent: agent as AgentRecord });
  }

  /**
   * The ledger entries to remove, in writes DynamoDB takes (an expression's size is bounded). A few
   * go as named, in one write; more are first narrowed to those the ledger holds (entries never come
   * back once gone, so the read cannot miss one), which makes thousands of unknown ids one read.
   */
  private async presentOnly(
    agentId: string,
    named: readonly string[],
    holds: (agent: AgentRecord, id: string) => unknown,
  ): Promise<Result<{ ids: string[]; agent?: AgentRecord }, RegistrarError<'UNKNOWN_AGENT'>>> {
    if (named.length <= ENTRIES_PER_WRITE) return ok({ ids: [...named] });
    const agent = await this.store.get(agentId);
    if (!agent) return failure('UNKNOWN_AGENT', `Agent ${agentId} is not registered`);
    return ok({ ids: named.filter((id) => holds(agent, id) !== undefined), agent });
  }

  /**
   * Runs a removal of ledger entries (undefined: nothing to remove, so no write). Returns the item as
   * it was before, and whether anything was removed.
   */
  private async removeEntries(
    agentId: string,
    change: ItemChange | undefined,
  ): Promise<Result<{ old: AgentRecord; written: boolean }, RegistrarError<'UNKNOWN_AGENT'>>> {
    if (!change) {
      const current = await this.store.get(agentId);
      return current
        ? ok({ old: current, written: false })
        : failure('UNKNOWN_AGENT', `Agent ${agentId} is not registered`);
    }
    const outcome = await this.store.run(agentId, change, 'ALL_OLD');
    if (outcome.written) return ok({ old: agentFromItem(outcome.item), written: true });
    if (!outcome.old) return failure('UNKNOWN_AGENT', `Agent ${agentId} is not registered`);
    return ok({ old: agentFromItem(outcome.old), written: false });
  }
}
