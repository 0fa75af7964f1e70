/**
 * Throughput side by side with Slurm, on this machine, in one run: the same 1,000 trivial jobs through a
 * tuned Slurm 22.05 of 10 virtual nodes and through a local Mantle cluster of 10 agents.
 *
 * 1. Slurm (Debian's slurm-wlm and munge, installed with apt-get when missing): munged, slurmctld and 10
 *    slurmd from a temporary directory with their own config and ports (bench/slurm/). A warm-up array,
 *    then one `sbatch --array=1-N` of `#!/bin/sh\ntrue`, timed from starting sbatch to the controller's
 *    record of the last job's end. Each node offers 40 CPUs and each job takes one: 40 jobs at once per
 *    node, as many as a Mantle agent of cpus:4 runs tasks of cpus:0.1. Then every daemon is stopped.
 * 2. Mantle: bench:e2e's throughput cluster (bench/support/throughput.ts: the agents in one child process
 *    per core, as `mantle local` runs them), a warm-up batch, then N tasks of `true` (process containerizer), timed from the first ACCEPT
 *    to the last TASK_FINISHED.
 *
 * Prints both in jobs/s, the ratio Mantle/Slurm and the machine's load, and writes
 * bench/results/vs-slurm.json. Where it may create control groups (root), it also reports the CPU seconds
 * each system spent on the timed run: Slurm's daemons and jobs; Mantle's Node processes (master and framework in
 * one, the SQS stand-in in its own, the agents in theirs), DynamoDB Local and the tasks; and each one's CPU use while idle (after its warm-up),
 * which the timed run pays for every second it lasts. On a shared machine CPU seconds move much less with
 * the neighbours' load than jobs/s does. BENCH_TASKS (default 1000) and BENCH_WARMUP (default 20) shrink it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TUNED } from './slurm/conf.js';
import { cpuGroup, idleCpuPerSecond, type CpuGroup } from './support/cpu-group.js';
import { ensureSlurm, JOB_SCRIPT, startSlurm, type ArrayRun, type SlurmCluster } from './slurm/cluster.js';
import {
  benchCluster,
  measureThroughput,
  THROUGHPUT_AGENT_RESOURCES,
  THROUGHPUT_AGENT_PROCESSES,
  THROUGHPUT_AGENTS,
  THROUGHPUT_TASK_RESOURCES,
  type BenchCluster,
  type ThroughputResult,
} from './support/throughput.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

const TASKS = Number(process.env.BENCH_TASKS ?? 1000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20);
const NODES = THROUGHPUT_AGENTS;
// A Mantle agent of cpus:4 runs 40 tasks of cpus:0.1 at once; a Slurm job takes at least one CPU. (Slurm
// starts nothing on a node while a job there is still completing, so its nodes refill in blocks.)
const SLOTS_PER_NODE = 40;
const MEMORY_PER_NODE_MB = 4096;
const TARGET_RATIO = 2;
// How long each system is watched doing nothing, for its background CPU use.
const IDLE_SECONDS = 5;

function machine(): Record<string, unknown> {
  return { cpus: cpus().length, model: cpus()[0]?.model, memory_mb: Math.round(totalmem() / 2 ** 20) };
}

function load(): number[] {
  return loadavg().map((l) => Math.round(l * 100) / 100);
}

/** What is running now, for the clean-up on a signal or an error. */
interface Running {
  slurm?: SlurmCluster;
  mantle?: BenchCluster;
}

/** Slurm's side: a warm-up array, its idle CPU use, then the timed array; its daemons stopped after. */
async function slurmSide(
  running: Running,
  group: CpuGroup | undefined,
  loads: Record<string, number[]>,
): Promise<{ result: Record<string, unknown>; run: ArrayRun }> {
  console.log(`Slurm: ${TASKS} jobs (one array) over ${NODES} virtual nodes of ${SLOTS_PER_NODE} CPUs`);
  const { version, installed } = await ensureSlurm(console.log);
  console.log(`  ${version}${installed ? ' (just installed)' : ''}`);
  const slurm = await startSlurm({
    nodes: NODES,
    cpusPerNode: SLOTS_PER_NODE,
    memoryPerNodeMb: MEMORY_PER_NODE_MB,
    maxArrayTasks: Math.max(TASKS, WARMUP),
    ...(group ? { cpuGroup: group } : {}),
    log: console.log,
  });
  running.slurm = slurm;
  const warmup = WARMUP > 0 ? await slurm.runArray(WARMUP, 'slurm warm-up') : undefined;
  if (warmup) console.log(`  warm-up: ${WARMUP} jobs in ${warmup.seconds} s`);
  const idle = group ? await idleCpuPerSecond(group, IDLE_SECONDS) : undefined;
  if (idle !== undefined) console.log(`  idle: ${idle} CPU s per second`);
  loads.slurm_start = load();
  const run = await slurm.runArray(TASKS, 'slurm');
  loads.slurm_end = load();
  console.log(
    `  ${TASKS} jobs in ${run.seconds} s: ${run.jobs_per_second} jobs/s ` +
      `(sbatch ${run.submit_ms} ms; none listed after ${run.seconds_until_none_listed} s` +
      `${run.cpu_seconds !== undefined ? `; ${run.cpu_seconds} CPU s` : ''})`,
  );
  await slurm.stop();
  running.slurm = undefined;
  const result = {
    version,
    nodes: NODES,
    cpus_per_node: SLOTS_PER_NODE,
    settings: Object.fromEntries(TUNED.map(([setting, why]) => [setting, why])),
    script: JOB_SCRIPT,
    measured: 'from starting sbatch to the last line of the jobcomp record (the controller saw every job end)',
    warmup,
    idle_cpu_seconds_per_second: idle,
    run,
  };
  return { result, run };
}

/** A process's CPU seconds so far, from /proc (Linux, as Slurm's side is): utime and stime in USER_HZ (100) ticks. */
function procCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU seconds so far of the Node processes: this one (master, Logs stand-in, framework), the SQS stand-in's child
 * and the agents' hosts.
 */
async function nodeCpuSeconds(mantle: BenchCluster): Promise<number> {
  const usages = [process.cpuUsage(), ...(await Promise.all(mantle.agentHosts.map((host) => host.cpuUsage())))];
  const sqs = mantle.aws.sqs.pid === undefined ? 0 : procCpuSeconds(mantle.aws.sqs.pid);
  return usages.reduce((sum, usage) => sum + (usage.user + usage.system) / 1e6, sqs);
}

/** Mantle's side: a warm-up batch, its idle CPU use, then the timed batch; the cluster stopped after. */
async function mantleSide(
  running: Running,
  group: CpuGroup | undefined,
  loads: Record<string, number[]>,
): Promise<{ result: Record<string, unknown>; run: ThroughputResult; cpuSeconds?: number }> {
  console.log(`Mantle: ${TASKS} tasks over ${NODES} agents (process containerizer)`);
  // Everything this process starts from here (DynamoDB Local, the tasks) is born in Mantle's group.
  group?.enter();
  const mantle = await benchCluster(NODES, 'mesos', THROUGHPUT_AGENT_RESOURCES, THROUGHPUT_AGENT_PROCESSES);
  running.mantle = mantle;
  const warmup =
    WARMUP > 0 ? await measureThroughput(mantle.url, WARMUP, { prefix: 'warmup', label: 'mantle warm-up' }) : undefined;
  if (warmup) console.log(`  warm-up: ${WARMUP} tasks in ${warmup.seconds} s`);
  const idle = group ? await idleCpuPerSecond(group, IDLE_SECONDS) : undefined;
  if (idle !== undefined) console.log(`  idle: ${idle} CPU s per second`);
  loads.mantle_start = load();
  const cpuBefore = group?.usageSeconds();
  const nodeBefore = await nodeCpuSeconds(mantle);
  const run = await measureThroughput(mantle.url, TASKS, { prefix: 'task' });
  const nodeCpu = Math.round(((await nodeCpuSeconds(mantle)) - nodeBefore) * 100) / 100;
  const cpuAfter = group?.usageSeconds();
  loads.mantle_end = load();
  const cpu =
    cpuBefore !== undefined && cpuAfter !== undefined
      ? { cpu_seconds: Math.round((cpuAfter - cpuBefore) * 100) / 100 }
      : {};
  console.log(
    `  ${TASKS} tasks in ${run.seconds} s: ${run.tasks_per_second} tasks/s ` +
      `(accept -> FINISHED p50 ${run.accept_to_finished_ms.p50} ms; ` +
      `${cpu.cpu_seconds !== undefined ? `${cpu.cpu_seconds} CPU s, ` : ''}${nodeCpu} CPU s in the Node processes)`,
  );
  await mantle.stopAndRemove();
  running.mantle = undefined;
  const result = {
    agents: NODES,
    agent_processes: THROUGHPUT_AGENT_PROCESSES,
    agent_resources: THROUGHPUT_AGENT_RESOURCES,
    task_resources: THROUGHPUT_TASK_RESOURCES,
    command: 'true',
    measured: 'from the first ACCEPT to the last TASK_FINISHED received by the framework',
    warmup,
    idle_cpu_seconds_per_second: idle,
    run: { ...run, ...cpu, node_process_cpu_seconds: nodeCpu },
  };
  return { result, run, ...(cpu.cpu_seconds !== undefined ? { cpuSeconds: cpu.cpu_seconds } : {}) };
}

/** The ratios, in `results`; a Mantle run that lost tasks has no throughput to compare. */
function compare(
  results: Record<string, unknown>,
  slurmRun: ArrayRun,
  mantle: { run: ThroughputResult; cpuSeconds?: number },
  loads: Record<string, number[]>,
): void {
  const mantleRun = mantle.run;
  results.target_ratio = TARGET_RATIO;
  if (mantleRun.finished === TASKS) {
    const ratio = Math.round((mantleRun.tasks_per_second / slurmRun.jobs_per_second) * 100) / 100;
    results.ratio_mantle_to_slurm = ratio;
    console.log(
      `Mantle ${mantleRun.tasks_per_second} tasks/s, Slurm ${slurmRun.jobs_per_second} jobs/s: ` +
        `${ratio}x (target >= ${TARGET_RATIO}x); load average ${loads.mantle_end?.join(' ')}`,
    );
  } else {
    // Every Slurm job completed; a run that lost tasks has no throughput to compare.
    results.ratio_mantle_to_slurm = null;
    results.error = `${TASKS - mantleRun.finished} of ${TASKS} Mantle tasks did not finish`;
    console.error(`${results.error}: ${JSON.stringify(mantleRun.not_finished)}`);
    process.exitCode = 1;
  }
  if (mantle.cpuSeconds !== undefined && slurmRun.cpu_seconds !== undefined) {
    const cpuRatio = Math.round((mantle.cpuSeconds / slurmRun.cpu_seconds) * 100) / 100;
    results.cpu_ratio_mantle_to_slurm = cpuRatio;
    console.log(
      `CPU per task: Mantle ${Math.round((mantle.cpuSeconds / TASKS) * 1e4) / 10} ms, ` +
        `Slurm ${Math.round((slurmRun.cpu_seconds / TASKS) * 1e4) / 10} ms (Mantle spends ${cpuRatio}x Slurm's)`,
    );
  }
}

async function main(): Promise<void> {
  if (!Number.isInteger(TASKS) || TASKS < 1) throw new Error(`BENCH_TASKS must be a positive integer, not ${TASKS}`);
  if (!Number.isInteger(WARMUP) || WARMUP < 0) throw new Error(`BENCH_WARMUP must be an integer >= 0, not ${WARMUP}`);
  const results: Record<string, unknown> = { date: new Date().toISOString(), machine: machine(), tasks: TASKS };
  const loads: Record<string, number[]> = { start: load() };
  console.log(`Machine: ${cpus().length} cores (${cpus()[0]?.model}), load average ${loads.start?.join(' ')}`);

  const running: Running = {};
  let stopping = false;
  const slurmCpu = cpuGroup(`mantle-vs-slurm-${process.pid}-slurm`);
  const mantleCpu = cpuGroup(`mantle-vs-slurm-${process.pid}-mantle`);
  const cleanUp = async () => {
    await running.slurm?.stop();
    await running.mantle?.stopAndRemove().catch((error: unknown) => console.error(`stopping Mantle: ${String(error)}`));
    try {
      mantleCpu?.leave();
    } catch (error) {
      console.error(`leaving ${mantleCpu?.path}: ${String(error)}`);
    }
    for (const group of [slurmCpu, mantleCpu]) {
      if (group && !group.remove()) console.error(`could not remove the control group ${group.path}`);
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      if (stopping) return;
      stopping = true;
      console.error(`${signal}: stopping the daemons and the cluster`);
      void cleanUp().finally(() => process.exit(130));
    });
  }

  try {
    const slurm = await slurmSide(running, slurmCpu, loads);
    results.slurm = slurm.result;
    const mantle = await mantleSide(running, mantleCpu, loads);
    results.mantle = mantle.result;
    compare(results, slurm.run, mantle, loads);
    results.loadavg = loads;
    results.loadavg_note =
      "1, 5 and 15 min averages; Slurm's own jobs (up to 400 at once) raise slurm_end and, decaying, mantle_start";

    const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'vs-slurm.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`Wrote ${out}`);
  } finally {
    await cleanUp();
  }
}

await main();
