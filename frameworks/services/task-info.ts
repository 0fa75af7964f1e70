/**
 * A task of an app as Mesos launches it (pure): Marathon's task ids (`<app id with / as _>.<uuid>`), the
 * command or image, Marathon's environment (`PORT0…`, `PORT_<NAME>`, `PORTS`, `HOST`, `MARATHON_APP_*`,
 * `MESOS_TASK_ID`), the container with its port mappings and volumes, and the app's health check as a Mesos
 * health check the agent runs (every protocol: HTTP and TCP too, against the task's host port on the agent).
 */
import type { HealthCheck, TaskInfo } from '#shared/protocol/mesos.js';
import { portMappings, usesBridge, type App, type HealthCheckDefinition } from './model.js';
import type { Launch } from './placement.js';

/** The task id of a new task of the app. */
export function newTaskId(appId: string, uuid: string): string {
  return `${appId.slice(1).replaceAll('/', '_')}.${uuid}`;
}

/** The app a task id belongs to (app id segments hold no `_`; the uuid no `.`). */
export function appIdOfTask(taskId: string): string | undefined {
  const dot = taskId.lastIndexOf('.');
  if (dot <= 0) return undefined;
  return `/${taskId.slice(0, dot).replaceAll('_', '/')}`;
}

/** Marathon's variables for a task. */
export function taskEnvironment(app: App, taskId: string, version: string, launch: Launch): Record<string, string> {
  const env: Record<string, string> = { ...app.env };
  const names = usesBridge(app)
    ? (portMappings(app) ?? []).filter((m) => m.hostPort !== undefined).map((m) => m.name)
    : app.portDefinitions.map((d) => d.name);
  launch.ports.forEach((port, index) => {
    env[`PORT${index}`] = String(port);
    const name = names[index];
    if (name) env[`PORT_${name.toUpperCase().replaceAll('-', '_')}`] = String(port);
  });
  if (launch.ports.length > 0) {
    env.PORT = String(launch.ports[0]);
    env.PORTS = launch.ports.join(',');
  }
  return {
    ...env,
    HOST: launch.offer.hostname,
    MESOS_TASK_ID: taskId,
    MARATHON_APP_ID: app.id,
    MARATHON_APP_VERSION: version,
    MARATHON_APP_RESOURCE_CPUS: String(app.cpus),
    MARATHON_APP_RESOURCE_MEM: String(app.mem),
    MARATHON_APP_RESOURCE_DISK: String(app.disk),
    MARATHON_APP_RESOURCE_GPUS: String(app.gpus),
    MARATHON_APP_LABELS: Object.keys(app.labels).join(' '),
  };
}

function checkPort(check: HealthCheckDefinition, ports: readonly number[]): number {
  return check.port ?? ports[check.portIndex ?? 0] ?? 0;
}

/** Marathon's health check as the agent runs it; `maxConsecutiveFailures: 0` never kills. */
export function mesosHealthCheck(check: HealthCheckDefinition, ports: readonly number[]): HealthCheck {
  const timing = {
    delay_seconds: 0,
    interval_seconds: check.intervalSeconds,
    timeout_seconds: check.timeoutSeconds,
    grace_period_seconds: check.gracePeriodSeconds,
    consecutive_failures: check.maxConsecutiveFailures === 0 ? 2 ** 31 - 1 : check.maxConsecutiveFailures,
  };
  switch (check.protocol) {
    case 'COMMAND':
      return {
        ...timing,
        type: 'COMMAND',
        command: { shell: true, value: check.command?.value ?? 'true' },
      } as HealthCheck;
    case 'TCP':
    case 'MESOS_TCP':
      return { ...timing, type: 'TCP', tcp: { port: checkPort(check, ports) } } as HealthCheck;
    default: {
      const scheme = check.protocol.endsWith('HTTPS') ? 'https' : 'http';
      return {
        ...timing,
        type: 'HTTP',
        http: { scheme, port: checkPort(check, ports), path: check.path, statuses: [] },
      } as HealthCheck;
    }
  }
}

function container(app: App, ports: readonly number[]): TaskInfo['container'] {
  const spec = app.container;
  if (spec === undefined) return undefined;
  const volumes = spec.volumes.map((v) => ({
    container_path: v.containerPath,
    ...(v.hostPath ? { host_path: v.hostPath } : {}),
    mode: v.mode,
  }));
  const image = spec.docker?.image;
  if (spec.type === 'MESOS') {
    const mesos = image ? { image: { type: 'DOCKER', docker: { name: image } } } : undefined;
    return { type: 'MESOS', volumes, ...(mesos ? { mesos } : {}) } as TaskInfo['container'];
  }
  const withHost = (portMappings(app) ?? []).filter((m) => m.hostPort !== undefined);
  const mappings = usesBridge(app)
    ? withHost.map((m, index) => ({
        host_port: ports[index] ?? 0,
        container_port: m.containerPort === 0 ? (ports[index] ?? 0) : m.containerPort,
        protocol: m.protocol === 'udp' ? 'udp' : 'tcp',
      }))
    : [];
  const docker = spec.docker;
  return {
    type: 'DOCKER',
    volumes,
    docker: {
      image: image ?? '',
      network: docker?.network ?? 'HOST',
      port_mappings: mappings,
      privileged: docker?.privileged ?? false,
      parameters: docker?.parameters.map((p) => ({ key: p.key, value: p.value })) ?? [],
      force_pull_image: docker?.forcePullImage ?? false,
    },
  } as TaskInfo['container'];
}

/** The TaskInfo of one new task of the app on its launch's offer. */
export function taskInfo(app: App, taskId: string, version: string, launch: Launch): TaskInfo {
  const variables = Object.entries(taskEnvironment(app, taskId, version, launch)).map(([name, value]) => ({
    name,
    value,
  }));
  const command =
    app.cmd !== undefined
      ? { shell: true, value: app.cmd }
      : { shell: false, ...(app.args ? { arguments: app.args } : {}) };
  const check = app.healthChecks[0];
  const grace = app.taskKillGracePeriodSeconds;
  return {
    name: app.id.slice(1).split('/').reverse().join('.'),
    task_id: { value: taskId },
    agent_id: { value: launch.offer.agentId },
    resources: launch.resources,
    command: { ...command, environment: { variables }, ...(app.user ? { user: app.user } : {}) },
    ...(app.container ? { container: container(app, launch.ports) } : {}),
    ...(check ? { health_check: mesosHealthCheck(check, launch.ports) } : {}),
    ...(grace === undefined ? {} : { kill_policy: { grace_period: { nanoseconds: Math.round(grace * 1e9) } } }),
    labels: { labels: Object.entries(app.labels).map(([key, value]) => ({ key, value })) },
  } as TaskInfo;
}
