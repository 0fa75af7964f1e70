/**
 * Counts DynamoDB writes per partition key, per second, for bench:scale: a middleware on the master's DynamoDB
 * client that reads the table and partition key of every item a write touches (PutItem, UpdateItem, DeleteItem,
 * BatchWriteItem, TransactWriteItems, ConditionChecks included: they take write capacity too; the PartiQL writes of
 * a BatchExecuteStatement, read from their text by partiql.ts) and the write capacity units DynamoDB Local says
 * each consumed (ReturnConsumedCapacity; a batch's or transaction's units are shared evenly among its items of each
 * table; a write it reports none for, as for BatchExecuteStatement, counts one). A write that fails (a condition
 * not met) still counts one item write and one unit: DynamoDB bills it.
 *
 * The heartbeat log is keyed by the minute it is written in: only the current minute's key takes writes, at a rate
 * set by the fleet's size and heartbeat interval. Its writes are metered as one key, `(current minute)`, so that the
 * idle phase and the run (which fall in different minutes) measure the same key, and the run's share per task comes
 * out as what the heartbeats do not depend on: nothing.
 */
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TABLE_DEFINITIONS, type TableId } from '../../functions/registrar/tables.js';
import { insertedItem, statementTable, updatedKey } from './partiql.js';
import { round } from './throughput.js';

/** DynamoDB's write capacity per partition, units a second. */
export const PARTITION_LIMIT_WCU = 1000;

interface ItemWrite {
  readonly table: string;
  readonly key: string;
}

/** Tables keyed by the time they are written in, and the one key each is metered as. */
const TIME_KEYED: ReadonlyMap<TableId, string> = new Map([['heartbeats', '(current minute)']]);

interface Consumed {
  readonly TableName?: string;
  readonly CapacityUnits?: number;
}

type Input = Record<string, unknown>;

/** One key's writes: item writes and units, per second since the meter started. */
interface KeyWrites {
  readonly writes: Map<number, number>;
  readonly units: Map<number, number>;
}

export interface KeyFigure {
  readonly table: TableId | string;
  readonly key: string;
  readonly writes: number;
  readonly units: number;
  /** The busiest second's units. */
  readonly peak_units_per_second: number;
}

/** A key attribute's value, marshalled ({ S: 'a' }) or not (the document client's plain 'a'). */
function keyValue(value: AttributeValue | string | number | undefined): string {
  if (value === undefined) return '?';
  if (typeof value !== 'object') return String(value);
  if ('S' in value && value.S !== undefined) return value.S;
  if ('N' in value && value.N !== undefined) return value.N;
  return JSON.stringify(value);
}

export class PartitionWriteMeter {
  private readonly keys = new Map<string, KeyWrites>();
  private readonly started = performance.now();
  /** Table name -> [table id, partition key attribute]. */
  private readonly tables: Map<string, [TableId, string]>;

  constructor(tableNames: Readonly<Record<TableId, string>>) {
    this.tables = new Map(
      TABLE_DEFINITIONS.map((table) => [
        tableNames[table.id],
        [table.id, table.partitionKey.name] as [TableId, string],
      ]),
    );
  }

  attach(client: DynamoDBClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as Input;
        const items = this.itemWrites(context.commandName ?? '', input);
        if (items.length === 0) return next(args);
        input.ReturnConsumedCapacity ??= 'TOTAL';
        const second = Math.floor((performance.now() - this.started) / 1000);
        try {
          const result = await next(args);
          const consumed = (result.output as { ConsumedCapacity?: Consumed | Consumed[] }).ConsumedCapacity;
          this.record(items, Array.isArray(consumed) ? consumed : consumed ? [consumed] : [], second);
          return result;
        } catch (error) {
          this.record(items, [], second);
          throw error;
        }
      },
      // Before the serializer, so that the request asks for the units.
      { step: 'serialize', priority: 'high', name: 'partitionWriteMeter' },
    );
  }

  private itemWrites(command: string, input: Input): ItemWrite[] {
    const one = (table: unknown, key: Record<string, AttributeValue> | undefined): ItemWrite[] => {
      const name = String(table);
      const [id, attribute] = this.tables.get(name) ?? [];
      const timeKey = id ? TIME_KEYED.get(id) : undefined;
      return [{ table: name, key: timeKey ?? (attribute ? keyValue(key?.[attribute]) : '?') }];
    };
    switch (command) {
      case 'PutItemCommand':
        return one(input.TableName, input.Item as Record<string, AttributeValue>);
      case 'UpdateItemCommand':
      case 'DeleteItemCommand':
        return one(input.TableName, input.Key as Record<string, AttributeValue>);
      case 'BatchWriteItemCommand':
        return Object.entries(
          (input.RequestItems ?? {}) as Record<
            string,
            Array<{
              PutRequest?: { Item: Record<string, AttributeValue> };
              DeleteRequest?: { Key: Record<string, AttributeValue> };
            }>
          >,
        ).flatMap(([table, requests]) =>
          requests.flatMap((request) => one(table, request.PutRequest?.Item ?? request.DeleteRequest?.Key)),
        );
      case 'TransactWriteItemsCommand':
        return (
          (input.TransactItems ?? []) as Array<
            Record<
              string,
              { TableName?: string; Item?: Record<string, AttributeValue>; Key?: Record<string, AttributeValue> }
            >
          >
        ).flatMap((item) => {
          const operation = Object.values(item)[0];
          return operation ? one(operation.TableName, operation.Item ?? operation.Key) : [];
        });
      case 'BatchExecuteStatementCommand':
        // PartiQL writes (the allocator's offers, a status batch's rows, a launch's inserts): the key from the text.
        return ((input.Statements ?? []) as Array<{ Statement?: string; Parameters?: unknown[] }>).flatMap((entry) => {
          const statement = entry.Statement ?? '';
          if (!/^\s*(UPDATE|INSERT|DELETE)\b/i.test(statement)) return [];
          const table = statementTable(statement);
          const attribute = this.tables.get(table)?.[1];
          const parameters = entry.Parameters ?? [];
          const item = attribute
            ? (insertedItem(statement, parameters) ?? updatedKey(statement, parameters, [attribute]))
            : undefined;
          return one(table, item as Record<string, AttributeValue> | undefined);
        });
      default:
        return [];
    }
  }

  private record(items: readonly ItemWrite[], consumed: readonly Consumed[], second: number): void {
    for (const item of items) {
      const sameTable = items.filter((other) => other.table === item.table).length;
      const tableUnits =
        consumed.length === 1 && consumed[0]?.TableName === undefined
          ? consumed[0]?.CapacityUnits
          : consumed.find((entry) => entry.TableName === item.table)?.CapacityUnits;
      const units = tableUnits !== undefined ? tableUnits / sameTable : 1;
      const name = `${item.table}\u0000${item.key}`;
      let entry = this.keys.get(name);
      if (!entry) {
        entry = { writes: new Map(), units: new Map() };
        this.keys.set(name, entry);
      }
      entry.writes.set(second, (entry.writes.get(second) ?? 0) + 1);
      entry.units.set(second, (entry.units.get(second) ?? 0) + units);
    }
  }

  /** Seconds since the meter started (the clock its per-second buckets are on). */
  now(): number {
    return (performance.now() - this.started) / 1000;
  }

  /** Every key's writes and units in [from, to) seconds of the meter's clock. */
  between(from: number, to: number): KeyFigure[] {
    const figures: KeyFigure[] = [];
    const first = Math.floor(from);
    const last = Math.ceil(to);
    for (const [name, entry] of this.keys) {
      const [table, key] = name.split('\u0000') as [string, string];
      let writes = 0;
      let units = 0;
      let peak = 0;
      for (let second = first; second < last; second++) {
        writes += entry.writes.get(second) ?? 0;
        const inSecond = entry.units.get(second) ?? 0;
        units += inSecond;
        peak = Math.max(peak, inSecond);
      }
      if (writes === 0) continue;
      figures.push({ table: this.tables.get(table)?.[0] ?? table, key, writes, units, peak_units_per_second: peak });
    }
    return figures.sort((a, b) => b.units - a.units);
  }
}

/**
 * Each key's idle units per second (b) and units per task (a), at the AWS rate: a * R + b. The hottest key, and the
 * task rate at which it would reach DynamoDB's partition limit.
 */
export function partitionFigures(
  idle: readonly KeyFigure[],
  idleSeconds: number,
  run: readonly KeyFigure[],
  runSeconds: number,
  tasks: number,
  awsRate: number,
) {
  const keys = new Map<string, { table: string; key: string; idle?: KeyFigure; run?: KeyFigure }>();
  for (const [phase, figures] of [
    ['idle', idle],
    ['run', run],
  ] as const) {
    for (const figure of figures) {
      const name = `${figure.table}/${figure.key}`;
      const entry = keys.get(name) ?? { table: String(figure.table), key: figure.key };
      entry[phase] = figure;
      keys.set(name, entry);
    }
  }
  const scaled = [...keys.values()].map((entry) => {
    const idlePerSecond = (entry.idle?.units ?? 0) / idleSeconds;
    const perTask = Math.max(0, ((entry.run?.units ?? 0) - idlePerSecond * runSeconds) / tasks);
    const atAwsRate = perTask * awsRate + idlePerSecond;
    return {
      table: entry.table,
      key: entry.key,
      run_writes: entry.run?.writes ?? 0,
      run_units: round(entry.run?.units ?? 0),
      run_units_per_second: round((entry.run?.units ?? 0) / runSeconds),
      run_peak_units_per_second: round(entry.run?.peak_units_per_second ?? 0),
      idle_units_per_second: round(idlePerSecond),
      units_per_task: Math.round(perTask * 1000) / 1000,
      units_per_second_at_aws_rate: round(atAwsRate),
      tasks_per_second_at_limit:
        perTask > 0 ? Math.round(Math.max(0, PARTITION_LIMIT_WCU - idlePerSecond) / perTask) : null,
    };
  });
  const byScaled = [...scaled].sort((a, b) => b.units_per_second_at_aws_rate - a.units_per_second_at_aws_rate);
  const byMeasured = [...scaled].sort((a, b) => b.run_units_per_second - a.run_units_per_second);
  // Each table's hottest key: a framework's keys are its write shards, so one table's keys can fill the top ten.
  const byTable = new Map<string, (typeof scaled)[number]>();
  for (const entry of byScaled) if (!byTable.has(entry.table)) byTable.set(entry.table, entry);
  return {
    hottest_at_aws_rate: byScaled[0],
    hottest_measured: byMeasured[0],
    hottest_by_table: Object.fromEntries(byTable),
    top: byScaled.slice(0, 10),
  };
}
