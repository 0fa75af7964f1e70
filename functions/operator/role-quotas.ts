/**
 * Quota as a framework hosted beside the master reads it (Mantle Jobs' placement): the roles' limits from the
 * registrar, and what their tasks hold on the agents, counted as GET_ROLES and UPDATE_QUOTA count it. Offers
 * are not counted: placement is deciding what to do with them.
 */
import type { AgentRecord, Registrar } from '../registrar/index.js';
import { roleConsumption } from './roles-view.js';

export interface RoleQuotaSource {
  limits(roles: readonly string[]): Promise<ReadonlyMap<string, Record<string, number>>>;
  consumption(roles: readonly string[]): Promise<ReadonlyMap<string, Record<string, number>>>;
}

export function roleQuotaSource(registrar: Pick<Registrar, 'roles' | 'agents'>): RoleQuotaSource {
  return {
    async limits(roles) {
      const limits = new Map<string, Record<string, number>>();
      for (const record of await Promise.all(roles.map((role) => registrar.roles.get(role)))) {
        if (record !== undefined && Object.keys(record.quota.limits).length > 0) {
          limits.set(record.role, { ...record.quota.limits });
        }
      }
      return limits;
    },
    async consumption(roles) {
      const agents: AgentRecord[] = [];
      for await (const agent of registrar.agents.list()) agents.push(agent);
      return new Map(roles.map((role) => [role, roleConsumption(agents, role)]));
    },
  };
}
