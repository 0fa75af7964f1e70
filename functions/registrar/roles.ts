/**
 * Roles: weights (Mesos docs/weights.md) and quota (Mesos docs/quota.md). Read by the allocator on every pass,
 * written by operators. Writes are conditional on the version read (concurrent operator edits do not clobber).
 */
import { ok, type Result } from '#shared/result.js';
import { validateRole } from '#shared/roles.js';
import { RETRY, retrying, type RegistrarContext } from './context.js';
import { Expression, type Item } from './expression.js';
import { failure, type RegistrarError } from './errors.js';

/** Scalar quantities by resource name, e.g. { cpus: 8, gpus: 2 }. */
export type ResourceQuantities = Readonly<Record<string, number>>;

export interface Quota {
  readonly guarantees: ResourceQuantities;
  readonly limits: ResourceQuantities;
}

export interface RoleRecord {
  readonly role: string;
  readonly weight: number;
  readonly quota: Quota;
  readonly version: number;
}

export const DEFAULT_WEIGHT = 1;

function roleFromItem(item: Item): RoleRecord {
  return {
    role: item.role as string,
    weight: (item.weight ?? DEFAULT_WEIGHT) as number,
    quota: {
      guarantees: (item.quota_guarantees ?? {}) as ResourceQuantities,
      limits: (item.quota_limits ?? {}) as ResourceQuantities,
    },
    version: item.version as number,
  };
}

// Quota is on scalar resources only (Mesos QuotaConfig); these names are not scalars.
const NON_SCALAR_RESOURCES = new Set(['ports']);

function quantityError(label: string, quantities: unknown): string | undefined {
  if (typeof quantities !== 'object' || quantities === null || Array.isArray(quantities)) {
    return `${label} must be a map of resource name to quantity`;
  }
  for (const [name, value] of Object.entries(quantities)) {
    if (name === '') return `${label}: empty resource name`;
    if (NON_SCALAR_RESOURCES.has(name)) return `${label}: quota applies to scalar resources only, not '${name}'`;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      return `${label}: '${name}' must be a non-negative number`;
    }
  }
  return undefined;
}

/** The Mesos rules for a quota config (quota_handler.cpp), as a pure check. */
export function validateQuota(role: string, quota: Quota): string | undefined {
  const roleError = validateRole(role);
  if (roleError) return roleError;
  if (role.includes('/')) return `Quota on nested role '${role}' is not supported`;
  const error = quantityError('guarantees', quota.guarantees) ?? quantityError('limits', quota.limits);
  if (error) return error;
  for (const [name, guarantee] of Object.entries(quota.guarantees)) {
    const limit = quota.limits[name];
    if (limit !== undefined && guarantee > limit) {
      return `The guarantee of '${name}' (${guarantee}) exceeds its limit (${limit})`;
    }
  }
  return undefined;
}

export class RoleRegistry {
  constructor(private readonly context: RegistrarContext) {}

  private get table(): string {
    return this.context.tables.roles;
  }

  async get(role: string): Promise<RoleRecord | undefined> {
    const item = await this.context.get(this.table, { role });
    return item ? roleFromItem(item) : undefined;
  }

  /** Every role with a weight or quota set (the table is small: one item per configured role). */
  async list(): Promise<RoleRecord[]> {
    const roles: RoleRecord[] = [];
    for await (const item of this.context.scan(this.table)) roles.push(roleFromItem(item));
    return roles.sort((a, b) => a.role.localeCompare(b.role));
  }

  /** Sets a role's weight (UPDATE_WEIGHTS). Weights must be positive (Mesos answers 400 otherwise). */
  async setWeight(role: string, weight: number): Promise<Result<RoleRecord, RegistrarError<'INVALID_ROLE'>>> {
    const roleError = validateRole(role);
    if (roleError) return failure('INVALID_ROLE', roleError);
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
      return failure('INVALID_ROLE', `Invalid weight ${String(weight)} for role '${role}': it must be positive`);
    }
    return this.write(role, { weight });
  }

  /** Sets a role's quota (UPDATE_QUOTA for one role). */
  async setQuota(role: string, quota: Quota): Promise<Result<RoleRecord, RegistrarError<'INVALID_QUOTA'>>> {
    const error = validateQuota(role, quota);
    if (error) return failure('INVALID_QUOTA', error);
    return this.write(role, { quota_guarantees: { ...quota.guarantees }, quota_limits: { ...quota.limits } });
  }

  private async write(role: string, fields: Item): Promise<Result<RoleRecord, never>> {
    const result = await retrying(16, async () => {
      const current = await this.get(role);
      const x = new Expression();
      const sets = Object.entries({
        ...fields,
        version: (current?.version ?? 0) + 1,
        updated_at: this.context.now(),
      }).map(([name, value]) => `${x.name(name)} = ${x.value(value)}`);
      const outcome = await this.context.update({
        TableName: this.table,
        Key: { role },
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: current
          ? `${x.name('version')} = ${x.value(current.version)}`
          : `attribute_not_exists(${x.name('role')})`,
        ...x.attributes(),
      });
      return outcome.written ? ok(roleFromItem(outcome.item)) : RETRY;
    });
    if (result === RETRY) throw new Error(`Role ${role} kept changing; the update gave up`);
    return result;
  }
}
