/**
 * The agent commands of an ACCEPT's written launches (Mesos `Master::_accept` sending `RunTaskMessage` /
 * `RunTaskGroupMessage`): one LAUNCH per task, one LAUNCH_GROUP per group. Pure.
 */
import type { AgentCommand, LaunchGrant } from '#shared/protocol/internal.js';
import type { ExecutorInfo, FrameworkInfo, TaskGroupInfo } from '#shared/protocol/mesos.js';
import type { FrameworkRecord } from '../registrar/index.js';
import type { Launch } from './accept-plan.js';

/** The framework as its agents see it in a launch. */
function frameworkInfoForAgent(info: FrameworkInfo): Extract<AgentCommand, { type: 'LAUNCH' }>['framework_info'] {
  return {
    user: info.user,
    name: info.name,
    ...(info.checkpoint !== undefined ? { checkpoint: info.checkpoint } : {}),
    ...(info.capabilities ? { capabilities: info.capabilities } : {}),
  };
}

/**
 * The agent commands of the launches whose task rows were written: one LAUNCH per task, one
 * LAUNCH_GROUP per group (sent with its first task written), each with the launch's grant.
 */
export function launchCommands(
  framework: FrameworkRecord,
  launches: readonly Launch[],
  launchId: string,
  grant: LaunchGrant,
): AgentCommand[] {
  const frameworkInfo = frameworkInfoForAgent(framework.info);
  const framework_id = { value: framework.frameworkId };
  const commands: AgentCommand[] = [];
  const launchedGroups = new Set<TaskGroupInfo>();
  for (const launch of launches) {
    if (!launch.group) {
      const { custom } = launch;
      const task = custom
        ? {
            ...launch.task,
            resources: launch.resources,
            executor: { ...(launch.task.executor as ExecutorInfo), resources: custom.executorResources },
          }
        : { ...launch.task, resources: launch.resources };
      commands.push({ type: 'LAUNCH', framework_id, framework_info: frameworkInfo, task, launch_id: launchId, grant });
      continue;
    }
    if (launchedGroups.has(launch.group.taskGroup)) continue;
    launchedGroups.add(launch.group.taskGroup);
    commands.push({
      type: 'LAUNCH_GROUP',
      framework_id,
      framework_info: frameworkInfo,
      executor: { ...launch.group.executor, resources: launch.group.executorResources },
      task_group: launch.group.taskGroup,
      launch_id: launchId,
      grant,
    });
  }
  return commands;
}
