/** Roles: weight, quota (guarantee and limit), allocation and DRF dominant share. */
import { operator, type Agent, type Resource } from '../api.js';
import { usePoll } from '../poll.js';
import { add, scalars, summary, type Totals } from '../resources.js';
import { Table } from '../table.js';

interface Role {
  readonly name: string;
  readonly weight?: number;
  readonly resources?: readonly Resource[];
  readonly frameworks?: readonly unknown[];
}
interface QuotaConfig {
  readonly role: string;
  readonly guarantees?: Record<string, { value: number }>;
  readonly limits?: Record<string, { value: number }>;
}
interface RoleRow {
  readonly role: Role;
  readonly quota?: QuotaConfig;
  readonly share: number;
  readonly dominant: string;
}

function quotaText(values: Record<string, { value: number }> | undefined): string {
  return summary(Object.fromEntries(Object.entries(values ?? {}).map(([name, v]) => [name, v.value]))) || '—';
}

/** DRF's dominant share: the largest fraction of any cluster total the role holds. */
function dominant(allocated: Totals, total: Totals): { share: number; name: string } {
  let best = { share: 0, name: '—' };
  for (const [name, value] of Object.entries(allocated)) {
    const capacity = total[name] ?? 0;
    if (capacity > 0 && value / capacity > best.share) best = { share: value / capacity, name };
  }
  return best;
}

async function readRoles(signal: AbortSignal): Promise<RoleRow[]> {
  const [roles, quota, agents] = await Promise.all([
    operator<{ roles?: Role[] }>({ type: 'GET_ROLES' }, signal),
    operator<{ status?: { configs?: QuotaConfig[] } }>({ type: 'GET_QUOTA' }, signal),
    operator<{ agents?: Agent[] }>({ type: 'GET_AGENTS' }, signal),
  ]);
  const total: Totals = {};
  for (const agent of agents.agents ?? []) add(total, scalars(agent.total_resources));
  return (roles.roles ?? []).map((role) => {
    const drf = dominant(scalars(role.resources), total);
    const config = quota.status?.configs?.find((c) => c.role === role.name);
    return { role, ...(config ? { quota: config } : {}), share: drf.share, dominant: drf.name };
  });
}

export function Roles() {
  const rows = usePoll(readRoles, 5000);
  return (
    <>
      <h1>Roles</h1>
      {rows.error && <p role="alert">{rows.error}</p>}
      <Table
        label="Roles"
        rows={rows.value ?? []}
        rowKey={(row) => row.role.name}
        columns={[
          { title: 'Role', cell: (row) => row.role.name },
          { title: 'Weight', numeric: true, cell: (row) => String(row.role.weight ?? 1) },
          { title: 'Frameworks', numeric: true, cell: (row) => String(row.role.frameworks?.length ?? 0) },
          { title: 'Allocated', cell: (row) => summary(scalars(row.role.resources)) || '—' },
          { title: 'Guarantee', cell: (row) => quotaText(row.quota?.guarantees) },
          { title: 'Limit', cell: (row) => quotaText(row.quota?.limits) },
          {
            title: 'DRF share',
            numeric: true,
            cell: (row) => (row.share > 0 ? `${(row.share * 100).toFixed(1)}% (${row.dominant})` : '0%'),
          },
        ]}
      />
    </>
  );
}
