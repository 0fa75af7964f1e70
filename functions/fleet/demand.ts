/**
 * The pending-demand signal the GPU agents' Auto Scaling group scales on (docs/deploy.md, "Scaling from zero"), and
 * which instances scale-in may take. Pure: computed from one snapshot of the registrar.
 *
 * Demand is what frameworks say they wait for: their latest REQUEST call (Mesos's way to ask for
 * resources; Mantle Jobs sends its pending jobs' needs the same way), each request one task's resources
 * times its `count` (Mantle's extension; 1 when absent). It counts while the framework is active and the
 * request is recent (a framework re-sends it while its work waits, so a framework that went quiet stops
 * holding agents up). Requests are grouped by resource shape and packed onto the free resources of
 * schedulable agents, then onto new agents of the fleet's shape (functions/fleet/packing.ts): the new
 * agents that takes is the scale-out signal. Declines carry no reason in Mesos, so they are not guessed at.
 */
import type { AgentRecord, FrameworkRecord } from '../registrar/index.js';
import type { Request } from '#shared/protocol/mesos.js';
import { parseResourceText } from '#shared/resources/parse.js';
import { quantities, scalarTotal, type Quantities } from '#shared/resources/resources.js';
import { instanceIdOf } from './instance-id.js';
import { packDemand, type DemandShape, type FreeAgent } from './packing.js';
import { allocations } from '../registrar/ledger.js';

/** A REQUEST older than this no longer counts as demand. */
export const DEFAULT_REQUEST_TTL_SECONDS = 15 * 60;

/** What one new agent offers by default: the smallest default instance types (g6/g5.xlarge), less the agent's reserve. */
export const DEFAULT_AGENT_SHAPE: Quantities = { cpus: 4, mem: 14_000, gpus: 1 };

/**
 * How the group's step scaling reads `agentsNeeded` (infra/agents.ts): [agents needed from, agents added].
 * Exact up to 4, then rounded down (once the warming instances count, the next evaluation adds the rest).
 */
export const SCALE_OUT_STEPS: ReadonlyArray<readonly [number, number]> = [
  [1, 1],
  [2, 2],
  [3, 3],
  [4, 4],
  [6, 6],
  [8, 8],
  [12, 12],
  [16, 16],
];

/** The instances the group adds for a signal of `agentsNeeded` (before its maximum size caps them). */
export function scaleOutAdjustment(agentsNeeded: number): number {
  let adjustment = 0;
  for (const [from, add] of SCALE_OUT_STEPS) if (agentsNeeded >= from) adjustment = add;
  return adjustment;
}

export interface DemandSettings {
  /** The resources one new agent of the fleet offers (the smallest of its instance types). */
  readonly agentShape: Quantities;
  /** Mesos --filter_gpu_resources: agents with GPUs only for GPU_RESOURCES frameworks. */
  readonly filterGpuResources: boolean;
  readonly requestTtlSeconds: number;
}

export const DEFAULT_DEMAND_SETTINGS: DemandSettings = {
  agentShape: DEFAULT_AGENT_SHAPE,
  filterGpuResources: true,
  requestTtlSeconds: DEFAULT_REQUEST_TTL_SECONDS,
};

/** The fleet's shape from Mesos resource text (`cpus:4;mem:14000;gpus:1`): its scalars, which must be positive. */
export function parseAgentShape(text: string): Quantities {
  const parsed = parseResourceText(text);
  if (!parsed.ok) throw new Error(`Invalid agent shape '${text}': ${parsed.error.message}`);
  const shape = quantities(parsed.value.filter((resource) => resource.type === 'SCALAR'));
  if (!Object.values(shape).some((amount) => amount > 0)) throw new Error(`Agent shape '${text}' offers nothing`);
  return shape;
}

/**
 * MANTLE_FLEET_AGENT_RESOURCES (the fleet's shape as resource text), MANTLE_FILTER_GPU_RESOURCES (the
 * allocator's setting: `false` lets tasks without GPUs onto agents with GPUs), MANTLE_REQUEST_TTL_SECONDS.
 */
export function demandSettingsFromEnvironment(env: NodeJS.ProcessEnv = process.env): DemandSettings {
  const shape = env.MANTLE_FLEET_AGENT_RESOURCES;
  const ttl = env.MANTLE_REQUEST_TTL_SECONDS;
  const ttlSeconds = ttl ? Number(ttl) : DEFAULT_REQUEST_TTL_SECONDS;
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new Error(`MANTLE_REQUEST_TTL_SECONDS must be a positive number of seconds, not '${ttl}'`);
  }
  return {
    agentShape: shape ? parseAgentShape(shape) : DEFAULT_AGENT_SHAPE,
    filterGpuResources: env.MANTLE_FILTER_GPU_RESOURCES !== 'false',
    requestTtlSeconds: ttlSeconds,
  };
}

export interface FleetGauges {
  /** ACTIVE agents that take offers. */
  readonly activeAgents: number;
  readonly drainingAgents: number;
  readonly unreachableAgents: number;
  /** Active agents with no tasks. */
  readonly idleAgents: number;
  /** Tasks the active frameworks' recent requests ask for, and their GPUs. */
  readonly requestedTasks: number;
  readonly requestedGpus: number;
  /** GPUs on active agents that no task holds (offered ones included: they are there to be taken). */
  readonly freeGpus: number;
  /** Requested tasks that the free resources of active agents cannot hold but a new agent could, and their GPUs. */
  readonly pendingTasks: number;
  readonly pendingGpus: number;
  /** The scale-out signal: new agents of the fleet's shape that the pending tasks need (first-fit decreasing). */
  readonly agentsNeeded: number;
  /** Requested tasks that no agent of the fleet's shape could hold (or the GPU filter keeps off it). */
  readonly unplaceableTasks: number;
  /** The scale-in signal: idle agents that the requested tasks do not need, while none is pending. */
  readonly scaleInCandidates: number;
  readonly outstandingOffers: number;
  /** Tasks the ledgers hold (staging, running or killing) on agents that are not gone. */
  readonly activeTasks: number;
}

function isActiveFramework(framework: FrameworkRecord): boolean {
  return framework.status === 'SUBSCRIBED' || framework.status === 'DISCONNECTED';
}

function hasGpuCapability(framework: FrameworkRecord): boolean {
  return (framework.info.capabilities ?? []).some((capability) => capability.type === 'GPU_RESOURCES');
}

/** A request's positive scalars: one task's shape. */
function shapeOf(request: Request): Quantities {
  const need: Quantities = {};
  for (const [name, amount] of Object.entries(
    quantities((request.resources ?? []).filter((r) => r.type === 'SCALAR')),
  )) {
    if (amount > 0) need[name] = amount;
  }
  return need;
}

/**
 * The active frameworks' recent requests, grouped by shape. A request that names an agent waits for
 * that agent (new agents cannot help it), so it is not fleet demand.
 */
export function demandShapes(
  frameworks: Iterable<FrameworkRecord>,
  now: number,
  settings: DemandSettings = DEFAULT_DEMAND_SETTINGS,
): DemandShape[] {
  const shapes = new Map<string, DemandShape>();
  const since = now - settings.requestTtlSeconds * 1000;
  for (const framework of frameworks) {
    if (!isActiveFramework(framework) || !framework.requests || framework.requests.at < since) continue;
    const gpuAgents = !settings.filterGpuResources || hasGpuCapability(framework);
    for (const request of framework.requests.requests) {
      const need = shapeOf(request);
      if (request.agent_id || Object.keys(need).length === 0) continue;
      const key = JSON.stringify([gpuAgents, Object.entries(need).sort(([a], [b]) => a.localeCompare(b))]);
      const count = (shapes.get(key)?.count ?? 0) + (request.count ?? 1);
      shapes.set(key, { need, count, gpuAgents });
    }
  }
  return [...shapes.values()];
}

interface AgentCounts {
  activeAgents: number;
  drainingAgents: number;
  unreachableAgents: number;
  idleAgents: number;
  freeGpus: number;
  outstandingOffers: number;
  activeTasks: number;
}

/** The agents by state, and the free resources of the schedulable ones. */
function countAgents(agents: Iterable<AgentRecord>): { counts: AgentCounts; free: FreeAgent[] } {
  const counts: AgentCounts = {
    activeAgents: 0,
    drainingAgents: 0,
    unreachableAgents: 0,
    idleAgents: 0,
    freeGpus: 0,
    outstandingOffers: 0,
    activeTasks: 0,
  };
  const free: FreeAgent[] = [];
  for (const agent of agents) {
    if (agent.status === 'GONE') continue;
    const tasks = Object.values(agent.tasks);
    counts.activeTasks += tasks.length;
    counts.outstandingOffers += Object.keys(agent.offers).length;
    if (agent.status === 'UNREACHABLE') counts.unreachableAgents++;
    else if (agent.drain || agent.deactivated) counts.drainingAgents++;
    else {
      counts.activeAgents++;
      if (tasks.length === 0) counts.idleAgents++;
      const left = quantities(agent.total);
      for (const held of allocations(agent)) {
        for (const [name, amount] of Object.entries(quantities(held.resources))) {
          left[name] = Math.max(0, (left[name] ?? 0) - amount);
        }
      }
      counts.freeGpus += left.gpus ?? 0;
      free.push({ free: left, hasGpus: scalarTotal(agent.total, 'gpus') > 0, idle: tasks.length === 0 });
    }
  }
  return { counts, free };
}

export function fleetGauges(
  agents: Iterable<AgentRecord>,
  frameworks: Iterable<FrameworkRecord>,
  now: number,
  settings: DemandSettings = DEFAULT_DEMAND_SETTINGS,
): FleetGauges {
  const { counts, free } = countAgents(agents);
  const shapes = demandShapes(frameworks, now, settings);
  const packing = packDemand(shapes, free, settings.agentShape);
  return {
    ...counts,
    requestedTasks: shapes.reduce((sum, shape) => sum + shape.count, 0),
    requestedGpus: shapes.reduce((sum, shape) => sum + shape.count * (shape.need.gpus ?? 0), 0),
    pendingTasks: packing.waiting,
    pendingGpus: packing.waitingGpus,
    agentsNeeded: packing.agentsNeeded,
    unplaceableTasks: packing.unplaceable,
    scaleInCandidates: packing.waiting > 0 ? 0 : packing.idleUnused,
  };
}

/**
 * Scale-in protection that follows the work: an instance whose agent holds tasks or offers is
 * protected, an idle one is not, so the group's scale-in takes idle instances. Instances the group
 * has but no agent runs on yet (booting) are left as they are.
 */
export function protectionChanges(
  agents: Iterable<AgentRecord>,
  instances: ReadonlyMap<string, boolean>,
): { protect: string[]; unprotect: string[] } {
  const busy = new Map<string, boolean>();
  for (const agent of agents) {
    const instanceId = instanceIdOf(agent);
    if (agent.status === 'GONE' || instanceId === undefined || !instances.has(instanceId)) continue;
    const working = allocations(agent).length > 0 || Object.keys(agent.offers).length > 0;
    busy.set(instanceId, (busy.get(instanceId) ?? false) || working);
  }
  const protect: string[] = [];
  const unprotect: string[] = [];
  for (const [instanceId, working] of busy) {
    const isProtected = instances.get(instanceId) === true;
    if (working && !isProtected) protect.push(instanceId);
    else if (!working && isProtected) unprotect.push(instanceId);
  }
  return { protect, unprotect };
}
