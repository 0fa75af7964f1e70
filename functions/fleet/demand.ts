/**
 * The pending-demand signal the GPU agents' Auto Scaling group scales on (docs/deploy.md, "Scaling from zero"), and
 * which instances scale-in may take. Pure: computed from one snapshot of the registrar.
 *
 * Demand is what frameworks say they wait for: the GPUs of their latest REQUEST call (Mesos's way to
 * ask for resources; the built-in frameworks send their queues' needs the same way), counted while the
 * framework is active and the request is recent (a framework re-sends it while its work waits, so a
 * framework that went quiet stops holding agents up). Declines carry no reason in Mesos, so they are
 * not guessed at. What free GPUs on schedulable agents can cover is not pending.
 */
import type { AgentRecord, FrameworkRecord } from '../registrar/index.js';
import { scalarTotal } from '#shared/resources/resources.js';
import { instanceIdOf } from './instance-id.js';

/** A REQUEST older than this no longer counts as demand. */
export const DEFAULT_REQUEST_TTL_SECONDS = 15 * 60;

export interface FleetGauges {
  /** ACTIVE agents that take offers. */
  readonly activeAgents: number;
  readonly drainingAgents: number;
  readonly unreachableAgents: number;
  /** Active agents with no tasks. */
  readonly idleAgents: number;
  readonly requestedGpus: number;
  /** GPUs on active agents that no task holds (offered ones included: they are there to be taken). */
  readonly freeGpus: number;
  /** The scale-out signal: requested GPUs that free ones cannot cover. */
  readonly pendingGpus: number;
  /** The scale-in signal: idle agents, while nothing is pending. */
  readonly scaleInCandidates: number;
  readonly outstandingOffers: number;
  /** Tasks the ledgers hold (staging, running or killing) on agents that are not gone. */
  readonly activeTasks: number;
}

function isActiveFramework(framework: FrameworkRecord): boolean {
  return framework.status === 'SUBSCRIBED' || framework.status === 'DISCONNECTED';
}

export function fleetGauges(
  agents: Iterable<AgentRecord>,
  frameworks: Iterable<FrameworkRecord>,
  now: number,
  requestTtlSeconds = DEFAULT_REQUEST_TTL_SECONDS,
): FleetGauges {
  let activeAgents = 0;
  let drainingAgents = 0;
  let unreachableAgents = 0;
  let idleAgents = 0;
  let freeGpus = 0;
  let outstandingOffers = 0;
  let activeTasks = 0;
  for (const agent of agents) {
    if (agent.status === 'GONE') continue;
    const tasks = Object.values(agent.tasks);
    activeTasks += tasks.length;
    outstandingOffers += Object.keys(agent.offers).length;
    if (agent.status === 'UNREACHABLE') unreachableAgents++;
    else if (agent.drain || agent.deactivated) drainingAgents++;
    else {
      activeAgents++;
      if (tasks.length === 0) idleAgents++;
      const held = tasks.reduce((sum, task) => sum + scalarTotal(task.resources, 'gpus'), 0);
      freeGpus += Math.max(0, scalarTotal(agent.total, 'gpus') - held);
    }
  }
  let requestedGpus = 0;
  const since = now - requestTtlSeconds * 1000;
  for (const framework of frameworks) {
    if (!isActiveFramework(framework) || !framework.requests || framework.requests.at < since) continue;
    for (const request of framework.requests.requests) requestedGpus += scalarTotal(request.resources ?? [], 'gpus');
  }
  const pendingGpus = Math.max(0, requestedGpus - freeGpus);
  return {
    activeAgents,
    drainingAgents,
    unreachableAgents,
    idleAgents,
    requestedGpus,
    freeGpus,
    pendingGpus,
    scaleInCandidates: pendingGpus > 0 ? 0 : idleAgents,
    outstandingOffers,
    activeTasks,
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
    const working = Object.keys(agent.tasks).length > 0 || Object.keys(agent.offers).length > 0;
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
