/**
 * Services, where Mantle Services answers Marathon's /v2 API: apps with their instances, running and healthy
 * tasks, the deployments under way, each app's tasks with host and ports; scale and restart through /v2.
 */
import { useState } from 'preact/hooks';
import { getJson, sendJson } from '../api.js';
import { usePoll } from '../poll.js';
import { Table } from '../table.js';
import { ServiceDetail, type App } from './service-detail.js';

interface DeploymentAction {
  readonly action: string;
  readonly app: string;
}
interface Deployment {
  readonly id: string;
  readonly version: string;
  readonly affectedApps: readonly string[];
  readonly currentActions: readonly DeploymentAction[];
}

/** Healthy of running where the app has health checks (Marathon counts health only then). */
function healthy(app: App): string {
  if ((app.healthChecks?.length ?? 0) === 0) return '—';
  const unhealthy = app.tasksUnhealthy ?? 0;
  return `${app.tasksHealthy ?? 0}${unhealthy > 0 ? ` (${unhealthy} unhealthy)` : ''}`;
}

/** A new `instances` for the app: PUT /v2/apps/{id}, Marathon's scale (the running tasks are kept). */
function Scale(props: { app: App; onAction: (action: Promise<string>) => void }) {
  const [instances, setInstances] = useState(String(props.app.instances));
  const { id } = props.app;
  return (
    <form
      class="actions"
      onSubmit={(event) => {
        event.preventDefault();
        props.onAction(
          sendJson('PUT', `/v2/apps${id}`, { instances: Number(instances) }).then(
            () => `Scaling ${id} to ${instances}`,
          ),
        );
      }}
    >
      <input
        type="number"
        min="0"
        step="1"
        required
        class="count"
        aria-label={`Instances of ${id}`}
        value={instances}
        onInput={(event) => setInstances(event.currentTarget.value)}
      />
      <button type="submit" aria-label={`Scale ${id}`}>
        Scale
      </button>
      <button
        type="button"
        aria-label={`Restart ${id}`}
        onClick={() => props.onAction(sendJson('POST', `/v2/apps${id}/restart`).then(() => `Restarting ${id}`))}
      >
        Restart
      </button>
    </form>
  );
}

function Deployments(props: { deployments: readonly Deployment[] }) {
  return (
    <section aria-labelledby="deployments-title">
      <h2 id="deployments-title">Deployments</h2>
      <Table
        label="Deployments"
        rows={props.deployments}
        rowKey={(deployment) => deployment.id}
        columns={[
          { title: 'Deployment', cell: (deployment) => <code>{deployment.id}</code> },
          { title: 'Apps', cell: (deployment) => deployment.affectedApps.join(', ') },
          {
            title: 'Action',
            cell: (deployment) => deployment.currentActions.map((action) => action.action).join(', '),
          },
          { title: 'Version', cell: (deployment) => deployment.version },
        ]}
      />
    </section>
  );
}

function AppTable(props: {
  apps: readonly App[];
  selected: string | null;
  onSelect: (app: App) => void;
  onAction: (action: Promise<string>) => void;
}) {
  return (
    <Table
      label="Apps"
      rows={props.apps}
      rowKey={(app) => app.id}
      selected={props.selected}
      onSelect={props.onSelect}
      columns={[
        { title: 'App', cell: (app) => <code>{app.id}</code> },
        { title: 'Role', cell: (app) => app.role ?? '*' },
        { title: 'Instances', numeric: true, cell: (app) => String(app.instances) },
        {
          title: 'Running',
          numeric: true,
          cell: (app) => <span data-testid="app-running">{String(app.tasksRunning ?? 0)}</span>,
        },
        { title: 'Healthy', numeric: true, cell: healthy },
        { title: 'Staged', numeric: true, cell: (app) => String(app.tasksStaged ?? 0) },
        {
          title: 'Deploying',
          cell: (app) => (app.deployments.length > 0 ? 'yes' : 'no'),
        },
        { title: 'CPUs', numeric: true, cell: (app) => String(app.cpus ?? '') },
        { title: 'Memory', numeric: true, cell: (app) => String(app.mem ?? '') },
        {
          title: 'Actions',
          cell: (app) => (
            // The form's own keys (typing a number, Enter to submit) must not select the row.
            <div onClick={(event) => event.stopPropagation()} onKeyDown={(event) => event.stopPropagation()}>
              <Scale app={app} onAction={props.onAction} />
            </div>
          ),
        },
      ]}
    />
  );
}

export function Services() {
  const apps = usePoll((signal) => getJson<{ apps: App[] }>('/v2/apps', signal), 2000);
  const deployments = usePoll((signal) => getJson<Deployment[]>('/v2/deployments', signal), 2000);
  const [selected, setSelected] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const act = (action: Promise<string>) => {
    action
      .then(setMessage, (error: Error) => setMessage(error.message))
      .finally(() => {
        apps.refresh();
        deployments.refresh();
      });
  };
  const shown = apps.value?.apps.find((app) => app.id === selected);
  return (
    <>
      <h1>Services</h1>
      <p role="status" aria-live="polite">
        {message}
      </p>
      {apps.error && <p role="alert">{apps.error}</p>}
      <section aria-labelledby="apps-title">
        <h2 id="apps-title">Apps</h2>
        <AppTable
          apps={apps.value?.apps ?? []}
          selected={selected}
          onSelect={(app) => setSelected(app.id)}
          onAction={act}
        />
      </section>
      {shown && <ServiceDetail app={shown} />}
      <Deployments deployments={deployments.value ?? []} />
    </>
  );
}
