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
 * Prints a line per containerizer and writes bench/results/agent.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
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

function write(results: Array<Record<string, unknown>>, loadBefore: number): void {
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
  );
  const results: Array<Record<string, unknown>> = [];
  // Other work on the machine moves these numbers: the load is recorded with them.
  const loadBefore = loadavg()[0] as number;
  try {
    const agentId = await agent.registered;
    for (const kind of kinds) results.push(await measureKind(master, agentId, port, kind));
    if (!dockerAvailable) console.log('docker: no Docker engine answers here; not measured');
  } finally {
    await agent.stop();
    await removeContainers([workDir]);
    await master.close();
    clients.destroy();
    await sqs.stop();
    await removeWorkDir(workDir);
  }
  write(results, loadBefore);
}

await main();
