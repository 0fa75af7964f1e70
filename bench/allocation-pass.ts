/**
 * Allocation over the registrar, I/O included (issue 16): at 1,000 and 10,000 agents × 1,000 frameworks on
 * DynamoDB Local, times
 * - a full pass with every agent free on a cold snapshot (it reads everything, and offers each agent: one
 *   conditional write per agent, 25 to a request),
 * - a full pass with nothing free that reads every agent (a cold container, or the snapshot's periodic full
 *   read: the reads alone),
 * - a full pass with nothing free on the warm snapshot (a REVIVE or a subscription: the frameworks, filters,
 *   roles and maintenance read, the agents taken from the snapshot, none having changed),
 * - a pass after one agent's resources come back, on the warm snapshot the allocator's container keeps
 *   (it reads that agent and what its offer depends on), and the same pass without one (how every pass
 *   read before: the whole registrar),
 * - a full pass on the warm snapshot after a tenth of the agents freed their resources (their triggers name
 *   them: it reads those and offers each),
 * - a full pass once every offer outlived the offer timeout (each agent's offers taken back in one write, 25 to a
 *   request, then offered again).
 * Prints one JSON line per case with the items read and written, and writes bench/results/allocation-pass.json.
 *
 * Agents are written straight into the table in the registrar's own item shape (BatchWriteItem), which
 * is what admission writes, without the API's per-agent work. Frameworks subscribe through the registrar.
 *
 * Budget (issue 16): a pass after one agent frees resources reads and writes O(1) items; a full pass at
 * 10,000 agents × 1,000 frameworks within 1.1 s including I/O (Mesos 1.8's in-memory figure).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDynamoDbLocal } from '../local/aws-standins.js';
import { Allocator } from '../functions/allocator/allocator.js';
import { runAllocationPass, type AllocationPassReport } from '../functions/allocation/run-pass.js';
import { WarmSnapshot } from '../functions/allocation/warm-snapshot.js';
import { admittedItem } from '../functions/registrar/agent-changes.js';
import { validateRegistration } from '../functions/registrar/agent-records.js';
import { createAwsClients } from '#shared/aws/clients.js';
import { newAgentId, newStreamId } from '#shared/ids.js';
import { createTables, Registrar, tableNames } from '../functions/registrar/index.js';
import { parseResourceText } from '#shared/resources/parse.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const AGENT = 'cpus:24;mem:4096;disk:4096;ports:[31000-32000]';
const FRAMEWORKS = 1_000;
const SIZES = (process.env.BENCH_AGENTS ?? '1000,10000').split(',').map(Number);
const PARTIAL_ROUNDS = 20;
const BUDGET_MS = 1_100;

function resources(text: string) {
  const result = parseResourceText(text);
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

const round1 = (value: number) => Math.round(value * 10) / 10;
const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/** Agents in the registrar's item shape, written 25 to a request, 8 requests in flight. */
async function populateAgents(registrar: Registrar, count: number): Promise<string[]> {
  const details = validateRegistration({
    hostname: 'bench',
    resources: resources(AGENT),
    capabilities: ['MULTI_ROLE', 'HIERARCHICAL_ROLE', 'RESERVATION_REFINEMENT'],
  });
  if (!details.ok) throw new Error(details.error.message);
  const now = Date.now();
  const ids = Array.from({ length: count }, () => newAgentId('bench'));
  const items = ids.map((agentId, i) => ({
    key: { agent_id: agentId },
    item: admittedItem(agentId, { ...details.value, hostname: `agent-${i}.bench`, ip: `agent-${i}.bench` }, now),
  }));
  const chunk = 1_000;
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < items.length) {
        const start = next;
        next += chunk;
        await registrar.context.batchWrite(registrar.context.tables.agents, items.slice(start, start + chunk));
      }
    }),
  );
  return ids;
}

async function populateFrameworks(registrar: Registrar): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < FRAMEWORKS) {
        const i = next++;
        const subscribed = await registrar.frameworks.subscribe({
          info: { user: 'bench', name: `framework-${i}` },
          streamId: newStreamId(),
          eventQueueUrl: `bench-queue-${i}`,
        });
        if (!subscribed.ok) throw new Error(subscribed.error.message);
      }
    }),
  );
}

function summary(name: string, agents: number, reports: readonly AllocationPassReport[]): Record<string, unknown> {
  const pick = (value: (report: AllocationPassReport) => number) => median(reports.map(value));
  return {
    case: name,
    agents,
    frameworks: FRAMEWORKS,
    pass_ms: round1(pick((report) => report.durationMs)),
    ...(reports.length > 1 ? { max_ms: round1(Math.max(...reports.map((report) => report.durationMs))) } : {}),
    read_ms: round1(pick((report) => report.readMs)),
    allocate_ms: round1(pick((report) => report.allocateMs)),
    sweep_ms: round1(pick((report) => report.sweepMs)),
    commit_ms: round1(pick((report) => report.commitMs)),
    items_read: pick((report) => report.itemsRead.total),
    agents_read: pick((report) => report.itemsRead.agents),
    frameworks_read: pick((report) => report.itemsRead.frameworks),
    items_written: pick((report) => report.itemsWritten),
    offers: pick((report) => report.offers.length),
    rounds: reports.length,
  };
}

async function size(agents: number): Promise<Array<Record<string, unknown>>> {
  const dynamo = await startDynamoDbLocal({ heapMb: 2048 });
  const clients = createAwsClients({ endpoints: { dynamodb: dynamo.endpoint } });
  try {
    const tables = tableNames('passbench');
    await createTables(clients.dynamodb, tables);
    const registrar = new Registrar({ documents: clients.documents, tables, clusterId: 'bench' });
    const ids = await populateAgents(registrar, agents);
    await populateFrameworks(registrar);
    const snapshot = new WarmSnapshot();
    const deps = { registrar, events: { publish: async () => {} }, allocator: new Allocator(), snapshot };

    const offered = await runAllocationPass(deps);
    const busy: AllocationPassReport[] = [];
    for (let round = 0; round < 3; round++) busy.push(await runAllocationPass(deps));
    const warm: AllocationPassReport[] = [];
    for (let round = 0; round < 5; round++) warm.push(await runAllocationPass(deps, { changedAgents: new Set() }));
    const partial: AllocationPassReport[] = [];
    const cold: AllocationPassReport[] = [];
    for (let round = 0; round < PARTIAL_ROUNDS; round++) {
      // One agent's resources come back (its offer declined without a filter), and a trigger names it.
      const agentId = ids[round] as string;
      const agent = await registrar.agents.get(agentId);
      await registrar.agents.removeOffers({ agentId, offerIds: Object.keys(agent?.offers ?? {}) });
      const agentIds = new Set([agentId]);
      if (round < 2) cold.push(await runAllocationPass({ ...deps, snapshot: new WarmSnapshot() }, { agentIds }));
      else partial.push(await runAllocationPass(deps, { agentIds }));
    }
    // A tenth of the agents free their resources; the triggers that name them join a REVIVE.
    const freed = ids.slice(PARTIAL_ROUNDS, PARTIAL_ROUNDS + agents / 10);
    let nextFreed = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (nextFreed < freed.length) {
          const agentId = freed[nextFreed++] as string;
          const agent = await registrar.agents.get(agentId);
          await registrar.agents.removeOffers({ agentId, offerIds: Object.keys(agent?.offers ?? {}) });
        }
      }),
    );
    const tenth = await runAllocationPass(deps, { changedAgents: new Set(freed) });
    // Every offer outlives the offer timeout: the pass takes each agent's back (a ledger write each, 25 to a
    // request) and offers it again.
    const timeout = deps.allocator.config.offerTimeoutSeconds * 1000;
    const expired = await runAllocationPass({ ...deps, now: () => Date.now() + timeout + 1000 });
    return [
      summary('full pass, every agent free, cold snapshot (an offer written per agent)', agents, [offered]),
      summary('full pass, nothing free, every agent read (the reads)', agents, busy),
      summary('full pass, nothing free, warm snapshot (no agent changed)', agents, warm),
      summary('pass after one agent frees resources, warm snapshot', agents, partial),
      summary('pass after one agent frees resources, no snapshot (as before)', agents, cold),
      summary('full pass, warm snapshot, a tenth of the agents freed (an offer written to each)', agents, [tenth]),
      {
        ...summary('full pass, every offer timed out (each taken back, then offered again)', agents, [expired]),
        offers_expired: expired.expired,
      },
    ];
  } finally {
    clients.destroy();
    await dynamo.stop();
  }
}

async function main(): Promise<void> {
  const results: Array<Record<string, unknown>> = [];
  for (const agents of SIZES) {
    for (const result of await size(agents)) {
      console.log(JSON.stringify(result));
      results.push(result);
    }
  }
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'allocation-pass.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        benchmark: 'allocation-pass',
        date: new Date().toISOString(),
        machine: { cpus: cpus().length, node: process.version },
        results,
        budget: `a pass after one agent frees resources: O(1) items; a full pass at 10,000 agents x 1,000 frameworks <= ${BUDGET_MS} ms including I/O`,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`wrote ${out}`);
}

await main();
