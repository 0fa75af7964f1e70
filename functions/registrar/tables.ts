/**
 * The registrar's DynamoDB tables, defined once. The local bootstrap creates them from these
 * definitions and the CDK stack declares them from the same ones, so the two cannot drift.
 */

export type TableId =
  | 'agents'
  | 'frameworks'
  | 'tasks'
  | 'taskinfos'
  | 'filters'
  | 'heartbeats'
  | 'roles'
  | 'principals'
  | 'counters'
  | 'pending'
  | 'changes'
  | 'maintenance'
  | 'settings';

export interface KeyAttribute {
  readonly name: string;
  readonly type: 'S' | 'N';
}

export interface TableDefinition {
  readonly id: TableId;
  /**
   * The name after the cluster's prefix, where it is not the id: a table whose keys changed takes a new name, since
   * CloudFormation replaces a named table only under another name (and a local data dir keeps the old table).
   */
  readonly name?: string;
  readonly description: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /** Epoch-seconds attribute after which DynamoDB may delete the item (finished records). */
  readonly timeToLiveAttribute?: string;
}

export const TABLE_DEFINITIONS: readonly TableDefinition[] = [
  {
    id: 'agents',
    description: 'Admitted agents, each with its ledger: total resources, outstanding offers, resources per task',
    partitionKey: { name: 'agent_id', type: 'S' },
  },
  {
    id: 'frameworks',
    description: 'Frameworks: FrameworkInfo, subscription (stream id), lifecycle state',
    partitionKey: { name: 'framework_id', type: 'S' },
    timeToLiveAttribute: 'expires_at',
  },
  {
    id: 'tasks',
    name: 'tasks-v2',
    description:
      "Tasks by framework (task ids are unique per framework), in the framework's write shards (shards.ts): state, latest status, update uuids",
    partitionKey: { name: 'framework_shard', type: 'S' },
    sortKey: { name: 'task_id', type: 'S' },
    timeToLiveAttribute: 'expires_at',
  },
  {
    id: 'taskinfos',
    name: 'taskinfos-v2',
    description:
      "Each task row's TaskInfo, under the row's key, written once at launch and given the row's expiry at the task's end (kept out of the row each status update rewrites, which DynamoDB bills by the item's size)",
    partitionKey: { name: 'framework_shard', type: 'S' },
    sortKey: { name: 'task_id', type: 'S' },
    timeToLiveAttribute: 'expires_at',
  },
  {
    id: 'filters',
    name: 'filters-v2',
    description:
      "Refused-offer filters, one per framework, role and agent, in the framework's write shards by agent (soft state: a framework's filters would outgrow one item)",
    partitionKey: { name: 'framework_shard', type: 'S' },
    sortKey: { name: 'filter_key', type: 'S' },
    timeToLiveAttribute: 'expires_at',
  },
  {
    id: 'heartbeats',
    description:
      "Agents' heartbeats, one item per batch the heartbeat handler received, by minute (soft state, kept 15 minutes)",
    partitionKey: { name: 'minute', type: 'N' },
    sortKey: { name: 'batch', type: 'S' },
    timeToLiveAttribute: 'expires_at',
  },
  {
    id: 'roles',
    description: 'Roles: weight and quota',
    partitionKey: { name: 'role', type: 'S' },
  },
  {
    id: 'principals',
    description: 'Principals: hashed secrets and the roles each may use',
    partitionKey: { name: 'principal', type: 'S' },
  },
  {
    id: 'counters',
    description: "The cluster's task counts by state, kept by the task writes themselves, in a few shards",
    partitionKey: { name: 'shard', type: 'N' },
  },
  {
    id: 'pending',
    description: "Why a framework's role was offered nothing: the allocator's latest reason (soft state)",
    partitionKey: { name: 'framework_id', type: 'S' },
    sortKey: { name: 'role', type: 'S' },
    timeToLiveAttribute: 'expires_at',
  },
  {
    id: 'changes',
    description:
      "The change feed operators' SUBSCRIBE streams read: tasks, agents and frameworks that changed, by minute, written only while someone watches (kept 15 minutes)",
    partitionKey: { name: 'bucket', type: 'N' },
    sortKey: { name: 'seq', type: 'S' },
    timeToLiveAttribute: 'expires_at',
  },
  {
    id: 'maintenance',
    description:
      "The cluster's maintenance schedule, its machines' modes and the frameworks' answers to inverse offers",
    partitionKey: { name: 'key', type: 'S' },
  },
  {
    id: 'settings',
    description: "The master's settings operators change at run time (the logging level), one item each",
    partitionKey: { name: 'setting', type: 'S' },
  },
];

export type TableNames = Readonly<Record<TableId, string>>;

/** Table names for a cluster: `<prefix>-agents`, `<prefix>-tasks-v2`, ... */
export function tableNames(prefix: string): TableNames {
  const names = Object.fromEntries(TABLE_DEFINITIONS.map((table) => [table.id, `${prefix}-${table.name ?? table.id}`]));
  return names as Record<TableId, string>;
}

/** The environment variable that carries a table's name into a Lambda function (MANTLE_TABLE_AGENTS...). */
export function tableEnvironmentVariable(id: TableId): string {
  return `MANTLE_TABLE_${id.toUpperCase()}`;
}

export function tableNamesFromEnvironment(env: NodeJS.ProcessEnv = process.env): TableNames {
  const names = {} as Record<TableId, string>;
  for (const table of TABLE_DEFINITIONS) {
    const name = env[tableEnvironmentVariable(table.id)];
    if (!name) throw new Error(`${tableEnvironmentVariable(table.id)} is not set`);
    names[table.id] = name;
  }
  return names;
}
