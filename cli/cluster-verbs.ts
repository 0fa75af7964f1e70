/**
 * `mantle agents|frameworks|tasks|roles`: the cluster as the operator API's GET_AGENTS, GET_FRAMEWORKS,
 * GET_TASKS and GET_ROLES answer it; a table, or the API's JSON with --json.
 */
import { Command } from 'commander';
import type { Task } from '../sdk/operator-types.js';
import {
  act,
  EXIT,
  operatorClient,
  print,
  printJson,
  withConnection,
  type ConnectionFlags,
  type Outcome,
} from './command.js';
import { agentsTable, frameworksTable, rolesTable, tasksTable } from './operator-format.js';

function agents(outcome: Outcome): Command {
  const command = withConnection(new Command('agents').description('the agents: state, resources used/total'));
  return act(command, outcome, async function () {
    const flags = this.opts<ConnectionFlags>();
    const answer = await operatorClient(flags).call('GET_AGENTS');
    if (flags.json) printJson(answer);
    else print(agentsTable(answer.agents ?? []));
    return EXIT.ok;
  });
}

function frameworks(outcome: Outcome): Command {
  const command = withConnection(
    new Command('frameworks')
      .description('the frameworks: roles, principal, state, resources allocated')
      .option('--completed', 'the frameworks that were torn down, instead'),
  );
  return act(command, outcome, async function () {
    const flags = this.opts<ConnectionFlags & { completed?: boolean }>();
    const answer = await operatorClient(flags).call('GET_FRAMEWORKS');
    if (flags.json) printJson(answer);
    else if (flags.completed) print(frameworksTable(answer.completed_frameworks ?? [], true));
    else print(frameworksTable(answer.frameworks ?? []));
    return EXIT.ok;
  });
}

interface TaskFlags extends ConnectionFlags {
  readonly all?: boolean;
  readonly framework?: string;
  readonly agent?: string;
  readonly state?: string;
}

/** The tasks the flags ask for: live ones (and unreachable), with --all the completed ones too. */
export function selectTasks(
  answer: {
    tasks?: readonly Task[];
    unreachable_tasks?: readonly Task[];
    completed_tasks?: readonly Task[];
  },
  flags: TaskFlags,
): Task[] {
  const state = flags.state?.toUpperCase();
  const wanted = state === undefined ? undefined : state.startsWith('TASK_') ? state : `TASK_${state}`;
  return [
    ...(answer.tasks ?? []),
    ...(answer.unreachable_tasks ?? []),
    ...(flags.all ? (answer.completed_tasks ?? []) : []),
  ].filter(
    (task) =>
      (flags.framework === undefined || task.framework_id.value === flags.framework) &&
      (flags.agent === undefined || task.agent_id.value === flags.agent) &&
      (wanted === undefined || task.state === wanted),
  );
}

function tasks(outcome: Outcome): Command {
  const command = withConnection(
    new Command('tasks')
      .description('the tasks the master knows: live and unreachable ones (--all: completed ones too)')
      .option('--all', 'completed tasks too')
      .option('--framework <id>', "only this framework's")
      .option('--agent <id>', "only this agent's")
      .option('--state <state>', 'only tasks in this state (RUNNING or TASK_RUNNING)'),
  );
  return act(command, outcome, async function () {
    const flags = this.opts<TaskFlags>();
    const answer = await operatorClient(flags).call('GET_TASKS');
    const selected = selectTasks(answer, flags);
    if (flags.json) printJson({ tasks: selected });
    else print(tasksTable(selected));
    return EXIT.ok;
  });
}

function roles(outcome: Outcome): Command {
  const command = withConnection(new Command('roles').description('the roles: weight, frameworks, allocation, quota'));
  return act(command, outcome, async function () {
    const flags = this.opts<ConnectionFlags>();
    const answer = await operatorClient(flags).call('GET_ROLES');
    if (flags.json) printJson(answer);
    else print(rolesTable(answer.roles ?? []));
    return EXIT.ok;
  });
}

export function clusterCommands(outcome: Outcome): Command[] {
  return [agents(outcome), frameworks(outcome), tasks(outcome), roles(outcome)];
}
