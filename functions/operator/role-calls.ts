/**
 * Roles, weights and quota: GET_ROLES, GET_WEIGHTS, UPDATE_WEIGHTS, GET_QUOTA, UPDATE_QUOTA (Mesos
 * docs/weights.md, docs/quota.md, `src/master/weights_handler.cpp`, `quota_handler.cpp`). Updates are
 * validated whole before anything is written (all or nothing, as Mesos applies them in one registry
 * operation), then written through the role registry's conditional writes, and an allocation pass is
 * asked for so that the new shares apply at once.
 */
import { z } from 'zod';
import { validateRole } from '#shared/roles.js';
import { validateQuota, type Quota, type RoleRecord } from '../registrar/roles.js';
import type { Master } from '../master/master.js';
import { operatorCall } from './dispatch.js';
import { badRequest, OK, respond } from './responses.js';
import { roleConsumption, capacity, getRoles } from './roles-view.js';
import { readSnapshot } from './snapshot.js';

const WeightInfoSchema = z.object({ weight: z.number(), role: z.string() });
const UpdateWeightsSchema = z.object({ weight_infos: z.array(WeightInfoSchema).default([]) });

const ScalarSchema = z.object({ value: z.number() });
const QuotaConfigSchema = z.object({
  role: z.string(),
  guarantees: z.record(z.string(), ScalarSchema).default({}),
  limits: z.record(z.string(), ScalarSchema).default({}),
});
const UpdateQuotaSchema = z.object({
  force: z.boolean().default(false),
  quota_configs: z.array(QuotaConfigSchema).default([]),
});

const DEFAULT_WEIGHT = 1;

export const GET_ROLES = operatorCall({
  type: 'GET_ROLES',
  handle: async (master) => {
    const [roles, snapshot] = await Promise.all([
      master.registrar.roles.list(),
      readSnapshot(master, { agents: true, frameworks: true }),
    ]);
    return respond('GET_ROLES', 'get_roles', { roles: getRoles(roles, snapshot) });
  },
});

export const GET_WEIGHTS = operatorCall({
  type: 'GET_WEIGHTS',
  handle: async (master) => {
    const roles = await master.registrar.roles.list();
    const weightInfos = roles
      .filter((role) => role.weight !== DEFAULT_WEIGHT)
      .map((role) => ({ weight: role.weight, role: role.role }));
    return respond('GET_WEIGHTS', 'get_weights', { weight_infos: weightInfos });
  },
});

export const UPDATE_WEIGHTS = operatorCall({
  type: 'UPDATE_WEIGHTS',
  field: 'update_weights',
  payload: UpdateWeightsSchema,
  handle: async (master, { payload }) => {
    const seen = new Set<string>();
    for (const { role, weight } of payload.weight_infos) {
      const roleError = validateRole(role);
      if (roleError) return badRequest(`Invalid role '${role}': ${roleError}`);
      if (!Number.isFinite(weight) || weight <= 0) {
        return badRequest(`Invalid weight '${weight}' for role '${role}': weights must be positive`);
      }
      if (seen.has(role)) return badRequest(`Role '${role}' appears more than once`);
      seen.add(role);
    }
    for (const { role, weight } of payload.weight_infos) await master.registrar.roles.setWeight(role, weight);
    master.logger.info('Weights updated', { weights: payload.weight_infos });
    await master.allocation.request({ reason: 'PERIODIC' });
    return OK;
  },
});

function quantities(map: Record<string, { value: number }>): Record<string, number> {
  return Object.fromEntries(Object.entries(map).map(([name, scalar]) => [name, scalar.value]));
}

function scalars(map: Readonly<Record<string, number>>): Record<string, { value: number }> {
  return Object.fromEntries(Object.entries(map).map(([name, value]) => [name, { value }]));
}

/** Mesos `quota.QuotaStatus`: `configs`, and the deprecated `infos` (guarantees as resources). */
export function quotaStatus(roles: readonly RoleRecord[]): Record<string, unknown> {
  const configured = roles.filter(
    (role) => Object.keys(role.quota.guarantees).length > 0 || Object.keys(role.quota.limits).length > 0,
  );
  return {
    infos: configured.map((role) => ({
      role: role.role,
      guarantee: Object.entries(role.quota.guarantees).map(([name, value]) => ({
        name,
        type: 'SCALAR',
        scalar: { value },
      })),
    })),
    configs: configured.map((role) => ({
      role: role.role,
      guarantees: scalars(role.quota.guarantees),
      limits: scalars(role.quota.limits),
    })),
  };
}

export const GET_QUOTA = operatorCall({
  type: 'GET_QUOTA',
  handle: async (master) =>
    respond('GET_QUOTA', 'get_quota', { status: quotaStatus(await master.registrar.roles.list()) }),
});

/** Mesos's checks a `force` skips: a limit under what the role consumes, guarantees over the cluster's capacity. */
async function forcibleRefusal(master: Master, quotas: ReadonlyMap<string, Quota>): Promise<string | undefined> {
  const snapshot = await readSnapshot(master, { agents: true });
  for (const [role, quota] of quotas) {
    const consumed = roleConsumption(snapshot.agents, role);
    for (const [name, limit] of Object.entries(quota.limits)) {
      if ((consumed[name] ?? 0) > limit) {
        return `Role '${role}' is already consuming ${consumed[name]} ${name}, over the requested limit ${limit} (use 'force' to set it anyway)`;
      }
    }
  }
  const roles = await master.registrar.roles.list();
  const guarantees: Record<string, number> = {};
  for (const role of roles) {
    const quota = quotas.get(role.role) ?? role.quota;
    for (const [name, value] of Object.entries(quota.guarantees)) guarantees[name] = (guarantees[name] ?? 0) + value;
  }
  for (const [role, quota] of quotas) {
    if (roles.some((known) => known.role === role)) continue;
    for (const [name, value] of Object.entries(quota.guarantees)) guarantees[name] = (guarantees[name] ?? 0) + value;
  }
  const total = capacity(snapshot.agents);
  for (const [name, value] of Object.entries(guarantees)) {
    if (value > (total[name] ?? 0)) {
      return `The total guarantee of '${name}' (${value}) exceeds the cluster's capacity (${total[name] ?? 0}) (use 'force' to set it anyway)`;
    }
  }
  return undefined;
}

export const UPDATE_QUOTA = operatorCall({
  type: 'UPDATE_QUOTA',
  field: 'update_quota',
  payload: UpdateQuotaSchema,
  handle: async (master, { payload }) => {
    const quotas = new Map<string, Quota>();
    for (const config of payload.quota_configs) {
      if (quotas.has(config.role)) return badRequest(`Duplicate quota config for role '${config.role}'`);
      const quota = { guarantees: quantities(config.guarantees), limits: quantities(config.limits) };
      const error = validateQuota(config.role, quota);
      if (error) return badRequest(`Invalid QuotaConfig for role '${config.role}': ${error}`);
      quotas.set(config.role, quota);
    }
    if (!payload.force) {
      const refusal = await forcibleRefusal(master, quotas);
      if (refusal) return badRequest(refusal);
    }
    for (const [role, quota] of quotas) await master.registrar.roles.setQuota(role, quota);
    master.logger.info('Quota updated', { roles: [...quotas.keys()], force: payload.force });
    await master.allocation.request({ reason: 'PERIODIC' });
    return OK;
  },
});
