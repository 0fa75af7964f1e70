/**
 * StatementBatches, the status handler's group commit (functions/registrar/statement-batches.ts), against a
 * recording executor: what one turn brings goes out together, at most 25 a request, never one item twice in a
 * request; a request that fails is an error outcome for each of its statements.
 */
import { describe, expect, it } from 'vitest';
import type { BatchStatement, StatementOutcome } from '../../functions/registrar/context.js';
import { StatementBatches } from '../../functions/registrar/statement-batches.js';

function statement(id: string): BatchStatement {
  return { table: 'tasks', key: { task_id: id }, statement: `UPDATE "tasks" WHERE "task_id" = ?`, parameters: [id] };
}

function recording(answer: (statements: readonly BatchStatement[]) => Promise<StatementOutcome[]>) {
  const requests: string[][] = [];
  const batches = new StatementBatches((statements) => {
    requests.push(statements.map((s) => s.key.task_id as string));
    return answer(statements);
  });
  return { batches, requests };
}

const allWritten = (statements: readonly BatchStatement[]) =>
  Promise.resolve(statements.map((): StatementOutcome => ({ written: true })));

describe('StatementBatches', () => {
  it("sends a turn's statements together, 25 a request, and answers each caller its own outcome", async () => {
    const { batches, requests } = recording((statements) =>
      Promise.resolve(
        statements.map((s): StatementOutcome =>
          s.key.task_id === 't7' ? { written: false, old: {} } : { written: true },
        ),
      ),
    );
    const ids = Array.from({ length: 30 }, (_, i) => `t${i}`);
    const outcomes = await Promise.all(ids.map((id) => batches.write(statement(id))));
    expect(requests.map((r) => r.length)).toEqual([25, 5]);
    expect(requests.flat()).toEqual(ids);
    expect(outcomes.filter((o) => !o.written)).toEqual([{ written: false, old: {} }]);
    expect(outcomes[7]).toEqual({ written: false, old: {} });
  });

  it('puts a second write of one item in the next request', async () => {
    const { batches, requests } = recording(allWritten);
    await Promise.all([batches.write(statement('a')), batches.write(statement('b')), batches.write(statement('a'))]);
    expect(requests).toEqual([['a', 'b'], ['a']]);
  });

  it('answers every statement of a failed request with its error, and rejects no caller', async () => {
    const { batches } = recording(() =>
      Promise.reject(Object.assign(new Error('throttled'), { name: 'ThrottlingException' })),
    );
    const outcomes = await Promise.all([batches.write(statement('x')), batches.write(statement('y'))]);
    expect(outcomes).toEqual([
      { written: false, error: 'ThrottlingException' },
      { written: false, error: 'ThrottlingException' },
    ]);
  });

  it('sends what comes in a later turn in a request of its own', async () => {
    const { batches, requests } = recording(allWritten);
    await batches.write(statement('first'));
    await batches.write(statement('second'));
    expect(requests).toEqual([['first'], ['second']]);
  });
});
