/** Frameworks: roles, allocation, offers outstanding, tasks, and why one waits. */
import { useState } from 'preact/hooks';
import type { Framework } from '../api.js';
import { scalars, summary } from '../resources.js';
import { useCluster } from '../store.js';
import { Table } from '../table.js';
import { Link } from '../router.js';
import { PendingReasons } from './overview.js';

function roles(framework: Framework): string {
  const info = framework.framework_info;
  return (info.roles && info.roles.length > 0 ? info.roles : [info.role ?? '*']).join(', ');
}

export function Frameworks() {
  const cluster = useCluster();
  const [selected, setSelected] = useState<string | null>(null);
  const active = new Map<string, number>();
  for (const task of cluster.tasks.values()) {
    if (/STAGING|STARTING|RUNNING|KILLING/.test(task.state)) {
      active.set(task.framework_id.value, (active.get(task.framework_id.value) ?? 0) + 1);
    }
  }
  const id = (framework: Framework) => framework.framework_info.id?.value ?? '';
  return (
    <>
      <h1>Frameworks</h1>
      <Table
        label="Frameworks"
        rows={[...cluster.frameworks.values()]}
        rowKey={id}
        selected={selected}
        onSelect={(framework) => setSelected(id(framework))}
        columns={[
          { title: 'ID', cell: (framework) => <code>{id(framework)}</code> },
          { title: 'Name', cell: (framework) => framework.framework_info.name },
          { title: 'Roles', cell: roles },
          { title: 'Principal', cell: (framework) => framework.framework_info.principal ?? '—' },
          {
            title: 'State',
            cell: (framework) => (framework.connected ? 'connected' : framework.active ? 'disconnected' : 'inactive'),
          },
          { title: 'Allocated', cell: (framework) => summary(scalars(framework.allocated_resources)) || '—' },
          { title: 'Offers', numeric: true, cell: (framework) => String(framework.offers?.length ?? 0) },
          {
            title: 'Active tasks',
            numeric: true,
            cell: (framework) => (
              <Link href={`/ui/tasks?framework=${encodeURIComponent(id(framework))}`}>
                {String(active.get(id(framework)) ?? 0)}
              </Link>
            ),
          },
        ]}
      />
      {selected && <PendingReasons frameworkId={selected} />}
    </>
  );
}
