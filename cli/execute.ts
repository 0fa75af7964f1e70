/**
 * `mantle execute`, like `mesos-execute`: a tiny framework that waits for a fitting offer, launches one
 * task, prints its status changes (and its output, which Mantle agents attach to the final update), and
 * exits with the task's exit status.
 */
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import type { Offer, Resource, TaskInfo, TaskStatus } from '../shared/protocol/mesos.js';
import { parseResourceText } from '../shared/resources/parse.js';
import { allocate, contains, scalarTotal, unallocate } from '../shared/resources/resources.js';
import { isTerminal } from '../shared/tasks/state-machine.js';
import { SchedulerDriver } from '../sdk/scheduler.js';

export const EXECUTE_USAGE = `Usage: mantle execute --command <cmd> [options]

  --master <url>          the master (default http://127.0.0.1:5050, or MANTLE_MASTER)
  --name <name>           task name (default: mantle-execute)
  --command <cmd>         shell command to run (required)
  --resources <text>      e.g. cpus:0.1;mem:32;gpus:1 (default cpus:0.1;mem:32)
  --docker_image <image>  run in this Docker image (default: a plain process)
  --env <json|k=v,...>    environment, as a JSON object or KEY=VALUE pairs
  --role <role>           role to use (default *)
  --timeout <seconds>     give up waiting for an offer after this long (default 120)
Credentials (when the master authenticates): MANTLE_PRINCIPAL and MANTLE_SECRET.
Exit status: the task's own; 1 when it ended otherwise (killed, lost, failed to launch), 2 for bad
arguments, 3 when no offer fitted in time, 130 when interrupted (the task is killed).`;

export interface ExecuteOptions {
  readonly master: string;
  readonly name: string;
  readonly command: string;
  readonly resources: Resource[];
  readonly dockerImage?: string;
  readonly environment: Record<string, string>;
  readonly role: string;
  readonly timeoutSeconds: number;
  readonly credentials?: { principal: string; secret: string };
  readonly print: (line: string) => void;
  /** Ends the run early (Ctrl-C): the framework is torn down, which kills the task. */
  readonly abort?: AbortSignal;
}

/** Exit codes besides the task's own. */
export const EXIT = { failed: 1, usage: 2, noOffer: 3, interrupted: 130 } as const;

function parseEnvironment(text: string | undefined): Record<string, string> {
  if (!text) return {};
  if (/^\s*[[{]/.test(text)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new Error(`--env is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('--env must be a JSON object');
    return Object.fromEntries(Object.entries(parsed).map(([key, value]) => [key, String(value)]));
  }
  return Object.fromEntries(
    text.split(',').map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`--env: '${pair}' is not KEY=VALUE`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

export function parseExecuteArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ExecuteOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      master: { type: 'string' },
      name: { type: 'string', default: 'mantle-execute' },
      command: { type: 'string' },
      resources: { type: 'string', default: 'cpus:0.1;mem:32' },
      docker_image: { type: 'string' },
      env: { type: 'string' },
      role: { type: 'string', default: '*' },
      timeout: { type: 'string', default: '120' },
    },
    strict: true,
  });
  if (!values.command) throw new Error('--command is required');
  const resources = parseResourceText(values.resources);
  if (!resources.ok) throw new Error(`--resources: ${resources.error.message}`);
  const timeoutSeconds = Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new Error('--timeout must be a positive number');
  const principal = env.MANTLE_PRINCIPAL;
  const secret = env.MANTLE_SECRET;
  return {
    master: (values.master ?? env.MANTLE_MASTER ?? 'http://127.0.0.1:5050').replace(/\/$/, ''),
    name: values.name,
    command: values.command,
    resources: resources.value,
    ...(values.docker_image ? { dockerImage: values.docker_image } : {}),
    environment: parseEnvironment(values.env),
    role: values.role,
    timeoutSeconds,
    ...(principal && secret ? { credentials: { principal, secret } } : {}),
    print: (line) => console.log(line),
  };
}

/** The exit code a finished task reports ("Command exited with status N"), Mesos's wording. */
export function exitCodeOf(status: TaskStatus): number {
  const match = /exited with status (\d+)/.exec(status.message ?? '');
  if (match?.[1]) return Number(match[1]);
  return status.state === 'TASK_FINISHED' ? 0 : 1;
}

function taskFor(options: ExecuteOptions, offer: Offer, taskId: string): TaskInfo {
  const variables = Object.entries(options.environment).map(([name, value]) => ({
    name,
    type: 'VALUE' as const,
    value,
  }));
  return {
    name: options.name,
    task_id: { value: taskId },
    agent_id: offer.agent_id,
    resources: allocate(options.resources, offer.allocation_info?.role ?? options.role),
    command: { shell: true, value: options.command, ...(variables.length > 0 ? { environment: { variables } } : {}) },
    ...(options.dockerImage
      ? { container: { type: 'DOCKER' as const, docker: { image: options.dockerImage, network: 'HOST' as const } } }
      : {}),
  };
}

/** Runs one task to its end; resolves with the exit code for the process. */
export async function execute(options: ExecuteOptions): Promise<number> {
  const taskId = `${options.name}-${randomBytes(4).toString('hex')}`;
  const { print } = options;
  let launched = false;
  let settled = false;
  let resolveFinished: ((code: number) => void) | undefined;
  const finished = new Promise<number>((resolve) => (resolveFinished = resolve));
  const result = (code: number) => {
    settled = true;
    resolveFinished?.(code);
  };

  const driver = new SchedulerDriver(
    {
      subscribed: (_driver, frameworkId) => print(`Subscribed with ID ${frameworkId}`),
      async resourceOffers(driver, offers) {
        const fitting = launched
          ? undefined
          : offers.find((offer) => contains(unallocate(offer.resources ?? []), options.resources));
        if (fitting) {
          launched = true;
          print(`Submitting task '${taskId}' to agent ${fitting.agent_id.value} (${fitting.hostname})`);
          await driver.launch([fitting.id.value], [taskFor(options, fitting, taskId)]);
        }
        const rest = offers.filter((offer) => offer !== fitting).map((offer) => offer.id.value);
        if (rest.length > 0) await driver.decline(rest, 3600);
      },
      statusUpdate(_driver, status) {
        if (status.task_id.value !== taskId) return;
        const why = [status.reason, status.message].filter(Boolean).join(': ');
        print(`Received status update ${status.state} for task '${taskId}'${why ? ` (${why})` : ''}`);
        // TASK_UNREACHABLE is not the end: the agent may come back with the task.
        if (isTerminal(status.state)) {
          if (status.data) print(Buffer.from(status.data, 'base64').toString('utf8').replace(/\n$/, ''));
          result(exitCodeOf(status));
        }
      },
      error(_driver, message) {
        // Our own TEARDOWN ends the stream with "Framework has been removed": not news once we are done.
        if (settled) return;
        print(`Error from the master: ${message}`);
        result(EXIT.failed);
      },
    },
    {
      master: options.master,
      framework: {
        user: userInfo().username,
        name: 'mantle-execute',
        ...(options.role !== '*' ? { roles: [options.role] } : {}),
        capabilities: [
          { type: 'PARTITION_AWARE' },
          ...(options.role !== '*' ? [{ type: 'MULTI_ROLE' as const }] : []),
          ...(scalarTotal(options.resources, 'gpus') > 0 ? [{ type: 'GPU_RESOURCES' as const }] : []),
        ],
      },
      ...(options.credentials ? { credentials: options.credentials } : {}),
      // A command line answers quickly when the master is not there.
      callTimeoutMs: 10_000,
    },
  );
  try {
    await driver.start();
  } catch (error) {
    await driver.stop(true);
    print(`Could not subscribe to the master at ${options.master}: ${(error as Error).message}`);
    return EXIT.failed;
  }
  const timer = setTimeout(() => {
    if (!launched) {
      print(`No offer fitting ${describeResources(options.resources)} within ${options.timeoutSeconds} s`);
      result(EXIT.noOffer);
    }
  }, options.timeoutSeconds * 1000);
  const interrupt = () => {
    print(`Interrupted: tearing down the framework${launched ? `, which kills task '${taskId}'` : ''}`);
    result(EXIT.interrupted);
  };
  options.abort?.addEventListener('abort', interrupt, { once: true });
  const code = await finished;
  clearTimeout(timer);
  options.abort?.removeEventListener('abort', interrupt);
  // TEARDOWN: a task still running (interrupted, or no terminal update) does not outlive the command.
  await driver.stop();
  return code;
}

function describeResources(resources: readonly Resource[]): string {
  return resources.map((r) => `${r.name}:${r.scalar?.value ?? JSON.stringify(r.ranges ?? r.set)}`).join(';');
}

export async function runExecuteCli(argv: readonly string[]): Promise<number> {
  let options: ExecuteOptions;
  try {
    options = parseExecuteArgs(argv);
  } catch (error) {
    console.error(`mantle execute: ${(error as Error).message}\n\n${EXECUTE_USAGE}`);
    return EXIT.usage;
  }
  const interrupted = new AbortController();
  const onSignal = () => interrupted.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await execute({ ...options, abort: interrupted.signal });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
