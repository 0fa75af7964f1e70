/**
 * What a task runs and with which environment, from its CommandInfo (Mesos semantics): `shell: true`
 * (the default) runs `value` with `/bin/sh -c`; `shell: false` runs the executable `value` with
 * `arguments` as its argv (argv[0] first). Docker keeps the image's entrypoint unless the command is a
 * shell command (Mesos's `--entrypoint /bin/sh`). Pure.
 */
import type { CommandInfo } from '#shared/protocol/mesos.js';
import { LaunchError, type LaunchSpec } from './containerizer.js';

/** The executable and its arguments for a process task. */
export function processCommand(command: CommandInfo | undefined): { file: string; args: string[] } {
  if (!command) throw new LaunchError('The task has no command', 'TASK_ERROR');
  if (command.shell ?? true) {
    if (command.value === undefined || command.value === '') {
      throw new LaunchError('A shell command needs a value', 'TASK_ERROR');
    }
    return { file: '/bin/sh', args: ['-c', command.value] };
  }
  if (command.value === undefined || command.value === '') {
    throw new LaunchError("A command with 'shell: false' needs the executable in 'value'", 'TASK_ERROR');
  }
  return { file: command.value, args: (command.arguments ?? []).slice(1) };
}

/** Entrypoint and Cmd for Docker; absent fields keep the image's. */
export function dockerCommand(command: CommandInfo | undefined): { Entrypoint?: string[]; Cmd?: string[] } {
  if (!command || (command.value === undefined && (command.arguments ?? []).length === 0)) return {};
  if (command.shell ?? true) {
    if (command.value === undefined) throw new LaunchError('A shell command needs a value', 'TASK_ERROR');
    return { Entrypoint: ['/bin/sh'], Cmd: ['-c', command.value] };
  }
  return { Cmd: [...(command.value !== undefined ? [command.value] : []), ...(command.arguments ?? [])] };
}

/** The variables the command sets; secrets are not supported by this agent. */
export function commandVariables(command: CommandInfo | undefined): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const variable of command?.environment?.variables ?? []) {
    if (variable.type === 'SECRET' || variable.secret !== undefined) {
      throw new LaunchError(`Environment variable '${variable.name}' is a secret; secrets are not supported`);
    }
    variables[variable.name] = variable.value ?? '';
  }
  return variables;
}

/**
 * The task's environment: the base (process tasks only), Mesos's variables, GPU visibility, then the
 * command's own variables, which win.
 */
export function taskEnvironment(
  spec: LaunchSpec,
  sandboxInContainer: string,
  base: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const gpuVisibility: Record<string, string> =
    spec.allGpus.length === 0
      ? {}
      : {
          // An empty CUDA_VISIBLE_DEVICES hides every device; NVIDIA_VISIBLE_DEVICES=void makes the NVIDIA
          // container runtime mount none, overriding images that set it to "all".
          // CUDA takes a MIG device only by its UUID.
          CUDA_VISIBLE_DEVICES: spec.gpus.map((gpu) => (gpu.mig ? gpu.uuid : gpu.index)).join(','),
          NVIDIA_VISIBLE_DEVICES: spec.gpus.length > 0 ? spec.gpus.map((gpu) => gpu.uuid).join(',') : 'void',
        };
  return {
    ...base,
    MESOS_SANDBOX: sandboxInContainer,
    MESOS_TASK_ID: spec.task.task_id.value,
    MESOS_FRAMEWORK_ID: spec.frameworkId,
    MESOS_AGENT_ID: spec.agentId,
    MESOS_EXECUTOR_ID: spec.executorId,
    MESOS_CONTAINER_ID: spec.containerId,
    ...gpuVisibility,
    ...commandVariables(spec.task.command),
  };
}
