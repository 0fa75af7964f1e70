/**
 * The conditional write of a status update to a task's row (tasks.ts, `updateStatus`), alone as an UpdateItem or,
 * for the status handler, with the concurrent ones in one BatchExecuteStatement (statement-batches.ts): a batch of
 * updates of ten tasks is one request, not ten.
 */
import type { RegistrarContext } from './context.js';
import { Expression, partiqlName, type Item } from './expression.js';
import type { StatementBatches } from './statement-batches.js';
import { rowKey, type TaskRecord } from './task-items.js';

export class StatusRowWrites {
  constructor(
    private readonly context: RegistrarContext,
    private readonly batches: StatementBatches,
  ) {}

  /**
   * Writes a status update's `fields` to `task`'s row on the condition that it is still the version read (and on
   * the sending agent); false when the condition failed. A batched write that failed otherwise (throttled, or its
   * request lost) is made again on its own, with the SDK's retries.
   */
  async write(
    task: TaskRecord,
    fields: Item,
    from: { readonly agentId?: string; readonly batched?: boolean },
  ): Promise<boolean> {
    const table = this.context.tables.tasks;
    const key = rowKey(task.frameworkId, task.taskId);
    const condition: Item = {
      version: task.version,
      ...(from.agentId !== undefined ? { agent_id: from.agentId } : {}),
    };
    if (from.batched) {
      const names = Object.keys(fields);
      const where = [...Object.keys(key), ...Object.keys(condition)];
      const outcome = await this.batches.write({
        table,
        key,
        statement:
          `UPDATE ${partiqlName(table)} ${names.map((name) => `SET ${partiqlName(name)} = ?`).join(' ')} ` +
          `WHERE ${where.map((name) => `${partiqlName(name)} = ?`).join(' AND ')}`,
        parameters: [...names.map((name) => fields[name]), ...Object.values(key), ...Object.values(condition)],
      });
      if (!('error' in outcome)) return outcome.written;
    }
    const x = new Expression();
    const outcome = await this.context.update(
      {
        TableName: table,
        Key: key,
        UpdateExpression: `SET ${Object.entries(fields)
          .map(([name, value]) => `${x.name(name)} = ${x.value(value)}`)
          .join(', ')}`,
        ConditionExpression: Object.entries(condition)
          .map(([name, value]) => `${x.name(name)} = ${x.value(value)}`)
          .join(' AND '),
        ...x.attributes(),
      },
      'NONE',
    );
    return outcome.written;
  }
}
