/**
 * Task validation at launch (Mesos src/master/validation.cpp `task::validate`, `task::group::validate`): what makes a
 * task TASK_ERROR with REASON_TASK_INVALID (REASON_TASK_GROUP_INVALID for groups). Pure.
 */
import type {
  ExecutorInfo,
  CheckInfo,
  CommandInfo,
  ContainerInfo,
  HealthCheck,
  Resource,
  TaskInfo,
} from '#shared/protocol/mesos.js';
import { validateTaskId } from '#shared/ids.js';
import { commandUriError } from '#shared/protocol/command-uris.js';
import { canonicalResources } from '#shared/resources/parse.js';
import { add, allocate, scalarTotal } from '#shared/resources/resources.js';
import { isRevocable } from '#shared/resources/resource.js';
import { failure, ok, type Failure, type Result } from '#shared/result.js';

export type TaskInvalid = Failure<'TASK_INVALID'>;

function invalid(message: string): { ok: false; error: TaskInvalid } {
  return failure('TASK_INVALID', message);
}

function durationError(name: string, nanoseconds: number | undefined): string | undefined {
  return nanoseconds !== undefined && nanoseconds < 0 ? `'${name}' must be non-negative` : undefined;
}

function commandError(command: CommandInfo | undefined, where: string): string | undefined {
  if (!command) return undefined;
  if ((command.shell ?? true) && !command.value) return `${where}: a shell command needs 'value'`;
  if (command.shell === false && !command.value) return `${where}: 'value' (the executable) is required`;
  for (const variable of command.environment?.variables ?? []) {
    if (variable.name === '') return `${where}: an environment variable needs a name`;
    if ((variable.type ?? 'VALUE') === 'VALUE' && variable.value === undefined) {
      return `${where}: environment variable '${variable.name}' has no value`;
    }
    if (variable.type === 'SECRET') return `${where}: secret environment variables are not supported`;
  }
  for (const uri of command.uris ?? []) {
    const error = commandUriError(uri);
    if (error) return `${where}: ${error}`;
  }
  return undefined;
}

function healthCheckError(check: HealthCheck | undefined): string | undefined {
  if (!check) return undefined;
  const type = check.type;
  if (type === undefined || type === 'UNKNOWN') return "HealthCheck 'type' must be set";
  if (type === 'COMMAND' && !check.command) return "Expecting 'command' to be set for COMMAND health check";
  if (type === 'HTTP') {
    if (!check.http) return "Expecting 'http' to be set for HTTP health check";
    if (check.http.path !== undefined && !check.http.path.startsWith('/')) {
      return "The path of an HTTP health check must start with '/'";
    }
    if (check.http.scheme !== undefined && check.http.scheme !== 'http' && check.http.scheme !== 'https') {
      return `Unsupported HTTP health check scheme '${check.http.scheme}'`;
    }
  }
  if (type === 'TCP' && !check.tcp) return "Expecting 'tcp' to be set for TCP health check";
  for (const field of ['delay_seconds', 'interval_seconds', 'timeout_seconds', 'grace_period_seconds'] as const) {
    const value = check[field];
    if (value !== undefined && !(value >= 0)) return `Expecting '${field}' to be non-negative`;
  }
  return commandError(check.command, 'HealthCheck');
}

function checkInfoError(check: CheckInfo | undefined): string | undefined {
  if (!check) return undefined;
  if (check.type === undefined || check.type === 'UNKNOWN') return "CheckInfo 'type' must be set";
  if (check.type === 'COMMAND' && !check.command) return "Expecting 'command' to be set for COMMAND check";
  if (check.type === 'HTTP' && !check.http) return "Expecting 'http' to be set for HTTP check";
  if (check.http?.path !== undefined && !check.http.path.startsWith('/')) {
    return "The path of an HTTP check must start with '/'";
  }
  if (check.type === 'TCP' && !check.tcp) return "Expecting 'tcp' to be set for TCP check";
  for (const field of ['delay_seconds', 'interval_seconds', 'timeout_seconds'] as const) {
    const value = check[field];
    if (value !== undefined && !(value >= 0)) return `Expecting '${field}' to be non-negative`;
  }
  return commandError(check.command?.command, 'CheckInfo');
}

function containerError(container: ContainerInfo | undefined, inGroup: boolean): string | undefined {
  if (!container) return undefined;
  if (container.type === 'DOCKER') {
    if (inGroup) return 'Docker ContainerInfo is not allowed in a task group';
    if (!container.docker) return "DockerInfo 'docker' is not set for DOCKER typed ContainerInfo";
    if (container.docker.image === '') return 'The Docker image must be set';
  } else if (container.docker) {
    return 'DockerInfo is set for a MESOS typed ContainerInfo';
  }
  for (const volume of container.volumes ?? []) {
    if (volume.container_path === '') return 'A volume needs a container_path';
  }
  return undefined;
}

export interface TaskContext {
  /** The agent the offers were made on. */
  readonly agentId: string;
  /** The role the offers were allocated to. */
  readonly role: string;
  /** Inside a LAUNCH_GROUP (group rules and REASON_TASK_GROUP_INVALID apply). */
  readonly inGroup: boolean;
}

/**
 * Validates one TaskInfo and returns its resources in canonical form, allocated to the offer's role.
 * Whether they fit in what is left of the offers is checked by the caller, in turn over all tasks.
 */
export function validateTask(task: TaskInfo, context: TaskContext): Result<Resource[], TaskInvalid> {
  const idError = validateTaskId(task.task_id.value);
  if (idError) return invalid(idError);
  if (task.agent_id.value !== context.agentId) {
    return invalid(`Task uses agent '${task.agent_id.value}' but the offers are from '${context.agentId}'`);
  }
  if (!context.inGroup) {
    if (task.command && task.executor) return invalid("Task should have at most one of 'command' or 'executor'");
    if (!task.command && !task.executor) return invalid("Task should have at least one of 'command' or 'executor'");
  } else if (task.executor) {
    return invalid("A task of a group must not carry its own 'executor'");
  }
  const error =
    commandError(task.command, 'CommandInfo') ??
    durationError('kill_policy.grace_period', task.kill_policy?.grace_period?.nanoseconds) ??
    durationError('max_completion_time', task.max_completion_time?.nanoseconds) ??
    healthCheckError(task.health_check) ??
    checkInfoError(task.check) ??
    containerError(task.container, context.inGroup);
  if (error) return invalid(error);

  if (!task.resources || task.resources.length === 0) return invalid('Task uses no resources');
  const canonical = canonicalResources(task.resources);
  if (!canonical.ok) return invalid(canonical.error.message);
  // Resources without allocation_info are the offers' role's (Mesos injects it for such frameworks).
  if (canonical.value.some((r) => r.allocation_info?.role !== undefined && r.allocation_info.role !== context.role)) {
    return invalid(`Task resources are allocated to a role other than the offers' role '${context.role}'`);
  }
  const names = new Map<string, boolean>();
  for (const resource of canonical.value) {
    const seen = names.get(resource.name);
    if (seen !== undefined && seen !== isRevocable(resource)) {
      return invalid(`Task mixes revocable and non-revocable '${resource.name}'`);
    }
    names.set(resource.name, isRevocable(resource));
  }

  for (const [name, limit] of Object.entries(task.limits ?? {})) {
    if (name !== 'cpus' && name !== 'mem')
      return invalid(`Resource limits may only be set for cpus and mem, not '${name}'`);
    const requested = canonical.value
      .filter((r) => r.name === name)
      .reduce((sum, r) => sum + (r.scalar?.value ?? 0), 0);
    if (requested === 0) return invalid(`A limit for '${name}' needs a request for '${name}'`);
    if (!(limit.value >= requested)) return invalid(`The limit for '${name}' is below its request`);
  }
  return ok(allocate(canonical.value, context.role));
}

/**
 * A LAUNCH's custom executor (Mesos `executor::validate`): CUSTOM (or no type), a valid command, the
 * framework's own id if it names one, no Docker container (the agents run custom executors as
 * processes), and valid resources. Returns them allocated to the offers' role.
 */
export function validateCustomExecutor(
  executor: ExecutorInfo,
  context: { readonly frameworkId: string; readonly role: string },
): Result<Resource[], TaskInvalid> {
  if (executor.type !== undefined && executor.type !== 'CUSTOM') {
    return invalid('The executor of a LAUNCH must be of type CUSTOM; task groups use LAUNCH_GROUP');
  }
  if (!executor.executor_id.value) return invalid("Expecting 'ExecutorInfo.executor_id' to be present");
  const idError = validateTaskId(executor.executor_id.value, 'Executor ID');
  if (idError) return invalid(idError);
  const framework = executor.framework_id?.value;
  if (framework !== undefined && framework !== context.frameworkId) {
    return invalid(
      `ExecutorInfo has an invalid FrameworkID (Actual: ${framework} vs Expected: ${context.frameworkId})`,
    );
  }
  if (!executor.command) return invalid("Expecting 'ExecutorInfo.command' to be present");
  const error = commandError(executor.command, 'ExecutorInfo.command') ?? containerError(executor.container, false);
  if (error) return invalid(error);
  const canonical = canonicalResources(executor.resources ?? []);
  if (!canonical.ok) return invalid(`Executor resources: ${canonical.error.message}`);
  if (canonical.value.some((r) => r.allocation_info?.role !== undefined && r.allocation_info.role !== context.role)) {
    return invalid(`Executor resources are allocated to a role other than the offers' role '${context.role}'`);
  }
  return ok(allocate(canonical.value, context.role));
}

export type TaskGroupInvalid = Failure<'TASK_GROUP_INVALID'>;

export interface TaskGroupContext {
  readonly agentId: string;
  readonly frameworkId: string;
  readonly role: string;
  /** Why a task's id is taken (by an earlier task of the ACCEPT, or a task still active), if it is. */
  readonly duplicateId: (task: TaskInfo) => string | undefined;
}

/**
 * LAUNCH_GROUP validation (Mesos `task::group::validate`): a DEFAULT or CUSTOM executor with enough
 * resources of its own, tasks whose `executor` (if set) is the group's, no Docker containers, valid
 * tasks, unique ids. All or nothing.
 * Returns the executor's resources and each task's, allocated to the offers' role.
 */
export function validateTaskGroup(
  executor: ExecutorInfo,
  tasks: readonly TaskInfo[],
  context: TaskGroupContext,
): Result<{ executorResources: Resource[]; taskResources: Resource[][] }, TaskGroupInvalid> {
  const invalidGroup = (message: string) => failure('TASK_GROUP_INVALID', message);
  if (tasks.length === 0) return invalidGroup('A task group must have tasks');
  const executorError = groupExecutorError(executor, context.frameworkId);
  if (executorError) return invalidGroup(executorError);
  const executorResources = canonicalResources(executor.resources ?? []);
  if (!executorResources.ok) return invalidGroup(executorResources.error.message);
  if (
    scalarTotal(executorResources.value, 'cpus') < 0.01 ||
    scalarTotal(executorResources.value, 'mem') < 32 ||
    scalarTotal(executorResources.value, 'disk') <= 0
  ) {
    return invalidGroup('A new DEFAULT executor needs at least cpus:0.01, mem:32 and some disk');
  }
  const ids = new Set<string>();
  const taskResources: Resource[][] = [];
  for (const task of tasks) {
    const duplicate =
      context.duplicateId(task) ??
      (ids.has(task.task_id.value) ? `Task has duplicate ID: ${task.task_id.value}` : undefined);
    if (duplicate) return invalidGroup(duplicate);
    ids.add(task.task_id.value);
    if (task.executor && JSON.stringify(task.executor) !== JSON.stringify(executor)) {
      return invalidGroup(`The executor of task ${task.task_id.value} differs from the task group's executor`);
    }
    const { executor: _same, ...own } = task;
    const validated = validateTask(own, { agentId: context.agentId, role: context.role, inGroup: true });
    if (!validated.ok) return invalidGroup(`Task ${task.task_id.value} is invalid: ${validated.error.message}`);
    taskResources.push(validated.value);
  }
  return ok({
    executorResources: add(
      [],
      executorResources.value.map((r) => ({ ...r, allocation_info: { role: context.role } })),
    ),
    taskResources,
  });
}

function groupExecutorError(executor: ExecutorInfo, frameworkId: string): string | undefined {
  const framework = executor.framework_id?.value;
  if (framework !== undefined && framework !== frameworkId) {
    return `ExecutorInfo has an invalid FrameworkID (Actual: ${framework} vs Expected: ${frameworkId})`;
  }
  if (executor.type === 'CUSTOM') {
    if (!executor.executor_id.value) return "Expecting 'ExecutorInfo.executor_id' to be present";
    const idError = validateTaskId(executor.executor_id.value, 'Executor ID');
    if (idError) return idError;
    if (!executor.command) return "'ExecutorInfo.command' must be set for 'CUSTOM' executor";
    if (executor.container?.mesos?.image) {
      return 'Mantle agents run custom executors as processes: the executor may not have an image';
    }
    return commandError(executor.command, 'ExecutorInfo.command') ?? containerError(executor.container, true);
  }
  if (executor.type !== 'DEFAULT') {
    return "'ExecutorInfo.type' must be DEFAULT or CUSTOM for a task group";
  }
  if (executor.command) return "The DEFAULT executor must not set 'command'";
  if (executor.container && (executor.container.type !== 'MESOS' || executor.container.mesos?.image)) {
    return "The DEFAULT executor's container must be MESOS without an image";
  }
  return undefined;
}
