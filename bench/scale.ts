/**
 * The scale simulation (issue: 10,000 agents, 100,000 tasks): a master on DynamoDB Local and the SQS stand-in
 * (bench/support/scale-cluster.ts: the local cluster's handlers), thousands of light simulated agents that speak
 * the real agent's protocol and start nothing (bench/support/simulated-agents.ts), and frameworks on the
 * scheduler SDK that submit the tasks (bench/support/scale-framework.ts).
 *
 * 1. Registration: every agent registers through the master's HTTP API (timed on its own).
 * 2. Idle: the registered fleet heartbeats for a while with no tasks, for the writes that do not come from tasks.
 * 3. Run: the tasks, split over the frameworks, spread over the agents (at most ceil(tasks / agents) per offer).
 *    Measured: tasks/s from the first ACCEPT to the last TASK_FINISHED; submit (ACCEPT sent) -> TASK_RUNNING and
 *    from the run's start -> TASK_RUNNING, p50/p99; the allocator's pass times (its allocation_run_ms timer);
 *    the process's RSS and heap, and DynamoDB Local's and the SQS stand-in's RSS (each its own process), at their peaks.
 * 4. The hottest partition key: every DynamoDB write of the master counted per table and partition key, in write
 *    capacity units per second (partition-writes.ts). Each key's units are split into what it takes while idle
 *    (b, per second) and what it takes per task (a), and taken to the AWS-scale rate R: a * R + b must stay under
 *    1,000 WCU, DynamoDB's limit per partition. R defaults to 1,000 tasks/s: 100,000 tasks in 100 s, or each of
 *    10,000 agents starting a task every 10 s (--aws-rate to change). The rate each key reaches 1,000 WCU at is
 *    printed too.
 *
 * Flags (or BENCH_* variables): --agents (10000), --tasks (100000), --frameworks (1), --task-ms (0),
 * --idle-seconds (30), --aws-rate (1000), --max-run-seconds (none: a run cut off reports the tasks that ended by
 * then), --agent-ping-timeout (15: the master's agent_ping_timeout, the agents' heartbeat interval), --per-agent
 * (the tasks a framework places on one agent at once; 0, the default: as many as spread the tasks evenly,
 * ceil(tasks / agents)). Prints progress every 5 s; writes bench/results/scale.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { AwsClients } from '#shared/aws/clients.js';
import { queueNames } from '#shared/queues/queues.js';
import { PARTITION_LIMIT_WCU, PartitionWriteMeter, partitionFigures } from './support/partition-writes.js';
import { startScaleCluster, type ScaleCluster } from './support/scale-cluster.js';
import { QueueDepths } from './support/queue-depths.js';
import { startScaleFramework, type ScaleFramework, type ScaleTimeline } from './support/scale-framework.js';
import { attachDoorbell } from './support/fleet-parts.js';
import { SimulatedFleet } from './support/simulated-agents.js';
import { round, summary } from './support/throughput.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

const AGENT_RESOURCES = 'cpus:4;mem:4096;disk:1024';
const TASK_RESOURCES = 'cpus:0.1;mem:16';
const CLUSTER = 'scale';
const ALLOCATION_INTERVAL_SECONDS = 10;
// A framework's ACCEPT calls in flight at once (its offer callback hands them over and returns).
const ACCEPT_CALLERS = 16;
// AWS runs the sweeper every minute (infra/cost.ts); the local cluster's 5 s would scan the fleet 12 times as often.
const SWEEP_INTERVAL_SECONDS = 60;

function settings() {
  const { values } = parseArgs({
    options: {
      agents: { type: 'string' },
      tasks: { type: 'string' },
      frameworks: { type: 'string' },
      'task-ms': { type: 'string' },
      'idle-seconds': { type: 'string' },
      'aws-rate': { type: 'string' },
      'max-run-seconds': { type: 'string' },
      'agent-ping-timeout': { type: 'string' },
      'per-agent': { type: 'string' },
    },
  });
  const read = (flag: keyof typeof values, env: string, fallback: number, min: number): number => {
    const value = Number(values[flag] ?? process.env[env] ?? fallback);
    if (Number.isNaN(value) || value < min) throw new Error(`--${flag} must be a number >= ${min}, not ${value}`);
    return value;
  };
  return {
    agents: read('agents', 'BENCH_AGENTS', 10_000, 1),
    tasks: read('tasks', 'BENCH_TASKS', 100_000, 1),
    frameworks: read('frameworks', 'BENCH_FRAMEWORKS', 1, 1),
    taskMs: read('task-ms', 'BENCH_TASK_MS', 0, 0),
    idleSeconds: read('idle-seconds', 'BENCH_IDLE_SECONDS', 30, 1),
    awsRate: read('aws-rate', 'BENCH_AWS_RATE', 1000, 1),
    maxRunSeconds: read('max-run-seconds', 'BENCH_MAX_RUN_SECONDS', Infinity, 1),
    agentPingTimeoutSeconds: read('agent-ping-timeout', 'BENCH_AGENT_PING_TIMEOUT', 15, 1),
    perAgent: read('per-agent', 'BENCH_PER_AGENT', 0, 0),
  };
}

/** A process's peak RSS (VmHWM) in MB; undefined where it cannot be read (not Linux, or it has ended). */
function peakRssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return hwm ? Math.round(Number(hwm) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** Peak RSS and heap of this process, and the peak RSS of DynamoDB Local and the SQS stand-in, sampled every second. */
function memoryWatch(dynamoPid: number | undefined, sqsPid: number | undefined) {
  const peak = { rss_mb: 0, heap_used_mb: 0, dynamodb_local_rss_mb: 0, sqs_standin_rss_mb: 0 };
  const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
  const sample = () => {
    const usage = process.memoryUsage();
    peak.rss_mb = Math.max(peak.rss_mb, mb(usage.rss));
    peak.heap_used_mb = Math.max(peak.heap_used_mb, mb(usage.heapUsed));
    // The peak read so far stands once a process has ended.
    peak.dynamodb_local_rss_mb = peakRssMb(dynamoPid) ?? peak.dynamodb_local_rss_mb;
    peak.sqs_standin_rss_mb = peakRssMb(sqsPid) ?? peak.sqs_standin_rss_mb;
  };
  sample();
  const timer = setInterval(sample, 1000);
  return {
    peak,
    stop: () => {
      sample();
      clearInterval(timer);
    },
  };
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

/** The frameworks' failed ACCEPT calls, tasks launched again after their offer timed out, launches held too long. */
function callFigures(frameworks: readonly ScaleFramework[]) {
  const total = (count: (framework: ScaleFramework) => number) => frameworks.reduce((sum, f) => sum + count(f), 0);
  return {
    failed_accept_calls: total((framework) => framework.failedCalls()),
    relaunched_after_invalid_offers: total((framework) => framework.relaunched()),
    launches_unsent_offer_too_old: total((framework) => framework.unsent()),
  };
}

/** Registration, timed, with progress. */
async function registerFleet(fleet: SimulatedFleet, agents: number) {
  console.log(`Registering ${agents} simulated agents`);
  const started = performance.now();
  const progress = setInterval(() => {
    const done = fleet.counters.registered;
    const elapsed = (performance.now() - started) / 1000;
    const rate = done / elapsed;
    console.log(
      `  ${done}/${agents} registered after ${Math.round(elapsed)} s (${Math.round(rate)}/s, ETA ${rate > 0 ? Math.round((agents - done) / rate) : '?'} s)`,
    );
  }, 5000);
  try {
    await fleet.register();
  } finally {
    clearInterval(progress);
  }
  const ms = performance.now() - started;
  console.log(`  ${agents} agents registered in ${seconds(ms)} s (${Math.round(agents / (ms / 1000))} agents/s)`);
  return { seconds: seconds(ms), agents_per_second: Math.round(agents / (ms / 1000)) };
}

/** The tasks that ended otherwise than TASK_FINISHED, by state, reason and message. */
function notFinishedTally(timelines: readonly ScaleTimeline[]): Record<string, number> {
  const tally: Record<string, number> = {};
  for (const { ended: state, endedWhy } of timelines) {
    if (!state || state === 'TASK_FINISHED') continue;
    const key = `${state} (${endedWhy ?? '-'})`;
    tally[key] = (tally[key] ?? 0) + 1;
  }
  return tally;
}

/** Each framework's event queue joins the watched ones: a streaming framework's events are one FIFO group. */
function watchEventQueues(cluster: ScaleCluster, frameworks: readonly ScaleFramework[], queues: QueueDepths): void {
  const status = cluster.master.statusQueueUrl;
  const base = status.slice(0, status.lastIndexOf('/') + 1);
  for (const [f, framework] of frameworks.entries()) {
    queues.add(`events-${f}`, `${base}${queueNames.frameworkEvents(CLUSTER, framework.frameworkId)}`);
  }
}

/** The tasks over `frameworks` frameworks; resolves when every task has ended. */
async function runTasks(
  cluster: ScaleCluster,
  config: Settings,
  fleet: SimulatedFleet,
  bench: { frameworks: ScaleFramework[]; queues: QueueDepths },
) {
  const perAgent = config.perAgent || Math.max(1, Math.ceil(config.tasks / config.agents));
  console.log(
    `Running ${config.tasks} tasks (${TASK_RESOURCES}) over ${config.frameworks} framework(s), at most ${perAgent} ` +
      `per agent at once, ${ACCEPT_CALLERS} ACCEPTs in flight per framework`,
  );
  const started = performance.now();
  const frameworks: ScaleFramework[] = [];
  for (let f = 0; f < config.frameworks; f++) {
    const count = Math.floor(config.tasks / config.frameworks) + (f < config.tasks % config.frameworks ? 1 : 0);
    frameworks.push(
      await startScaleFramework({
        master: cluster.url,
        name: `bench-scale-${f}`,
        taskIds: Array.from({ length: count }, (_, i) => `scale-${f}-${i}`),
        taskResources: TASK_RESOURCES,
        perAgent,
        callers: ACCEPT_CALLERS,
      }),
    );
  }
  watchEventQueues(cluster, frameworks, bench.queues);
  const ended = () => frameworks.reduce((sum, framework) => sum + framework.ended(), 0);
  const progress = setInterval(() => {
    const done = ended();
    const elapsed = (performance.now() - started) / 1000;
    const rate = done / elapsed;
    const { counters } = fleet;
    console.log(
      `  ${done}/${config.tasks} ended after ${Math.round(elapsed)} s (${round(rate)} tasks/s, ETA ` +
        `${rate > 0 ? Math.round((config.tasks - done) / rate) : '?'} s; agents: ${counters.launches} launched, ` +
        `${counters.statusUpdatesSent} updates sent, ${counters.statusResends} resent, ${counters.acknowledgements} ` +
        `acknowledged, ${counters.errors} errors; ${bench.queues.line()})`,
    );
  }, 5000);
  let deadline: NodeJS.Timeout | undefined;
  const cut = new Promise<'cut'>((resolve) => {
    if (Number.isFinite(config.maxRunSeconds)) deadline = setTimeout(() => resolve('cut'), config.maxRunSeconds * 1000);
  });
  let complete: boolean;
  try {
    complete = (await Promise.race([Promise.all(frameworks.map((framework) => framework.done)), cut])) !== 'cut';
  } finally {
    clearTimeout(deadline);
    clearInterval(progress);
  }
  if (!complete)
    console.log(`  cut off after ${config.maxRunSeconds} s (--max-run-seconds): figures of the tasks that ended`);
  // Torn down after the results are written (a TEARDOWN of thousands of tasks still running takes a while).
  bench.frameworks.push(...frameworks);
  const timelines = frameworks.flatMap((framework) => [...framework.timelines.values()]);
  const running = timelines.flatMap((t) =>
    t.runningAt !== undefined && t.acceptedAt !== undefined ? [{ accepted: t.acceptedAt, running: t.runningAt }] : [],
  );
  const finished = timelines.filter((t) => t.ended === 'TASK_FINISHED').length;
  const endedCount = timelines.filter((t) => t.ended !== undefined).length;
  const accepted = timelines.filter((t) => t.acceptedAt !== undefined).length;
  const firstAccept = Math.min(...timelines.map((t) => t.acceptedAt ?? Infinity));
  const lastEnd = complete ? Math.max(...timelines.map((t) => t.endedAt ?? 0)) : performance.now();
  const runSeconds = (lastEnd - firstAccept) / 1000;
  const notFinished = notFinishedTally(timelines);
  return {
    tasks: config.tasks,
    complete,
    accepted,
    ended: endedCount,
    finished,
    ...(Object.keys(notFinished).length > 0 ? { not_finished: notFinished } : {}),
    per_agent_at_once: perAgent,
    ...callFigures(frameworks),
    seconds: round(runSeconds),
    tasks_per_second: round(endedCount / runSeconds),
    submit_to_running_ms: summary(running.map((r) => r.running - r.accepted)),
    run_start_to_running_ms: summary(running.map((r) => r.running - started)),
  };
}

function allocatorFigures(cluster: ScaleCluster) {
  const snapshot = cluster.master.metrics.snapshot();
  const timer = 'allocator/mesos/allocation_run_ms';
  return {
    passes: snapshot[`${timer}/count`] ?? 0,
    pass_ms: {
      p50: round(snapshot[`${timer}/p50`] ?? NaN),
      p99: round(snapshot[`${timer}/p99`] ?? NaN),
      max: round(snapshot[`${timer}/max`] ?? NaN),
    },
    offers_created: snapshot['allocator/offers_created'] ?? 0,
    version_conflicts: snapshot['allocator/version_conflicts'] ?? 0,
  };
}

/** Every timer of the master (p50, p99, count) and its counters: where the time went. */
function masterMetrics(cluster: ScaleCluster) {
  const snapshot = cluster.master.metrics.snapshot();
  const timers: Record<string, { p50: number; p99: number; count: number }> = {};
  for (const key of Object.keys(snapshot)) {
    if (!key.endsWith('/p50')) continue;
    const name = key.slice(0, -4);
    timers[name] = {
      p50: round(snapshot[key] as number),
      p99: round(snapshot[`${name}/p99`] as number),
      count: snapshot[`${name}/count`] as number,
    };
  }
  const counters = Object.fromEntries([...cluster.master.metrics.counterNames()].map((name) => [name, snapshot[name]]));
  return { timers, counters };
}

type Settings = ReturnType<typeof settings>;

/** The master (its DynamoDB writes metered), the fleet on its doorbell, the memory watch. */
async function startBench(config: Settings) {
  let meter: PartitionWriteMeter | undefined;
  let ring: (queueUrl: string) => void = () => undefined;
  const cluster = await startScaleCluster({
    cluster: CLUSTER,
    allocationIntervalSeconds: ALLOCATION_INTERVAL_SECONDS,
    sweepIntervalSeconds: SWEEP_INTERVAL_SECONDS,
    agentPingTimeoutSeconds: config.agentPingTimeoutSeconds,
    dynamoDbHeapMb: 2048,
    instrument(clients: AwsClients, tables) {
      meter = new PartitionWriteMeter(tables);
      meter.attach(clients.dynamodb);
      // The simulated agents' doorbell: a command queue that was just sent to is read (in place of its long-poll).
      attachDoorbell(clients.sqs, (url) => ring(url));
    },
  });
  const memory = memoryWatch(cluster.dynamoDbPid, cluster.sqsPid);
  const agentClients = cluster.clients();
  const queues = new QueueDepths(agentClients.sqs, {
    status: cluster.master.statusQueueUrl,
    heartbeats: cluster.master.heartbeatQueueUrl,
  });
  const fleet = new SimulatedFleet({
    master: cluster.url,
    sqs: agentClients.sqs,
    agents: config.agents,
    resources: AGENT_RESOURCES,
    taskMs: config.taskMs,
  });
  ring = (url) => fleet.ring(url);
  const frameworks: ScaleFramework[] = [];
  const stop = async () => {
    // At most a minute for the frameworks' TEARDOWN: the cluster goes with everything on it anyway.
    await Promise.race([
      Promise.allSettled(frameworks.map((framework) => framework.stop())),
      new Promise((resolve) => setTimeout(resolve, 60_000)),
    ]);
    fleet.stop();
    queues.stop();
    memory.stop();
    agentClients.destroy();
    await cluster.stop();
  };
  return { cluster, fleet, frameworks, queues, writes: meter as PartitionWriteMeter, memory, stop };
}

/** Registration, the idle phase and the run; every figure into `results`. */
async function measure(
  config: Settings,
  bench: Awaited<ReturnType<typeof startBench>>,
  results: Record<string, unknown>,
) {
  const { cluster, fleet, writes, memory } = bench;
  results.registration = await registerFleet(fleet, config.agents);
  results.memory_after_registration = { ...memory.peak };

  console.log(`Idle: ${config.idleSeconds} s of heartbeats and periodic passes, no tasks`);
  const idleFrom = writes.now();
  await new Promise((resolve) => setTimeout(resolve, config.idleSeconds * 1000));
  console.log(`  queues after idling: ${bench.queues.line()}`);
  const idleTo = writes.now();
  const idleWrites = writes.between(idleFrom, idleTo);

  const runFrom = writes.now();
  const run = await runTasks(cluster, config, fleet, bench);
  const runTo = writes.now();
  const allocator = allocatorFigures(cluster);
  results.master_metrics = masterMetrics(cluster);
  memory.stop();
  const partitions = partitionFigures(
    idleWrites,
    idleTo - idleFrom,
    writes.between(runFrom, runTo),
    runTo - runFrom,
    // A run cut off wrote for every task it launched, ended or not.
    Math.max(1, run.complete ? run.ended : run.accepted),
    config.awsRate,
  );
  Object.assign(results, {
    run,
    allocator,
    memory_peak: {
      ...memory.peak,
      note: 'Node RSS: the master handlers, simulated agents and frameworks; the SQS stand-in has a process of its own',
    },
    queue_peaks: bench.queues.peaks(),
    agents: { counters: fleet.counters, errors: fleet.errorSamples },
    partitions: {
      limit_wcu_per_second: PARTITION_LIMIT_WCU,
      aws_rate_tasks_per_second: config.awsRate,
      scaling:
        "each key's write units are split into what it takes while the fleet idles (per second, at this fleet's size) " +
        'and what it takes per task (the run phase less the idle rate, over the tasks); at the AWS rate R, with the ' +
        'same agents and frameworks, it takes units_per_task * R + idle_units_per_second. R: 100,000 tasks in 100 s ' +
        '(each of 10,000 agents starting a task every 10 s) unless --aws-rate says otherwise.',
      ...partitions,
    },
    loadavg_end: loadavg().map((l) => round(l)),
  });
  return { run, allocator, partitions, memory: memory.peak };
}

function printSummary(config: Settings, figures: Awaited<ReturnType<typeof measure>>): void {
  const { run, allocator, partitions, memory } = figures;
  const hot = partitions.hottest_at_aws_rate;
  const measured = partitions.hottest_measured;
  const over = (hot?.units_per_second_at_aws_rate ?? 0) >= PARTITION_LIMIT_WCU;
  console.log(
    `\n${run.finished}/${run.tasks} finished in ${run.seconds} s${run.complete ? '' : ' (cut off)'}: ` +
      `${run.tasks_per_second} tasks/s\n` +
      `  submit -> RUNNING p50 ${run.submit_to_running_ms.p50} ms, p99 ${run.submit_to_running_ms.p99} ms; ` +
      `run start -> RUNNING p50 ${run.run_start_to_running_ms.p50} ms, p99 ${run.run_start_to_running_ms.p99} ms\n` +
      `  allocation passes: ${allocator.passes}, p50 ${allocator.pass_ms.p50} ms, p99 ${allocator.pass_ms.p99} ms, ` +
      `max ${allocator.pass_ms.max} ms\n` +
      `  memory (peak): Node RSS ${memory.rss_mb} MB, heap ${memory.heap_used_mb} MB; ` +
      `DynamoDB Local RSS ${memory.dynamodb_local_rss_mb} MB, SQS stand-in RSS ${memory.sqs_standin_rss_mb} MB\n` +
      `  hottest key measured: ${measured?.table}/${measured?.key} ${measured?.run_units_per_second} WCU/s ` +
      `(peak second ${measured?.run_peak_units_per_second})\n` +
      `  hottest key at ${config.awsRate} tasks/s: ${hot?.table}/${hot?.key} ${hot?.units_per_second_at_aws_rate} WCU/s ` +
      `(${hot?.units_per_task} per task + ${hot?.idle_units_per_second}/s idle; reaches ${PARTITION_LIMIT_WCU} at ` +
      `${hot?.tasks_per_second_at_limit ?? 'no'} tasks/s): ${over ? 'OVER' : 'under'} DynamoDB's ` +
      `${PARTITION_LIMIT_WCU} WCU per partition\n` +
      `  each table's hottest key at ${config.awsRate} tasks/s (WCU/s): ` +
      Object.values(partitions.hottest_by_table)
        .map((entry) => `${entry.table} ${entry.units_per_second_at_aws_rate}`)
        .join(', '),
  );
}

async function main(): Promise<void> {
  const config = settings();
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memory_mb: Math.round(totalmem() / 2 ** 20) },
    parameters: {
      ...config,
      agent_resources: AGENT_RESOURCES,
      task_resources: TASK_RESOURCES,
      allocation_interval_seconds: ALLOCATION_INTERVAL_SECONDS,
      sweep_interval_seconds: SWEEP_INTERVAL_SECONDS,
    },
    loadavg_start: loadavg().map((l) => round(l)),
  };
  console.log(
    `Scale simulation: ${config.agents} agents, ${config.tasks} tasks, ${config.frameworks} framework(s) on ` +
      `${cpus().length} cores (load ${loadavg()
        .map((l) => round(l))
        .join(' ')})`,
  );
  const bench = await startBench(config);
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      if (stopping) return;
      stopping = true;
      console.error(`${signal}: stopping the cluster`);
      void bench.stop().finally(() => process.exit(130));
    });
  }
  try {
    const figures = await measure(config, bench, results);
    printSummary(config, figures);
    // A run that lost tasks has no throughput; the partition figure is a target, printed, not a failure.
    if (figures.run.complete && figures.run.finished < figures.run.tasks) process.exitCode = 1;
    const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'scale.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`Wrote ${out}`);
  } finally {
    if (!stopping) await bench.stop();
  }
}

await main();
