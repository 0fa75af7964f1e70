/**
 * What a custom executor's container is (Mesos `Framework::launchExecutor` and
 * `executorEnvironment` in src/slave/slave.cpp): the executor's command in its own sandbox, with Mesos's
 * environment for executors, its secret, and limits that hold the executor and the task it was
 * launched with; the containerizer that runs it (Docker for an executor with a Docker image). Pure.
 */
import type { CommandInfo, ExecutorInfo, TaskInfo } from '#shared/protocol/mesos.js';
import { wantsDocker } from '../authorization.js';
import type { ContainerizerKind } from '../config.js';
import type { Containerizer } from '../containerizer/containerizer.js';
import type { ExecutorRun } from './custom-executor.js';

type EnvironmentVariable = NonNullable<NonNullable<CommandInfo['environment']>['variables']>[number];

/** Mesos's spelling of a duration in the executors' environment (`5secs`, `15mins`). */
export function mesosDuration(ms: number): string {
  return ms > 0 && ms % 60_000 === 0 ? `${ms / 60_000}mins` : `${ms / 1000}secs`;
}

/** How long an executor should wait for a restarted agent (Mesos's `--recovery_timeout` default). */
export const RECOVERY_TIMEOUT_MS = 15 * 60_000;
/** The longest pause between an executor's subscription attempts (Mesos's executor default, 2 s). */
export const SUBSCRIPTION_BACKOFF_MAX_MS = 2_000;

export interface ExecutorEnvironmentInput {
  readonly run: ExecutorRun;
  /** `host:port` of the agent's HTTP endpoint. */
  readonly agentEndpoint: string;
  readonly token: string;
  readonly shutdownGracePeriodMs: number;
  /** Where a Docker executor's container sees its sandbox (its MESOS_SANDBOX); a process sees the host's. */
  readonly sandboxInContainer?: string;
}

/** The variables every custom executor gets (the executor's own come first and lose to these). */
export function executorEnvironment(input: ExecutorEnvironmentInput): Record<string, string> {
  const { run } = input;
  const grace = run.info.shutdown_grace_period?.nanoseconds;
  return {
    MESOS_FRAMEWORK_ID: run.frameworkId,
    MESOS_EXECUTOR_ID: run.info.executor_id.value,
    MESOS_AGENT_ENDPOINT: input.agentEndpoint,
    MESOS_DIRECTORY: run.sandbox,
    MESOS_SANDBOX: input.sandboxInContainer ?? run.sandbox,
    MESOS_CHECKPOINT: run.frameworkInfo.checkpoint ? '1' : '0',
    MESOS_RECOVERY_TIMEOUT: mesosDuration(RECOVERY_TIMEOUT_MS),
    MESOS_SUBSCRIPTION_BACKOFF_MAX: mesosDuration(SUBSCRIPTION_BACKOFF_MAX_MS),
    MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: mesosDuration(
      grace !== undefined ? grace / 1e6 : input.shutdownGracePeriodMs,
    ),
    MESOS_HTTP_COMMAND_EXECUTOR: '0',
    MESOS_EXECUTOR_AUTHENTICATION_TOKEN: input.token,
  };
}

/**
 * The executor as the containerizers launch it: a task whose id is the executor's, whose command is the
 * executor's with the environment above, and whose resources (its cgroup's limits) are the executor's
 * and those of the tasks it starts with (one task, or a task group), as Mesos sizes an executor's
 * container by the executor and its tasks.
 */
export function executorContainerTask(
  info: ExecutorInfo,
  tasks: readonly TaskInfo[],
  environment: Readonly<Record<string, string>>,
): TaskInfo {
  const own = (info.command?.environment?.variables ?? []).filter((v) => !(v.name in environment));
  const variables: EnvironmentVariable[] = [
    ...own,
    ...Object.entries(environment).map(([name, value]) => ({ name, type: 'VALUE' as const, value })),
  ];
  return {
    name: info.name ?? info.executor_id.value,
    task_id: { value: info.executor_id.value },
    agent_id: tasks[0]?.agent_id ?? { value: '' },
    resources: [...(info.resources ?? []), ...tasks.flatMap((task) => task.resources ?? [])],
    command: { ...info.command, environment: { variables } },
    ...(info.container ? { container: info.container } : {}),
  };
}

/**
 * Whether two descriptions of one executor are the same executor (Mesos refuses a task whose executor
 * differs from the running one of that id). Resources are left out: the master adds their role.
 */
export function sameExecutor(a: ExecutorInfo, b: ExecutorInfo): boolean {
  const { resources: _a, framework_id: _fa, ...restA } = a;
  const { resources: _b, framework_id: _fb, ...restB } = b;
  return JSON.stringify(restA) === JSON.stringify(restB);
}

/** Docker executors (a DOCKER container, or a MESOS one with an image) run in Docker; the others as processes. */
export function executorContainerizer(
  context: { readonly containerizers: ReadonlyMap<ContainerizerKind, Containerizer> },
  info: ExecutorInfo,
): Containerizer | undefined {
  return context.containerizers.get(wantsDocker(info.container) ? 'docker' : 'mesos');
}
