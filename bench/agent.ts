/**
 * Agent launch latency, per containerizer: 50 launches one after another on an agent in its own process
 * (as in production), against the SQS stand-in and a stand-in master that acknowledges every update at
 * once. Two numbers per containerizer:
 *
 * - agent: LAUNCH command received -> TASK_RUNNING checkpointed (the agent's own work; the budget is
 *   <= 300 ms for Docker and <= 50 ms for process tasks, median and p99);
 * - end to end: LAUNCH sent to the command queue -> TASK_RUNNING received from the status queue, which
 *   adds two queue hops each way and the acknowledgement of TASK_STARTING (only the head of a task's
 *   update stream is in flight, as in Mesos).
 *
 * Then the agent's cost per task under load: BENCH_BURST (default 200) trivial process tasks (`true`) sent
 * at once, timed from the first LAUNCH sent to the last TASK_FINISHED received, with the CPU seconds the
 * agent's process spent meanwhile, its tasks' supervisors and the tasks included (its children's, and
 * theirs), and the agent's own process's share. BENCH_LAUNCHES=0 measures only the burst. BENCH_AGENT_PROFILE=<dir> has the agent's process write
 * its CPU profile there (`node --cpu-prof`) when it stops.
 *
 * Prints a line per containerizer and one for the burst, and writes bench/results/agent.json.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { freePort, startSqsStandIn } from '../local/aws-standins.js';
import { createAwsClients } from '#shared/aws/clients.js';
import { FakeMaster } from '../test/support/agent-master.js';
import { spawnAgentProcess } from '../test/support/agent-process.js';
import {
  commandTask,
  dockerTask,
  removeContainers,
  removeWorkDir,
  tempWorkDir,
  launch,
} from '../test/support/agent.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const LAUNCHES = Number(process.env.BENCH_LAUNCHES ?? 50);
const BURST = Number(process.env.BENCH_BURST ?? 200);
const BUDGET_MS = { mesos: 50, docker: 300 } as const;

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** LAUNCHES launches of one containerizer: the agent's own launch -> TASK_RUNNING, and end to end. */
async function measureKind(
  master: FakeMaster,
  agentId: string,
  port: number,
  kind: 'mesos' | 'docker',
): Promise<Record<string, unknown>> {
  const endToEnd: number[] = [];
  for (let i = 0; i < LAUNCHES; i++) {
    const id = `bench-${kind}-${i}`;
    const task = kind === 'docker' ? dockerTask(id, 'sleep 0.2') : commandTask(id, 'sleep 0.2');
    const sent = performance.now();
    await master.send(agentId, launch(task));
    const running = await master.waitFor(id, 'TASK_RUNNING', 30_000);
    endToEnd.push(running.at - sent);
    await master.waitFor(id, 'TASK_FINISHED', 30_000);
  }
  const snapshot = (await (await fetch(`http://127.0.0.1:${port}/metrics/snapshot`)).json()) as Record<string, number>;
  const metric = `containerizer/${kind}/launch_to_running_ms`;
  const agentP50 = snapshot[`${metric}/p50`] as number;
  const agentP99 = snapshot[`${metric}/p99`] as number;
  endToEnd.sort((a, b) => a - b);
  const result = {
    containerizer: kind === 'mesos' ? 'process (mesos)' : 'docker',
    launches: LAUNCHES,
    agent_p50_ms: round(agentP50),
    agent_p99_ms: round(agentP99),
    end_to_end_p50_ms: round(percentile(endToEnd, 0.5)),
    end_to_end_p99_ms: round(percentile(endToEnd, 0.99)),
    budget_ms: BUDGET_MS[kind],
    within_budget: agentP50 <= BUDGET_MS[kind] && agentP99 <= BUDGET_MS[kind],
  };
  console.log(
    `${result.containerizer.padEnd(16)} launch -> TASK_RUNNING  agent: p50 ${result.agent_p50_ms} ms, p99 ${result.agent_p99_ms} ms` +
      ` (budget ${result.budget_ms} ms: ${result.within_budget ? 'met' : 'MISSED'})` +
      `  | end to end via the queues: p50 ${result.end_to_end_p50_ms} ms, p99 ${result.end_to_end_p99_ms} ms`,
  );
  return result;
}

/**
 * utime, stime, cutime and cstime of a process (/proc/<pid>/stat), in seconds; zero once it is gone. `own`:
 * utime and stime only (the process itself, not what it reaped).
 */
function processCpu(pid: number, own = false): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // Fields 14 to 17 of stat(5), 12 to 15 after the name; clock ticks of 10 ms.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields.slice(11, own ? 13 : 15).reduce((total, ticks) => total + Number(ticks), 0) / 100;
}

/**
 * CPU seconds of the agent's process and of its children, live (its spawner of supervisors) or reaped
 * (each with what it reaped in turn: the supervisors and their tasks).
 */
function agentCpuSeconds(pid: number): number {
  const children = readdirSync(`/proc/${pid}/task`).flatMap((thread) =>
    readFileSync(`/proc/${pid}/task/${thread}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
  );
  return children.reduce((total, child) => total + processCpu(child), processCpu(pid));
}

/** BURST trivial process tasks at once: how long the agent takes for them and the CPU it spends. */
async function measureBurst(master: FakeMaster, agentId: string, agentPid: number): Promise<Record<string, unknown>> {
  const ids = Array.from({ length: BURST }, (_, i) => `burst-${i}`);
  const finished = () => master.statuses.filter((received) => received.status.state === 'TASK_FINISHED').length;
  const before = finished();
  const cpuBefore = agentCpuSeconds(agentPid);
  const ownBefore = processCpu(agentPid, true);
  const started = performance.now();
  for (let i = 0; i < ids.length; i += 10) {
    await master.send(agentId, ...ids.slice(i, i + 10).map((id) => launch(commandTask(id, 'true'))));
  }
  await master.until(() => finished() - before >= BURST, 60_000 + BURST * 500, `${BURST} tasks to finish`);
  const seconds = (performance.now() - started) / 1000;
  // The last acknowledgements close the streams: the agent's work for these tasks ends there.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const cpu = agentCpuSeconds(agentPid) - cpuBefore;
  const own = processCpu(agentPid, true) - ownBefore;
  const result = {
    tasks: BURST,
    command: 'true',
    seconds: round(seconds),
    tasks_per_second: round(BURST / seconds),
    agent_cpu_seconds: round(cpu),
    agent_cpu_ms_per_task: round((cpu * 1000) / BURST),
    agent_process_cpu_ms_per_task: round((own * 1000) / BURST),
  };
  console.log(
    `burst of ${BURST} \`true\` tasks: ${result.seconds} s, ${result.tasks_per_second} tasks/s;` +
      ` agent CPU ${result.agent_cpu_seconds} s (${result.agent_cpu_ms_per_task} ms per task, supervisors and tasks included;` +
      ` ${result.agent_process_cpu_ms_per_task} ms in the agent's own process)`,
  );
  return result;
}

function write(
  results: Array<Record<string, unknown>>,
  burst: Record<string, unknown> | undefined,
  loadBefore: number,
): void {
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'agent.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        benchmark: 'agent launch -> TASK_RUNNING',
        date: new Date().toISOString(),
        machine: {
          cpus: cpus().length,
          model: cpus()[0]?.model,
          node: process.version,
          load_average_1m: { before: loadBefore, after: loadavg()[0] },
        },
        results,
        burst,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`wrote ${out}`);
}

async function main(): Promise<void> {
  const sqs = await startSqsStandIn();
  const clients = createAwsClients({ endpoints: { sqs: sqs.endpoint } });
  const master = await new FakeMaster({ sqs: clients.sqs }).start();
  const workDir = await tempWorkDir();
  const port = await freePort();
  const dockerAvailable = await new Docker()
    .ping()
    .then(() => true)
    .catch(() => false);
  const kinds = dockerAvailable ? (['mesos', 'docker'] as const) : (['mesos'] as const);
  const agent = spawnAgentProcess(
    [
      `--master=${master.url}`,
      `--work_dir=${workDir}`,
      `--sqs_endpoint=${sqs.endpoint}`,
      `--containerizers=${kinds.join(',')}`,
      `--port=${port}`,
      '--resources=cpus:8;mem:8192;disk:10000;ports:[31000-32000]',
      '--ec2_metadata=off',
      '--nvidia_smi=none',
      '--no-switch_user',
    ],
    { POWERTOOLS_LOG_LEVEL: 'INFO' },
    process.env.BENCH_AGENT_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_AGENT_PROFILE}`] : [],
  );
  const results: Array<Record<string, unknown>> = [];
  let burst: Record<string, unknown> | undefined;
  // Other work on the machine moves these numbers: the load is recorded with them.
  const loadBefore = loadavg()[0] as number;
  try {
    const agentId = await agent.registered;
    if (LAUNCHES > 0) for (const kind of kinds) results.push(await measureKind(master, agentId, port, kind));
    burst = await measureBurst(master, agentId, agent.pid);
    if (!dockerAvailable) console.log('docker: no Docker engine answers here; not measured');
  } finally {
    await agent.stop();
    await removeContainers([workDir]);
    await master.close();
    clients.destroy();
    await sqs.stop();
    await removeWorkDir(workDir);
  }
  write(results, burst, loadBefore);
}

await main();
