/**
 * Allocator benchmark: Mesos's DeclineOffers shape (src/tests/hierarchical_allocator_tests.cpp) on the
 * pure pass — agents `cpus:24;mem:4096;disk:4096;ports:[31000-32000]`, frameworks in one role, every
 * offer declined between rounds with a filter for the longest allowed time — then one pass over the
 * registrar with 1,000 agents on DynamoDB Local. Prints one JSON line per case and writes
 * bench/results/allocator.json.
 *
 * Each round's snapshot is rebuilt as a registrar read would give it (fresh objects, ledger versions
 * bumped by the offer and the decline, new filters in the frameworks' records), so the warm allocator
 * gets no help beyond what it would get in a Lambda. Only `allocate()` is timed.
 *
 * Target (issue 4): pass_ms <= 250 at 10,000 agents x 1,000 frameworks (Mesos 1.8: about 1.1 s).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDynamoDbLocal } from '../local/aws-standins.js';
import { Allocator } from '../functions/allocator/allocator.js';
import { MAX_REFUSE_SECONDS } from '../functions/allocator/filters.js';
import { runAllocationPass } from '../functions/allocation/run-pass.js';
import type {
  AgentSnapshot,
  AllocationSnapshot,
  FilterSnapshot,
  FrameworkSnapshot,
} from '../functions/allocator/snapshot.js';
import { createAwsClients } from '#shared/aws/clients.js';
import type { EventPublisher } from '../functions/master/event-publisher.js';
import { filterKey, newStreamId } from '#shared/ids.js';
import { Metrics } from '#shared/metrics.js';
import type { Resource } from '#shared/protocol/mesos.js';
import {
  createTables,
  Registrar,
  tableNames,
  type AgentRecord,
  type OfferFilter,
  type OfferRecord,
} from '../functions/registrar/index.js';
import { parseResourceText } from '#shared/resources/parse.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const AGENT = 'cpus:24;mem:4096;disk:4096;ports:[31000-32000]';
const CAPABILITIES = ['MULTI_ROLE', 'HIERARCHICAL_ROLE', 'RESERVATION_REFINEMENT'];
const SIZES: ReadonlyArray<{ agents: number; frameworks: number; rounds: number }> = [
  { agents: 1_000, frameworks: 100, rounds: 20 },
  { agents: 10_000, frameworks: 1_000, rounds: 15 },
  { agents: 50_000, frameworks: 1_000, rounds: 7 },
];
const REGISTRAR_AGENTS = Number(process.env.BENCH_REGISTRAR_AGENTS ?? 1_000);
const REGISTRAR_FRAMEWORKS = 100;
const REGISTRAR_ROUNDS = 5;
const NOW = Date.now();

function resources(text: string): Resource[] {
  const result = parseResourceText(text);
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

const round1 = (value: number) => Math.round(value * 10) / 10;
const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20);

/** What a registrar read returns: fresh objects every time (JSON in the item, parsed again). */
function read<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function declineOffers(size: (typeof SIZES)[number]): Record<string, unknown> {
  const total = JSON.stringify(resources(AGENT));
  const versions = new Array<number>(size.agents).fill(1);
  const filters: Array<Record<string, FilterSnapshot>> = Array.from({ length: size.frameworks }, () => ({}));
  const frameworkVersions = new Array<number>(size.frameworks).fill(1);
  const ids = Array.from({ length: size.frameworks }, (_, i) => `framework-${String(i).padStart(5, '0')}`);
  const index = new Map(ids.map((id, i) => [id, i]));
  const allocator = new Allocator();
  const times: number[] = [];
  let offers = 0;
  let checks = 0;
  for (let round = 0; round < size.rounds; round++) {
    const agents: AgentSnapshot[] = versions.map((version, i) => ({
      agentId: `agent-${i}`,
      hostname: `agent-${i}.bench`,
      version,
      status: 'ACTIVE',
      deactivated: false,
      total: JSON.parse(total) as Resource[],
      offers: {},
      tasks: {},
      attributes: [],
      capabilities: CAPABILITIES,
    }));
    const frameworks: FrameworkSnapshot[] = ids.map((frameworkId, i) => ({
      frameworkId,
      version: frameworkVersions[i] as number,
      status: 'SUBSCRIBED',
      roles: ['*'],
      suppressedRoles: [],
      info: { capabilities: [] },
      filters: read(filters[i] as Record<string, FilterSnapshot>),
    }));
    const snapshot: AllocationSnapshot = { agents, frameworks, roles: [], now: NOW };
    const start = performance.now();
    const result = allocator.allocate(snapshot);
    times.push(performance.now() - start);
    offers = result.offers.length;
    checks = result.stats.checks;
    // Every offer declined with the longest filter: the ledger changes twice (offer made, offer removed).
    for (const offer of result.offers) {
      const i = index.get(offer.frameworkId) as number;
      (filters[i] as Record<string, FilterSnapshot>)[filterKey(offer.role, offer.agentId)] = {
        role: offer.role,
        agentId: offer.agentId,
        resources: offer.resources,
        expiresAt: NOW + MAX_REFUSE_SECONDS * 1000,
      };
      frameworkVersions[i] = (frameworkVersions[i] as number) + 1;
      const agent = Number(offer.agentId.slice('agent-'.length));
      versions[agent] = (versions[agent] as number) + 2;
    }
  }
  return {
    case: 'DeclineOffers (pure pass)',
    agents: size.agents,
    frameworks: size.frameworks,
    pass_ms: round1(percentile(times, 0.5)),
    first_pass_ms: round1(times[0] as number),
    p90_ms: round1(percentile(times, 0.9)),
    max_ms: round1(Math.max(...times)),
    rounds: size.rounds,
    offers,
    checks_last_round: checks,
    filters_last_round: filters.reduce((sum, list) => sum + Object.keys(list).length, 0),
    rss_mb: rssMb(),
  };
}

class CountingPublisher implements EventPublisher {
  events = 0;
  async publish(_target: unknown, events: readonly unknown[]): Promise<void> {
    this.events += events.length;
  }
}

/** REGISTRAR_AGENTS agents and REGISTRAR_FRAMEWORKS subscribed frameworks in the registrar. */
async function populate(registrar: Registrar): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < REGISTRAR_AGENTS) {
        const i = next++;
        const admitted = await registrar.agents.admit({
          hostname: `agent-${i}.bench`,
          resources: resources(AGENT),
          capabilities: CAPABILITIES,
        });
        if (!admitted.ok) throw new Error(admitted.error.message);
      }
    }),
  );
  for (let i = 0; i < REGISTRAR_FRAMEWORKS; i++) {
    const subscribed = await registrar.frameworks.subscribe({
      info: { user: 'bench', name: `framework-${i}` },
      streamId: newStreamId(),
      eventQueueUrl: `bench-queue-${i}`,
    });
    if (!subscribed.ok) throw new Error(subscribed.error.message);
  }
}

/** Declines every offer with the longest filter, as the frameworks of the DeclineOffers shape do (not timed). */
async function declineAll(registrar: Registrar, offers: readonly OfferRecord[]): Promise<void> {
  const byFramework = new Map<string, OfferFilter[]>();
  let agentNext = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (agentNext < offers.length) {
        const offer = offers[agentNext++] as OfferRecord;
        await registrar.agents.removeOffers({
          agentId: offer.agentId,
          offerIds: [offer.offerId],
          frameworkId: offer.frameworkId,
        });
        const list = byFramework.get(offer.frameworkId) ?? [];
        list.push({
          role: offer.role,
          agentId: offer.agentId,
          resources: [...offer.resources],
          expiresAt: Date.now() + MAX_REFUSE_SECONDS * 1000,
        });
        byFramework.set(offer.frameworkId, list);
      }
    }),
  );
  for (const [frameworkId, filters] of byFramework) await registrar.filters.put(frameworkId, filters);
}

interface RegistrarRound {
  ms: number;
  allocateMs: number;
  reads: number;
  items: number;
  writes: number;
  offers: number;
}

async function registrarPass(): Promise<Record<string, unknown>> {
  const dynamo = await startDynamoDbLocal({ heapMb: 1024 });
  const clients = createAwsClients({ endpoints: { dynamodb: dynamo.endpoint } });
  try {
    const tables = tableNames('allocbench');
    await createTables(clients.dynamodb, tables);
    const metrics = new Metrics();
    const registrar = new Registrar({ documents: clients.documents, tables, clusterId: 'bench', metrics });
    await populate(registrar);
    const allocator = new Allocator();
    const publisher = new CountingPublisher();
    const count = (name: string) => metrics.snapshot()[`${name}/count`] ?? 0;
    const passes: RegistrarRound[] = [];
    for (let round = 0; round < REGISTRAR_ROUNDS; round++) {
      const reads = count('registrar/state_fetch_ms');
      const writes = count('registrar/state_store_ms');
      const report = await runAllocationPass({ registrar, events: publisher, allocator, metrics });
      passes.push({
        ms: report.durationMs,
        allocateMs: report.allocateMs,
        reads: count('registrar/state_fetch_ms') - reads,
        items: report.stats.agents + report.stats.frameworks,
        writes: count('registrar/state_store_ms') - writes,
        offers: report.offers.length,
      });
      await declineAll(registrar, report.offers);
    }
    const items: AgentRecord[] = [];
    for await (const agent of registrar.agents.list()) items.push(agent);
    const median = (pick: (pass: RegistrarRound) => number) => round1(percentile(passes.map(pick), 0.5));
    return {
      case: 'allocation pass over the registrar (DynamoDB Local)',
      agents: REGISTRAR_AGENTS,
      frameworks: REGISTRAR_FRAMEWORKS,
      pass_ms: median((pass) => pass.ms),
      first_pass_ms: round1(passes[0]?.ms ?? 0),
      allocate_ms: median((pass) => pass.allocateMs),
      reads_per_pass: median((pass) => pass.reads),
      items_read_per_pass: median((pass) => pass.items),
      writes_per_pass: median((pass) => pass.writes),
      offers: median((pass) => pass.offers),
      rounds: REGISTRAR_ROUNDS,
      events_sent: publisher.events,
      agents_after: items.length,
      rss_mb: rssMb(),
    };
  } finally {
    clients.destroy();
    await dynamo.stop();
  }
}

async function main(): Promise<void> {
  const results: Array<Record<string, unknown>> = [];
  for (const size of SIZES) {
    const result = declineOffers(size);
    console.log(JSON.stringify(result));
    results.push(result);
  }
  const registrar = await registrarPass();
  console.log(JSON.stringify(registrar));
  results.push(registrar);
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'allocator.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        benchmark: 'allocator',
        date: new Date().toISOString(),
        machine: { cpus: cpus().length, node: process.version },
        results,
        target: 'pass_ms <= 250 at 10,000 agents x 1,000 frameworks (Mesos 1.8: ~1.1 s per allocation cycle)',
      },
      null,
      2,
    )}\n`,
  );
  console.log(`wrote ${out}`);
}

await main();
