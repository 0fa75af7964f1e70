/**
 * `npm start` / `mantle local`: the whole cluster on this machine, with Mesos's flag names where they
 * apply. It prints what it started and where, and stops everything it started on Ctrl-C.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseClusterAcl, type Acl } from '#shared/acl.js';
import { defaultAgentProcesses, startLocalCluster, type LocalCluster } from './cluster.js';
import { ensureUiBuilt } from './ui.js';

export const LOCAL_USAGE = `Usage: npm start -- [options]    (or: mantle local [options])

  --port <n>                      the master's port on 127.0.0.1 (default 5050)
  --agents <n>                    agents to start (default 1; 0 = a master alone)
  --agent_processes <n>           child processes the agents run in (default: one per core, at most one per
                                  agent; 0 = in the master's process)
  --resources <text>              each agent's resources, e.g. 'cpus:4;mem:8192' (default: a share of this machine)
  --work_dir <dir>                agents' work directories (default .mantle)
  --data_dir <dir>                keep the registrar and the cluster id here across restarts (default: in memory)
  --containerizer <auto|docker|mesos>  Docker when a daemon answers, else processes (default auto)
  --agent_ping_timeout <secs>     Mesos --agent_ping_timeout (default 15)
  --max_agent_ping_timeouts <n>   Mesos --max_agent_ping_timeouts (default 5)
  --offer_timeout <secs>          offers are rescinded after this (default 120)
  --filter_gpu_resources <bool>   Mesos's flag: agents with GPUs only for GPU_RESOURCES frameworks (default
                                  true, or MANTLE_FILTER_GPU_RESOURCES); false lets other tasks onto them
  --authenticate                  require credentials: the cluster's agents get theirs; frameworks need a
                                  principal (it says how to create one with mantle principal create)
  --acls <json|@file|permissive>  what frameworks may do where their principal's ACL is silent (docs/security.md);
                                  default: permissive without --authenticate, the safe defaults with it
  --cluster <name>                table and queue prefix (default mantle)`;

function number(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} must be a non-negative number, not '${value}'`);
  return n;
}

/** --filter_gpu_resources: true or false; absent, MANTLE_FILTER_GPU_RESOURCES, else Mesos's default (true). */
export function readFilterGpuResources(value: string | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  const text = value ?? env.MANTLE_FILTER_GPU_RESOURCES ?? 'true';
  if (text !== 'true' && text !== 'false') {
    throw new Error(`--filter_gpu_resources must be true or false, not '${text}'`);
  }
  return text === 'true';
}

/** --acls: `permissive`, JSON, or @file with either. */
export function readAclsFlag(value: string): Acl {
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = readFileSync(value.slice(1), 'utf8');
    } catch (error) {
      throw new Error(`--acls: cannot read ${value.slice(1)}: ${(error as Error).message}`, { cause: error });
    }
  }
  const parsed = parseClusterAcl(text);
  if (!parsed.ok) throw new Error(`--acls: ${parsed.error}`);
  return parsed.value;
}

/** mantle execute runs its task as the user who runs it; root needs the ACL to say so. */
const ROOT_HINT = [
  'mantle execute runs tasks as you (root), which the safe default ACLs refuse; to allow it:',
  `  ./bin/mantle.js principal update --name my-framework --acl '{"run_as_users":["*","root"]}'`,
].join('\n');

/** What to type next: a task to run, and with authentication on, how to get a framework's credentials. */
function readyHints(cluster: LocalCluster, name: string): string {
  const master = cluster.url.replace(/^http:\/\//, '');
  const execute = `./bin/mantle.js execute --master ${master}`;
  const task = `--command 'echo hello from Mantle'`;
  if (!cluster.agentPrincipal) return `Try:\n  ${execute} ${task}`;
  const principal = `./bin/mantle.js principal create --name my-framework --dynamodb_endpoint ${cluster.aws.dynamodb.endpoint}`;
  return [
    "Authentication is on; this cluster's agents have their own credential. Create a framework's",
    'principal (its secret is printed once), then run a task with it:',
    `  ${principal}${name === 'mantle' ? '' : ` --cluster ${name}`}`,
    `  ${execute} --principal=my-framework --secret=<its secret> ${task}`,
    ...(process.getuid?.() === 0 ? [ROOT_HINT] : []),
  ].join('\n');
}

const LOCAL_OPTIONS = {
  port: { type: 'string', default: '5050' },
  agents: { type: 'string', default: '1' },
  agent_processes: { type: 'string' },
  resources: { type: 'string' },
  work_dir: { type: 'string' },
  data_dir: { type: 'string' },
  containerizer: { type: 'string', default: 'auto' },
  agent_ping_timeout: { type: 'string' },
  max_agent_ping_timeouts: { type: 'string' },
  offer_timeout: { type: 'string' },
  filter_gpu_resources: { type: 'string' },
  authenticate: { type: 'boolean', default: false },
  acls: { type: 'string' },
  cluster: { type: 'string', default: 'mantle' },
  help: { type: 'boolean', default: false },
} as const;

/** The flags, or undefined (said why) when they do not parse. */
function localArgs(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: LOCAL_OPTIONS, strict: true }).values;
  } catch (error) {
    console.error(`mantle local: ${(error as Error).message}\n\n${LOCAL_USAGE}`);
    return undefined;
  }
}

export async function runLocalCli(argv: readonly string[]): Promise<number> {
  const values = localArgs(argv);
  if (values === undefined) return 2;
  if (values.help) {
    console.log(LOCAL_USAGE);
    return 0;
  }
  const containerizer = values.containerizer;
  if (containerizer !== 'auto' && containerizer !== 'docker' && containerizer !== 'mesos') {
    console.error(`mantle local: --containerizer must be auto, docker or mesos\n\n${LOCAL_USAGE}`);
    return 2;
  }
  let acls: Acl | undefined;
  let filterGpuResources: boolean;
  try {
    acls = values.acls === undefined ? undefined : readAclsFlag(values.acls);
    filterGpuResources = readFilterGpuResources(values.filter_gpu_resources);
  } catch (error) {
    console.error(`mantle local: ${(error as Error).message}`);
    return 2;
  }
  const started = Date.now();
  // Listening before anything starts: a Ctrl-C that comes while the cluster starts (or just as it says
  // it is ready) stops it cleanly instead of killing the process and leaving DynamoDB Local behind.
  const stopAsked = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  console.log('mantle: starting a local cluster...');
  let cluster: LocalCluster;
  try {
    await ensureUiBuilt(console.log);
    const agentPingTimeout = number(values.agent_ping_timeout, '--agent_ping_timeout');
    const maxAgentPingTimeouts = number(values.max_agent_ping_timeouts, '--max_agent_ping_timeouts');
    const offerTimeout = number(values.offer_timeout, '--offer_timeout');
    const agents = number(values.agents, '--agents') ?? 1;
    const agentProcesses = number(values.agent_processes, '--agent_processes') ?? defaultAgentProcesses(agents);
    if (!Number.isInteger(agentProcesses)) {
      throw new Error(`--agent_processes must be a whole number, not '${values.agent_processes}'`);
    }
    cluster = await startLocalCluster({
      cluster: values.cluster,
      port: number(values.port, '--port') ?? 5050,
      hostname: '127.0.0.1',
      agents,
      agentProcesses,
      sqsProcess: true,
      workDir: values.data_dir ?? values.work_dir ?? '.mantle',
      persist: values.data_dir !== undefined,
      containerizer,
      ...(values.resources !== undefined ? { agentResources: values.resources } : {}),
      allocator: { filterGpuResources },
      master: {
        authenticate: values.authenticate,
        ...(acls ? { acls } : {}),
        ...(agentPingTimeout !== undefined ? { agentPingTimeoutSeconds: agentPingTimeout } : {}),
        ...(maxAgentPingTimeouts !== undefined ? { maxAgentPingTimeouts } : {}),
        ...(offerTimeout !== undefined ? { offerTimeoutSeconds: offerTimeout } : {}),
      },
      allocationIntervalSeconds: 10,
      sweepIntervalSeconds: 5,
      log: (line) => console.log(line),
    });
  } catch (error) {
    console.error(`mantle: could not start: ${(error as Error).message}`);
    return 1;
  }
  console.log(`mantle: ready in ${Date.now() - started} ms. ${readyHints(cluster, values.cluster)}
Ctrl-C stops everything.`);
  const ended = await Promise.race([stopAsked, cluster.aws.died]);
  if (ended instanceof Error) {
    console.error(`\nmantle: ${ended.message}; stopping...`);
    await cluster.stop();
    console.error('mantle: stopped.');
    return 1;
  }
  console.log(`\nmantle: ${ended}, stopping...`);
  await cluster.stop();
  console.log('mantle: stopped.');
  return 0;
}
