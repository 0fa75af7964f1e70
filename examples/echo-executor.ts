/**
 * An example custom executor (`node --import tsx examples/echo-executor.ts` as an ExecutorInfo's
 * command): it runs each task's `data` (base64 of a shell command, since a task with an executor has no
 * CommandInfo of its own) as a child in the sandbox, reports TASK_RUNNING then TASK_FINISHED or
 * TASK_FAILED, kills a task on KILL (TASK_KILLED), runs each task of a task group (LAUNCH_GROUP) the
 * same way (its TASK_RUNNING says the group's size), and echoes every framework message back as
 * `echo: <message>`. The message `exit <code>` makes it exit at once with that code, leaving its tasks
 * to the agent (for trying out what an executor's end does).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { TaskInfo } from '#shared/protocol/mesos.js';
import { ExecutorDriver, type ExecutorStatus } from '../sdk/executor.js';

const children = new Map<string, ChildProcess>();
const killed = new Set<string>();

/** Each task's updates one after the other: a fast task's TASK_FINISHED must not overtake its TASK_RUNNING. */
const reported = new Map<string, Promise<unknown>>();

function report(driver: ExecutorDriver, status: ExecutorStatus): void {
  const taskId = status.task_id.value;
  const sent = (reported.get(taskId) ?? Promise.resolve())
    .then(() => driver.update(status))
    .catch((error: unknown) => console.error(`Update of ${taskId} failed:`, error));
  reported.set(taskId, sent);
}

function run(task: TaskInfo, driver: ExecutorDriver, groupSize?: number): void {
  const taskId = task.task_id.value;
  const command = task.data ? Buffer.from(task.data, 'base64').toString('utf8') : 'true';
  const child = spawn('/bin/sh', ['-c', command], { cwd: driver.env.sandbox, stdio: 'inherit' });
  children.set(taskId, child);
  const message = groupSize === undefined ? undefined : `Launched in a task group of ${groupSize}`;
  report(driver, { task_id: task.task_id, state: 'TASK_RUNNING', ...(message ? { message } : {}) });
  child.on('exit', (code, signal) => {
    children.delete(taskId);
    const state = killed.has(taskId) ? 'TASK_KILLED' : code === 0 ? 'TASK_FINISHED' : 'TASK_FAILED';
    const message = signal ? `Command terminated with signal ${signal}` : `Command exited with status ${code}`;
    report(driver, { task_id: task.task_id, state, message });
  });
}

const driver = new ExecutorDriver({
  onLaunch(task, driver) {
    run(task, driver);
  },
  onLaunchGroup(group, driver) {
    const tasks = group.tasks ?? [];
    for (const task of tasks) run(task, driver, tasks.length);
  },
  onKill(taskId) {
    killed.add(taskId);
    children.get(taskId)?.kill('SIGTERM');
  },
  onMessage(data, driver) {
    const text = data.toString('utf8');
    const exit = /^exit (\d+)$/.exec(text);
    if (exit) process.exit(Number(exit[1]));
    driver.message(`echo: ${text}`).catch((error: unknown) => console.error('Echo failed:', error));
  },
  onShutdown() {
    for (const [taskId, child] of children) {
      killed.add(taskId);
      child.kill('SIGTERM');
    }
    setTimeout(() => process.exit(0), 500).unref();
  },
});

await driver.run();
