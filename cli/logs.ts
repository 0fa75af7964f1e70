/**
 * `mantle logs <task> [--follow]`: a task's stdout (or --stderr) through the master's files API (sdk/task-output.ts),
 * whichever agent ran it. The task is found with GET_TASKS (its framework and executor name its sandbox); with
 * --follow new output shows within a second, and the command ends when the task has ended and all it wrote is
 * printed, or on Ctrl-C (exit 130).
 */
import { Command } from 'commander';
import { OperatorClient } from '../sdk/operator.js';
import type { Task } from '../sdk/operator-types.js';
import { followTaskOutput, readTaskOutput, type TaskOutputTarget } from '../sdk/task-output.js';
import { act, connectionOf, EXIT, withConnection, type ConnectionFlags, type Outcome } from './command.js';
import { UsageError } from './jobs-client.js';

interface LogsFlags extends ConnectionFlags {
  readonly follow?: boolean;
  readonly stderr?: boolean;
  readonly framework?: string;
}

/** A task the master does not know (or knows in several frameworks): exit 1, as a refusal. */
export class TaskNotFound extends Error {}

/** The sandbox of the task: from GET_TASKS, or from --framework when the master no longer lists it. */
export async function findTask(
  client: OperatorClient,
  taskId: string,
  frameworkId?: string,
): Promise<TaskOutputTarget> {
  const answer = await client.getTasks();
  const all: Task[] = [
    ...(answer.tasks ?? []),
    ...(answer.unreachable_tasks ?? []),
    ...(answer.completed_tasks ?? []),
  ].filter((task) => task.task_id.value === taskId && (!frameworkId || task.framework_id.value === frameworkId));
  const frameworks = [...new Set(all.map((task) => task.framework_id.value))];
  if (frameworks.length > 1) {
    throw new UsageError(
      `task ${taskId} is in several frameworks (${frameworks.join(', ')}): say which with --framework`,
    );
  }
  const task = all[0];
  if (!task) {
    if (frameworkId) return { frameworkId, taskId };
    throw new TaskNotFound(`the master knows no task ${taskId} (give --framework for one it no longer lists)`);
  }
  return {
    frameworkId: task.framework_id.value,
    taskId,
    ...(task.executor_id ? { executorId: task.executor_id.value } : {}),
  };
}

/** Prints all the output there is now, page by page. */
async function printAll(connection: Parameters<typeof readTaskOutput>[0]): Promise<void> {
  let offset = 0;
  for (;;) {
    const chunk = await readTaskOutput({ ...connection, offset });
    if (chunk.data.length === 0) return;
    process.stdout.write(chunk.data);
    offset = chunk.next;
  }
}

async function follow(connection: Parameters<typeof followTaskOutput>[0]): Promise<number> {
  const interrupted = new AbortController();
  const stop = () => interrupted.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for await (const chunk of followTaskOutput({ ...connection, from: 'start', signal: interrupted.signal })) {
      process.stdout.write(chunk.data);
    }
    return interrupted.signal.aborted ? EXIT.interrupted : EXIT.ok;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

export function logsCommand(outcome: Outcome): Command {
  const command = withConnection(
    new Command('logs')
      .description("a task's output (stdout; --stderr for the other), from whichever agent ran it")
      .argument('<task-id>')
      .option('-f, --follow', 'keep printing what it writes until it ends (Ctrl-C stops)')
      .option('--stderr', 'its stderr instead of its stdout')
      .option('--framework <id>', 'the framework of the task (when the id is not unique, or no longer listed)'),
    false,
  );
  return act(command, outcome, async function (taskId: string) {
    const flags = this.opts<LogsFlags>();
    const client = new OperatorClient(connectionOf(flags));
    const target = await findTask(client, taskId, flags.framework).catch((error: unknown) => {
      if (!(error instanceof TaskNotFound)) throw error;
      console.error(`mantle logs: ${error.message}`);
      return undefined;
    });
    if (!target) return EXIT.request;
    const connection = {
      ...target,
      file: flags.stderr ? ('stderr' as const) : ('stdout' as const),
      ...connectionOf(flags),
    };
    if (flags.follow) return follow(connection);
    await printAll(connection);
    return EXIT.ok;
  });
}
