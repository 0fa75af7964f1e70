/**
 * `mantle execute`, like `mesos-execute`: a tiny framework that waits for a fitting offer, launches one
 * task, prints its status changes (and its output, which Mantle agents attach to the final update), and
 * exits with the task's exit status.
 */
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import type { FrameworkInfo, Offer, Resource, TaskInfo, TaskStatus } from '#shared/protocol/mesos.js';
import { parseResourceText } from '#shared/resources/parse.js';
import { allocate, contains, scalarTotal, unallocate } from '#shared/resources/resources.js';
import { isTerminal } from '#shared/tasks/state-machine.js';
import { resolveMaster } from '#shared/master-url.js';
import { SchedulerDriver, type Scheduler } from '../sdk/scheduler.js';

export const EXECUTE_USAGE = `Usage: mantle execute --command <cmd> [options]

  --master <host:port>    the master: host:port or http(s)://host:port[/path]
                          (default: MANTLE_MASTER, else MESOS_MASTER, else 127.0.0.1:5050)
  --name <name>           task name (default: mantle-execute)
  --command <cmd>         shell command to run (required)
  --resources <text>      e.g. cpus:0.1;mem:32;gpus:1 (default cpus:0.1;mem:32)
  --docker_image <image>  run in this Docker image (default: a plain process)
  --env <json|k=v,...>    environment, as a JSON object or KEY=VALUE pairs
  --role <role>           role to use (default *)
  --timeout <seconds>     give up waiting for an offer after this long (default 120)
  --principal <name>      authenticate as this principal (default: MANTLE_PRINCIPAL)
  --secret <secret>       its secret (default: MANTLE_SECRET)
Exit status: the task's own; 1 when it ended otherwise (killed, lost, failed to launch) or the master
refused the framework, 2 for bad arguments, 3 when no offer fitted in time, 130 when interrupted (the
task is killed).`;

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
      principal: { type: 'string' },
      secret: { type: 'string' },
    },
    strict: true,
  });
  if (!values.command) throw new Error('--command is required');
  const resources = parseResourceText(values.resources);
  if (!resources.ok) throw new Error(`--resources: ${resources.error.message}`);
  const timeoutSeconds = Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new Error('--timeout must be a positive number');
  const master = resolveMaster({ given: values.master, env, fallback: '127.0.0.1:5050' });
  if (!master.ok) throw new Error(master.error);
  const principal = values.principal ?? env.MANTLE_PRINCIPAL;
  const secret = values.secret ?? env.MANTLE_SECRET;
  if (Boolean(principal) !== Boolean(secret)) {
    throw new Error('--principal and --secret go together (or MANTLE_PRINCIPAL and MANTLE_SECRET)');
  }
  return {
    master: master.value,
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

function frameworkInfo(options: ExecuteOptions): FrameworkInfo {
  const multiRole = options.role !== '*';
  return {
    user: userInfo().username,
    name: 'mantle-execute',
    ...(options.credentials ? { principal: options.credentials.principal } : {}),
    ...(multiRole ? { roles: [options.role] } : {}),
    capabilities: [
      { type: 'PARTITION_AWARE' },
      ...(multiRole ? [{ type: 'MULTI_ROLE' as const }] : []),
      ...(scalarTotal(options.resources, 'gpus') > 0 ? [{ type: 'GPU_RESOURCES' as const }] : []),
    ],
  };
}

/** The state of one run: whether the task went out, and how the command ends (once). */
class OneTask {
  readonly id: string;
  launched = false;
  subscribed = false;
  settled = false;
  readonly finished: Promise<number>;
  private resolve: ((code: number) => void) | undefined;

  constructor(name: string) {
    this.id = `${name}-${randomBytes(4).toString('hex')}`;
    this.finished = new Promise<number>((resolve) => (this.resolve = resolve));
  }

  end(code: number): void {
    this.settled = true;
    this.resolve?.(code);
  }
}

/** Launches on the first offer that fits and declines the rest; prints updates; ends at a terminal one. */
function oneTaskScheduler(options: ExecuteOptions, task: OneTask): Scheduler {
  const { print } = options;
  return {
    subscribed(_driver, frameworkId) {
      task.subscribed = true;
      print(`Subscribed with ID ${frameworkId}`);
    },
    async resourceOffers(driver, offers) {
      const fitting = task.launched
        ? undefined
        : offers.find((offer) => contains(unallocate(offer.resources ?? []), options.resources));
      if (fitting) {
        task.launched = true;
        print(`Submitting task '${task.id}' to agent ${fitting.agent_id.value} (${fitting.hostname})`);
        await driver.launch([fitting.id.value], [taskFor(options, fitting, task.id)]);
      }
      const rest = offers.filter((offer) => offer !== fitting).map((offer) => offer.id.value);
      if (rest.length > 0) await driver.decline(rest, 3600);
    },
    statusUpdate(_driver, status) {
      if (status.task_id.value !== task.id) return;
      const why = [status.reason, status.message].filter(Boolean).join(': ');
      print(`Received status update ${status.state} for task '${task.id}'${why ? ` (${why})` : ''}`);
      // TASK_UNREACHABLE is not the end: the agent may come back with the task.
      if (isTerminal(status.state)) {
        if (status.data) print(Buffer.from(status.data, 'base64').toString('utf8').replace(/\n$/, ''));
        task.end(exitCodeOf(status));
      }
    },
    error(_driver, message) {
      // Before SUBSCRIBED the failed start says why; after our own TEARDOWN, "Framework has been
      // removed" is not news.
      if (task.settled || !task.subscribed) return;
      print(`Error from the master: ${message}`);
      task.end(EXIT.failed);
    },
  };
}

/** Runs one task to its end; resolves with the exit code for the process. */
export async function execute(options: ExecuteOptions): Promise<number> {
  const { print } = options;
  const task = new OneTask(options.name);
  const driver = new SchedulerDriver(oneTaskScheduler(options, task), {
    master: options.master,
    framework: frameworkInfo(options),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    // A command line answers quickly when the master is not there.
    callTimeoutMs: 10_000,
  });
  try {
    await driver.start();
  } catch (error) {
    await driver.stop(true);
    print(`Could not subscribe to the master at ${options.master}: ${(error as Error).message}`);
    return EXIT.failed;
  }
  const timer = setTimeout(() => {
    if (task.launched) return;
    print(`No offer fitting ${describeResources(options.resources)} within ${options.timeoutSeconds} s`);
    task.end(EXIT.noOffer);
  }, options.timeoutSeconds * 1000);
  const interrupt = () => {
    print(`Interrupted: tearing down the framework${task.launched ? `, which kills task '${task.id}'` : ''}`);
    task.end(EXIT.interrupted);
  };
  options.abort?.addEventListener('abort', interrupt, { once: true });
  const code = await task.finished;
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
