/** Services, where a Marathon-compatible framework answers /v2/info: its apps and their instances. */
import { getJson } from '../api.js';
import { usePoll } from '../poll.js';
import { Table } from '../table.js';

interface App {
  readonly id: string;
  readonly instances: number;
  readonly tasksRunning?: number;
  readonly tasksStaged?: number;
  readonly cpus?: number;
  readonly mem?: number;
}

export function Services() {
  const apps = usePoll((signal) => getJson<{ apps: App[] }>('/v2/apps', signal), 5000);
  return (
    <>
      <h1>Services</h1>
      {apps.error && <p role="alert">{apps.error}</p>}
      <Table
        label="Services"
        rows={apps.value?.apps ?? []}
        rowKey={(app) => app.id}
        columns={[
          { title: 'App', cell: (app) => app.id },
          { title: 'Instances', numeric: true, cell: (app) => String(app.instances) },
          { title: 'Running', numeric: true, cell: (app) => String(app.tasksRunning ?? 0) },
          { title: 'Staged', numeric: true, cell: (app) => String(app.tasksStaged ?? 0) },
          { title: 'CPUs', numeric: true, cell: (app) => String(app.cpus ?? '') },
          { title: 'Memory', numeric: true, cell: (app) => String(app.mem ?? '') },
        ]}
      />
    </>
  );
}
