/** One Marathon app: its definition's essentials, its tasks with host and ports, and its last task failure. */
import { Table } from '../table.js';

export interface ServiceTask {
  readonly id: string;
  readonly host?: string;
  readonly ports?: readonly number[];
  readonly state?: string;
  readonly startedAt?: string | null;
  readonly stagedAt?: string | null;
  readonly version?: string;
  readonly healthCheckResults?: ReadonlyArray<{ readonly alive: boolean }>;
}

export interface App {
  readonly id: string;
  readonly instances: number;
  readonly role?: string;
  readonly cmd?: string | null;
  readonly container?: { readonly docker?: { readonly image?: string } } | null;
  readonly cpus?: number;
  readonly mem?: number;
  readonly version?: string;
  readonly tasksRunning?: number;
  readonly tasksStaged?: number;
  readonly tasksHealthy?: number;
  readonly tasksUnhealthy?: number;
  readonly healthChecks?: readonly unknown[];
  readonly deployments: ReadonlyArray<{ readonly id: string }>;
  readonly tasks?: readonly ServiceTask[];
  readonly lastTaskFailure?: {
    readonly taskId: string;
    readonly state: string;
    readonly message: string;
    readonly host: string;
    readonly timestamp: string;
  } | null;
}

/** `host:port` for each of the task's ports, or the host alone. */
export function endpoints(task: ServiceTask): string {
  const host = task.host ?? '—';
  const ports = task.ports ?? [];
  return ports.length === 0 ? host : ports.map((port) => `${host}:${port}`).join(' ');
}

function health(task: ServiceTask): string {
  const result = task.healthCheckResults?.[0];
  return result === undefined ? '—' : result.alive ? 'healthy' : 'unhealthy';
}

export function ServiceDetail(props: { app: App }) {
  const { app } = props;
  const failure = app.lastTaskFailure;
  return (
    <section class="detail" aria-labelledby="app-title">
      <h2 id="app-title">
        App <code>{app.id}</code>
      </h2>
      <dl class="facts">
        <dt>Runs</dt>
        <dd>
          <code>{app.container?.docker?.image ?? app.cmd ?? '—'}</code>
        </dd>
        <dt>Version</dt>
        <dd>{app.version ?? '—'}</dd>
        <dt>Deployment</dt>
        <dd>{app.deployments.map((deployment) => deployment.id).join(', ') || 'none'}</dd>
        {failure && (
          <>
            <dt>Last failure</dt>
            <dd>
              {failure.state} of <code>{failure.taskId}</code> on {failure.host} at {failure.timestamp}
              {failure.message ? `: ${failure.message}` : ''}
            </dd>
          </>
        )}
      </dl>
      <Table
        label={`Tasks of ${app.id}`}
        rows={app.tasks ?? []}
        rowKey={(task) => task.id}
        columns={[
          { title: 'Task', cell: (task) => <code>{task.id}</code> },
          { title: 'Host:ports', cell: (task) => <span data-testid="app-endpoint">{endpoints(task)}</span> },
          { title: 'State', cell: (task) => task.state ?? '—' },
          { title: 'Health', cell: health },
          { title: 'Started', cell: (task) => task.startedAt ?? task.stagedAt ?? '—' },
          { title: 'Version', cell: (task) => task.version ?? '—' },
        ]}
      />
    </section>
  );
}
