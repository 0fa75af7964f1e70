/**
 * Marathon's JSON for what Services keeps (pure): an app with its counts, tasks, deployments and last task
 * failure; a task with its ports and health; a deployment with its steps; and the event bus's events.
 */
import { isHealthy, type AppRecord, type Deployment, type TaskRecord } from './plan.js';
import type { App } from './model.js';

export type Json = Record<string, unknown>;

export function taskView(app: App | undefined, task: TaskRecord): Json {
  const checks = app?.healthChecks.length ?? 0;
  return {
    id: task.id,
    appId: task.appId,
    host: task.host,
    ports: task.ports,
    servicePorts: app?.portDefinitions.map((d) => d.port) ?? [],
    slaveId: task.agentId,
    stagedAt: task.stagedAt,
    startedAt: task.startedAt,
    version: task.version,
    state: task.state,
    ipAddresses: [],
    localVolumes: [],
    healthCheckResults:
      checks > 0 && task.healthy !== null
        ? [
            {
              alive: task.healthy,
              consecutiveFailures: task.consecutiveFailures,
              firstSuccess: task.lastSuccess,
              lastFailure: task.lastFailure,
              lastSuccess: task.lastSuccess,
              lastFailureCause: task.healthy ? null : 'health check failed',
              taskId: task.id,
            },
          ]
        : [],
  };
}

/** `GET /v2/deployments`'s entry. */
export function deploymentView(record: AppRecord, deployment: Deployment): Json {
  const action = { action: deployment.action, app: record.app.id };
  return {
    id: deployment.id,
    version: deployment.version,
    affectedApps: [record.app.id],
    affectedPods: [],
    steps: [{ actions: [action] }],
    currentActions: [{ ...action, readinessCheckResults: [] }],
    currentStep: 1,
    totalSteps: 1,
  };
}

/** The app as `GET /v2/apps/{id}` shows it (`embed` adds tasks and the last failure, as Marathon's does). */
export function appView(record: AppRecord, tasks: readonly TaskRecord[]): Json {
  const { app } = record;
  const live = tasks.filter((task) => !task.killing || task.state === 'TASK_RUNNING');
  const running = live.filter((task) => task.state === 'TASK_RUNNING');
  const checked = app.healthChecks.length > 0;
  return {
    ...app,
    ports: app.portDefinitions.map((d) => d.port),
    version: record.version,
    versionInfo: { lastScalingAt: record.lastScalingAt, lastConfigChangeAt: record.configVersion },
    tasksStaged: live.filter((task) => task.state === 'TASK_STAGING' || task.state === 'TASK_STARTING').length,
    tasksRunning: running.length,
    tasksHealthy: checked ? running.filter((task) => isHealthy(app, task)).length : 0,
    tasksUnhealthy: checked ? running.filter((task) => task.healthy === false).length : 0,
    deployments: record.deployment ? [{ id: record.deployment.id }] : [],
    tasks: live.map((task) => taskView(app, task)),
    lastTaskFailure: record.lastTaskFailure,
  };
}

/** `deployment_info`, `deployment_success`, `deployment_failed`. */
export function deploymentEvent(
  type: string,
  record: AppRecord,
  deployment: Deployment,
  now: number,
): Json & {
  eventType: string;
  timestamp: string;
} {
  const plan = deploymentView(record, deployment);
  return {
    eventType: type,
    timestamp: new Date(now).toISOString(),
    id: deployment.id,
    plan: { id: deployment.id, version: deployment.version, steps: plan.steps },
    ...(type === 'deployment_info' ? { currentStep: (plan.steps as Json[])[0] } : {}),
  };
}

/** Marathon's `status_update_event`. */
export function statusEvent(task: TaskRecord, state: string, message: string, now: number) {
  return {
    eventType: 'status_update_event',
    timestamp: new Date(now).toISOString(),
    slaveId: task.agentId,
    taskId: task.id,
    taskStatus: state,
    message,
    appId: task.appId,
    host: task.host,
    ipAddresses: [],
    ports: task.ports,
    version: task.version,
  };
}

/** Marathon's `health_status_changed_event`. */
export function healthEvent(task: TaskRecord, alive: boolean, now: number) {
  return {
    eventType: 'health_status_changed_event',
    timestamp: new Date(now).toISOString(),
    appId: task.appId,
    taskId: task.id,
    instanceId: task.id,
    version: task.version,
    alive,
  };
}

interface GroupNode {
  id: string;
  apps: Json[];
  groups: GroupNode[];
}

/** `GET /v2/groups`: the groups the apps' id paths make, from the root. */
export function groupsView(apps: readonly Json[], version: string): Json {
  const root: GroupNode = { id: '/', apps: [], groups: [] };
  for (const app of apps) {
    const segments = String(app.id).split('/').filter(Boolean).slice(0, -1);
    let node = root;
    let path = '';
    for (const segment of segments) {
      path += `/${segment}`;
      let child = node.groups.find((group) => group.id === path);
      if (!child) {
        child = { id: path, apps: [], groups: [] };
        node.groups.push(child);
      }
      node = child;
    }
    node.apps.push(app);
  }
  const render = (node: GroupNode): Json => ({
    id: node.id,
    apps: node.apps,
    groups: node.groups.map(render),
    pods: [],
    dependencies: [],
    version,
  });
  return render(root);
}
