/**
 * The maintenance store: the cluster's schedule, machine modes, outstanding inverse offers and the
 * frameworks' answers, in one item (Mesos keeps the schedule and the modes in its registry the same
 * way). Every change is computed from the item as read (functions/maintenance/schedule.ts) and written
 * conditioned on its version; a lost race reads again. One item bounds the schedule to what 400 KB
 * holds: some thousands of machines.
 */
import { EMPTY_MAINTENANCE, type MaintenanceRecord } from '../maintenance/schedule.js';
import { err, ok, type Result } from '#shared/result.js';
import { RETRY, retrying, type RegistrarContext } from './context.js';
import type { Item } from './expression.js';

const KEY = { key: 'cluster' } as const;

function recordFromItem(item: Item | undefined): MaintenanceRecord {
  if (!item) return EMPTY_MAINTENANCE;
  const state = JSON.parse(item.state as string) as Omit<MaintenanceRecord, 'version'>;
  return { ...EMPTY_MAINTENANCE, ...state, version: item.version as number };
}

export class MaintenanceStore {
  constructor(private readonly context: RegistrarContext) {}

  private get table(): string {
    return this.context.tables.maintenance;
  }

  async get(): Promise<MaintenanceRecord> {
    return recordFromItem(await this.context.get(this.table, KEY));
  }

  /**
   * Applies `change` to the record as read and writes the result conditioned on the version read;
   * returns the written record and what `change` said, or its refusal. Undefined from `change`: nothing to write.
   */
  async modify<T, E>(
    change: (current: MaintenanceRecord) => Result<{ next: MaintenanceRecord; outcome: T } | undefined, E>,
  ): Promise<Result<{ record: MaintenanceRecord; outcome?: T }, E>> {
    const result = await retrying(16, async () => {
      const current = await this.get();
      const decided = change(current);
      if (!decided.ok) return err(decided.error);
      if (!decided.value) return ok({ record: current });
      const { version: _version, ...state } = decided.value.next;
      const version = current.version + 1;
      const outcome = await this.context.put({
        TableName: this.table,
        Item: { ...KEY, state: JSON.stringify(state), version },
        ConditionExpression: current.version === 0 ? 'attribute_not_exists(#v)' : '#v = :v',
        ExpressionAttributeNames: { '#v': 'version' },
        ...(current.version === 0 ? {} : { ExpressionAttributeValues: { ':v': current.version } }),
      });
      if (!outcome.written) return RETRY;
      return ok({ record: { ...decided.value.next, version }, outcome: decided.value.outcome });
    });
    if (result === RETRY) throw new Error('The maintenance schedule kept changing; gave up');
    return result;
  }
}
