/**
 * The kernel end to end on the local cluster (`npm start`'s code: DynamoDB Local, the SQS stand-in, the
 * master's handlers behind Lambda-style event sources, in-process agents):
 *
 * 1. Latency, per containerizer: single tasks on an idle one-agent cluster, one after another; submit
 *    (ACCEPT sent) -> TASK_RUNNING received by the framework. Split into where the time goes: the ACCEPT
 *    call, the hops to TASK_STARTING, the acknowledgement loop to TASK_RUNNING (the agent sends a task's
 *    next update only once the previous one is acknowledged, as Mesos's does), and the agent's own work.
 *    Targets: p99 <= 250 ms (process), <= 500 ms (Docker).
 * 2. Throughput: 2,000 short tasks over 10 agents, tasks/s from the first ACCEPT to the last
 *    TASK_FINISHED. Target >= 100 tasks/s.
 *
 * Prints as it goes and writes bench/results/e2e.json. BENCH_LATENCY_TASKS and BENCH_THROUGHPUT_TASKS
 * shrink it for a quick look.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import type { LocalCluster } from '../local/cluster.js';
import type { Offer, TaskInfo, TaskStatus } from '#shared/protocol/mesos.js';
import { allocate, contains, unallocate } from '#shared/resources/resources.js';
import { isTerminal } from '#shared/tasks/state-machine.js';
import { SchedulerDriver } from '../sdk/scheduler.js';
import { resources } from '../test/support/scheduler.js';
import {
  benchCluster,
  measureThroughput,
  round,
  summary,
  THROUGHPUT_AGENT_PROCESSES,
  THROUGHPUT_AGENT_RESOURCES,
  THROUGHPUT_AGENTS,
} from './support/throughput.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

const LATENCY_TASKS = {
  mesos: Number(process.env.BENCH_LATENCY_TASKS ?? 100),
  docker: Number(process.env.BENCH_LATENCY_TASKS ?? 50),
};
const THROUGHPUT_TASKS = Number(process.env.BENCH_THROUGHPUT_TASKS ?? 2000);
const TARGET = { mesos: 250, docker: 500, throughput: 100 } as const;
const IMAGE = 'mantle/busybox:test';

type Kind = 'mesos' | 'docker';

interface Sample {
  total: number;
  accept: number;
  starting: number;
  running: number;
}

/** Single tasks one after another: each waits for the previous one's end and a fresh offer. */
async function latency(url: string, kind: Kind, count: number): Promise<Sample[]> {
  const offers: Offer[] = [];
  const seen = new Map<string, Map<string, number>>();
  // Every waiter wakes on every event; the 100 ms fallback only paces the loop, never a measurement.
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const waiter of waiters) waiter();
    waiters.clear();
  };
  const changed = () =>
    new Promise<void>((resolve) => {
      waiters.add(resolve);
      setTimeout(resolve, 100);
    });
  const driver = new SchedulerDriver(
    {
      resourceOffers(_driver, incoming) {
        offers.push(...incoming);
        wake();
      },
      offerRescinded(_driver, offerId) {
        const at = offers.findIndex((offer) => offer.id.value === offerId);
        if (at >= 0) offers.splice(at, 1);
      },
      statusUpdate(_driver, status: TaskStatus) {
        const states = seen.get(status.task_id.value) ?? new Map<string, number>();
        states.set(status.state, performance.now());
        seen.set(status.task_id.value, states);
        wake();
      },
    },
    {
      master: url,
      framework: { user: 'root', name: `bench-latency-${kind}`, capabilities: [{ type: 'PARTITION_AWARE' }] },
    },
  );
  await driver.start();
  const wanted = resources('cpus:0.1;mem:32');
  const samples: Sample[] = [];
  for (let i = 0; i < count; i++) {
    let offer: Offer | undefined;
    while (!(offer = offers.find((o) => contains(unallocate(o.resources ?? []), wanted)))) await changed();
    offers.splice(offers.indexOf(offer), 1);
    const taskId = `${kind}-${i}`;
    const task: TaskInfo = {
      name: taskId,
      task_id: { value: taskId },
      agent_id: offer.agent_id,
      resources: allocate(wanted, offer.allocation_info?.role ?? '*'),
      command: { shell: true, value: 'true' },
      ...(kind === 'docker' ? { container: { type: 'DOCKER', docker: { image: IMAGE, network: 'NONE' } } } : {}),
    };
    const submitted = performance.now();
    await driver.launch([offer.id.value], [task], 0);
    const accepted = performance.now();
    for (;;) {
      const states = seen.get(taskId);
      const ended = [...(states?.keys() ?? [])].some((state) => isTerminal(state as TaskStatus['state']));
      if (ended) break;
      await changed();
    }
    const states = seen.get(taskId) as Map<string, number>;
    const running = states.get('TASK_RUNNING');
    const starting = states.get('TASK_STARTING');
    if (running === undefined || starting === undefined)
      throw new Error(`${taskId} ended without running: ${[...states.keys()].join(',')}`);
    samples.push({
      total: running - submitted,
      accept: accepted - submitted,
      starting: starting - accepted,
      running: running - starting,
    });
    if ((i + 1) % 25 === 0) console.log(`  ${kind}: ${i + 1}/${count}`);
  }
  await driver.stop();
  return samples;
}

function agentTimer(c: LocalCluster, name: string): { p50: number; p99: number } | undefined {
  const snapshot = c.agents[0]?.metrics.snapshot() ?? {};
  if (snapshot[`${name}/p50`] === undefined) return undefined;
  return { p50: round(snapshot[`${name}/p50`] as number), p99: round(snapshot[`${name}/p99`] as number) };
}

function masterTimers(c: LocalCluster): Record<string, { p50: number; p99: number; count: number }> {
  const snapshot = c.master.metrics.snapshot();
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
  return timers;
}

/** Single tasks on an idle one-agent cluster: submit -> RUNNING, and where the time goes. */
async function latencyCase(docker: boolean): Promise<{ latency: Record<string, unknown>; timers: unknown }> {
  console.log('Latency: single tasks on an idle one-agent cluster');
  const idle = await benchCluster(1, docker ? 'auto' : 'mesos', 'cpus:2;mem:2048;disk:1024');
  const latencyResults: Record<string, unknown> = {};
  for (const kind of docker ? (['mesos', 'docker'] as const) : (['mesos'] as const)) {
    // A few launches first, so that neither the JIT nor the image cache counts.
    await latency(idle.url, kind, 3);
    const samples = await latency(idle.url, kind, LATENCY_TASKS[kind]);
    const total = summary(samples.map((s) => s.total));
    const entry = {
      tasks: samples.length,
      submit_to_running_ms: total,
      target_p99_ms: TARGET[kind],
      breakdown_ms: {
        accept_call: summary(samples.map((s) => s.accept)),
        accepted_to_starting_seen: summary(samples.map((s) => s.starting)),
        starting_to_running_seen: summary(samples.map((s) => s.running)),
        agent_launch_to_running: agentTimer(idle, `containerizer/${kind}/launch_to_running_ms`),
      },
    };
    latencyResults[kind] = entry;
    console.log(
      `  ${kind}: submit -> RUNNING p50 ${total.p50} ms, p99 ${total.p99} ms (target p99 <= ${TARGET[kind]} ms)\n` +
        `    accept ${entry.breakdown_ms.accept_call.p50} ms, to STARTING ${entry.breakdown_ms.accepted_to_starting_seen.p50} ms, ` +
        `STARTING -> RUNNING ${entry.breakdown_ms.starting_to_running_seen.p50} ms (p50); agent's own work ` +
        `${entry.breakdown_ms.agent_launch_to_running?.p50 ?? '?'} ms`,
    );
  }
  if (!docker) latencyResults.docker = `skipped: no Docker engine or no ${IMAGE} image`;
  const timers = masterTimers(idle);
  await idle.stopAndRemove();
  return { latency: latencyResults, timers };
}

/** THROUGHPUT_TASKS short tasks over THROUGHPUT_AGENTS agents: tasks per second. */
async function throughputCase(): Promise<Record<string, unknown>> {
  console.log(`Throughput: ${THROUGHPUT_TASKS} short tasks over ${THROUGHPUT_AGENTS} agents (process containerizer)`);
  const busy = await benchCluster(THROUGHPUT_AGENTS, 'mesos', THROUGHPUT_AGENT_RESOURCES, THROUGHPUT_AGENT_PROCESSES);
  try {
    const measured = await measureThroughput(busy.url, THROUGHPUT_TASKS, { prefix: 't' });
    console.log(
      `  ${measured.finished}/${THROUGHPUT_TASKS} finished in ${measured.seconds} s: ${measured.tasks_per_second} ` +
        `tasks/s (target >= ${TARGET.throughput}); accept -> FINISHED p50 ${measured.accept_to_finished_ms.p50} ms`,
    );
    return {
      ...measured,
      agents: THROUGHPUT_AGENTS,
      target_tasks_per_second: TARGET.throughput,
      master_timers: masterTimers(busy),
    };
  } finally {
    await busy.stopAndRemove();
  }
}

async function main(): Promise<void> {
  const results: Record<string, unknown> = {
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg() },
    targets: TARGET,
  };
  const docker = await new Docker()
    .getImage(IMAGE)
    .inspect()
    .then(() => true)
    .catch(() => false);
  const { latency: latencyResults, timers } = await latencyCase(docker);
  results.latency = latencyResults;
  results.latency_master_timers = timers;
  results.throughput = await throughputCase();

  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'e2e.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), ...results }, null, 2)}\n`);
  console.log(`Wrote ${out}`);
}

await main();
