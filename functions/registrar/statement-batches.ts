/**
 * Group commit for conditional PartiQL writes: statements written by concurrent callers (a status batch's message
 * groups, each applying its own task's update) go out together, up to BATCH_STATEMENT_LIMIT a BatchExecuteStatement
 * request, in place of one UpdateItem each. DynamoDB decides each statement alone and bills it as the single write
 * it stands for, so only the requests (and their round trips) are saved. What one turn of the event loop brings is
 * sent at its end; no item appears twice in a request (DynamoDB refuses that), a second write of it waits for the
 * next one. A request that fails as a whole is every statement's `error` outcome: the caller decides what to redo.
 */
import { BATCH_STATEMENT_LIMIT, type BatchStatement, type StatementOutcome } from './context.js';
import { partiqlName, type Item } from './expression.js';

interface Pending {
  readonly statement: BatchStatement;
  readonly resolve: (outcome: StatementOutcome) => void;
}

export class StatementBatches {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(private readonly execute: (statements: readonly BatchStatement[]) => Promise<StatementOutcome[]>) {}

  /** Writes `statement` in the next request; never rejects (a failed request is `{ written: false, error }`). */
  write(statement: BatchStatement): Promise<StatementOutcome> {
    return new Promise((resolve) => {
      this.pending.push({ statement, resolve });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    this.scheduled = false;
    const requests: Pending[][] = [];
    let request: Pending[] = [];
    let keys = new Set<string>();
    const deferred: Pending[] = [];
    for (const entry of this.pending.splice(0)) {
      const key = JSON.stringify([entry.statement.table, entry.statement.key]);
      if (keys.has(key)) {
        deferred.push(entry);
        continue;
      }
      request.push(entry);
      keys.add(key);
      if (request.length === BATCH_STATEMENT_LIMIT) {
        requests.push(request);
        request = [];
        keys = new Set();
      }
    }
    if (request.length > 0) requests.push(request);
    for (const entries of requests) void this.send(entries);
    if (deferred.length > 0) {
      this.pending.push(...deferred);
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private async send(entries: readonly Pending[]): Promise<void> {
    let outcomes: StatementOutcome[];
    try {
      outcomes = await this.execute(entries.map((entry) => entry.statement));
    } catch (error) {
      const code = (error as { name?: string } | undefined)?.name ?? 'REQUEST_FAILED';
      outcomes = entries.map(() => ({ written: false, error: code }));
    }
    entries.forEach((entry, i) => entry.resolve(outcomes[i] ?? { written: false, error: 'NO_RESPONSE' }));
  }
}

/** A PartiQL INSERT of `item` (whose key is `key`): written only where no item has that key. */
export function insertStatement(table: string, key: Item, item: Item): BatchStatement {
  const names = Object.keys(item);
  return {
    table,
    key,
    statement: `INSERT INTO ${partiqlName(table)} VALUE {${names.map((name) => `'${name.replaceAll("'", "''")}': ?`).join(', ')}}`,
    parameters: names.map((name) => item[name]),
  };
}
