/**
 * The snapshot allocation passes work on, kept warm between passes by the allocator's container
 * (docs/allocator.md, "The warm snapshot"), as Mesos's allocator keeps the cluster in memory. A full read —
 * a container's first pass, a pass over all agents that cannot say which changed, or one after the last full
 * read grew old — scans agents, frameworks, filters and roles and replaces it. A warm read — a pass over all
 * agents whose triggers named the agents that changed — scans the frameworks, filters and roles and reads
 * those agents by key. A partial pass reads only the agents its triggers named (one consistent BatchGetItem
 * per 100) and the maintenance item. Agents not read are as the last read saw them, updated with what
 * passes in this container wrote since, and with the ledgers its lost writes came back with.
 *
 * Nothing is offered twice on a cached record: every offer is written conditioned on the ledger version the
 * snapshot holds, so a ledger changed since loses the write (and comes back as it now is). Before a partial
 * pass writes, the frameworks its offers go to and their filters on those agents are read again by key
 * (`check`), and the allocator runs again if any changed; a warm or full pass read them whole. Cached
 * agents weigh in the DRF shares and quota consumption as they were last read, until the next full read.
 */
import type { AgentRecord, FrameworkRecord, OfferFilter, Registrar, RoleRecord } from '../registrar/index.js';
import { filterKey } from '#shared/ids.js';
import { isActiveFramework, type FrameworkSnapshot } from '../allocator/snapshot.js';
import type { MaintenanceRecord } from '../maintenance/schedule.js';

/** Items a pass read, by table (a key asked in a batch counts, found or not; a scan counts what it returned). */
export interface ItemsRead {
  agents: number;
  frameworks: number;
  filters: number;
  roles: number;
  maintenance: number;
}

export function noItemsRead(): ItemsRead {
  return { agents: 0, frameworks: 0, filters: 0, roles: 0, maintenance: 0 };
}

/** An offer a partial pass proposes, as far as what it depends on goes. */
export interface OfferTarget {
  readonly frameworkId: string;
  readonly role: string;
  readonly agentId: string;
}

/** What one pass already read again (`check`): each framework and filter key once per pass. */
export interface Checked {
  readonly frameworks: Set<string>;
  readonly filters: Set<string>;
}

const checkKey = (target: OfferTarget): string => `${target.frameworkId}\n${filterKey(target.role, target.agentId)}`;

/** Whether what this offer depends on was read again in this pass. */
export function isChecked(checked: Checked, target: OfferTarget): boolean {
  return checked.frameworks.has(target.frameworkId) && checked.filters.has(checkKey(target));
}

/**
 * Agents per segment of the full read's parallel scan (a 1 MB page holds one to two thousand agents);
 * the count is the last full read's, so a cold snapshot, or a small cluster's, scans in one.
 */
const AGENTS_PER_SEGMENT = 2_000;
const MAX_SEGMENTS = 16;

function scanSegments(agentsBefore: number): number {
  return Math.min(MAX_SEGMENTS, Math.max(1, Math.ceil(agentsBefore / AGENTS_PER_SEGMENT)));
}

const NO_FILTERS: Readonly<Record<string, OfferFilter>> = Object.freeze({});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const result: T[] = [];
  for await (const item of items) result.push(item);
  return result;
}

function sameFilter(a: OfferFilter | undefined, b: OfferFilter | undefined): boolean {
  if (!a || !b) return a === b;
  return a.expiresAt === b.expiresAt && JSON.stringify(a.resources) === JSON.stringify(b.resources);
}

export class WarmSnapshot {
  agents = new Map<string, AgentRecord>();
  frameworks = new Map<string, FrameworkRecord>();
  /** In-force filters by framework; an object is replaced, never changed (the allocator keys on identity). */
  filters = new Map<string, Readonly<Record<string, OfferFilter>>>();
  roles: RoleRecord[] = [];
  private warm = false;
  /** When the last full read read every agent (the pass's clock). */
  private agentsReadAt = Number.NEGATIVE_INFINITY;

  /**
   * Reads what the pass needs:
   * - everything (a full read) when the snapshot is cold, or the pass is over all agents and does not
   *   say which agents changed, or the last full read is `maxAgeMs` old;
   * - for a pass over all agents that names the agents that changed (`changedAgents`: its triggers named them),
   *   the small tables (frameworks, filters, roles, maintenance) and those agents, the rest of the
   *   agents from the snapshot (a warm read: what a REVIVE or a subscription changed is read);
   * - else (a partial read) the named agents (and the frameworks of offers on them that look gone,
   *   before they are swept).
   * Returns whether every agent was read (`full`), whether the frameworks and filters were (`current`),
   * the agents read in this pass, and the maintenance record.
   */
  async read(
    registrar: Registrar,
    scope: {
      readonly agentIds?: ReadonlySet<string>;
      readonly changedAgents?: ReadonlySet<string>;
      readonly maxAgeMs: number;
    },
    now: number,
    counts: ItemsRead,
  ): Promise<{ full: boolean; current: boolean; fresh: ReadonlySet<string>; maintenance: MaintenanceRecord }> {
    const { agentIds, changedAgents: changed } = scope;
    if (
      !this.warm ||
      (agentIds === undefined && (changed === undefined || now - this.agentsReadAt >= scope.maxAgeMs))
    ) {
      const [agents, maintenance] = await Promise.all([
        registrar.agents.all(scanSegments(this.agents.size)),
        this.readShared(registrar, now, counts),
      ]);
      this.agents = new Map(agents.map((agent) => [agent.agentId, agent]));
      this.warm = true;
      this.agentsReadAt = now;
      counts.agents += agents.length;
      return { full: true, current: true, fresh: new Set(this.agents.keys()), maintenance };
    }
    if (agentIds === undefined) {
      const [fresh, maintenance] = await Promise.all([
        this.readAgents(registrar, changed ?? new Set(), counts),
        this.readShared(registrar, now, counts),
      ]);
      return { full: false, current: true, fresh, maintenance };
    }
    const [fresh, maintenance] = await Promise.all([
      this.readAgents(registrar, agentIds, counts),
      registrar.maintenance.get(),
    ]);
    counts.maintenance += 1;
    // An offer whose framework looks gone is swept: only on the framework as it is now.
    const gone = new Set<string>();
    for (const agentId of fresh) {
      for (const offer of Object.values(this.agents.get(agentId)?.offers ?? {})) {
        const framework = this.frameworks.get(offer.frameworkId);
        if (framework && (!isActiveFramework(framework) || !framework.roles.includes(offer.role))) {
          gone.add(offer.frameworkId);
        }
      }
    }
    if (gone.size > 0) await this.refreshFrameworks(registrar, [...gone], counts);
    return { full: false, current: false, fresh, maintenance };
  }

  /** Reads these agents (consistent batch reads) into the snapshot; an agent not found leaves it. */
  private async readAgents(registrar: Registrar, agentIds: ReadonlySet<string>, counts: ItemsRead) {
    const named = [...agentIds];
    const agents = named.length > 0 ? await registrar.agents.getMany(named) : [];
    counts.agents += named.length;
    for (const agentId of named) this.agents.delete(agentId);
    for (const agent of agents) this.agents.set(agent.agentId, agent);
    return new Set(agents.map((agent) => agent.agentId));
  }

  /** Reads the frameworks, roles, filters and the maintenance record whole (the tables a full read shares). */
  private async readShared(registrar: Registrar, now: number, counts: ItemsRead): Promise<MaintenanceRecord> {
    const [frameworks, roles, filters, maintenance] = await Promise.all([
      collect(registrar.frameworks.list()),
      registrar.roles.list(),
      registrar.filters.all(now),
      registrar.maintenance.get(),
    ]);
    this.frameworks = new Map(frameworks.map((framework) => [framework.frameworkId, framework]));
    this.filters = filters;
    this.roles = roles;
    counts.frameworks += frameworks.length;
    counts.roles += roles.length;
    counts.filters += [...filters.values()].reduce((sum, byKey) => sum + Object.keys(byKey).length, 0);
    counts.maintenance += 1;
    return maintenance;
  }

  /** The frameworks the allocator considers: those with an event queue (the others could not hear of offers). */
  reachable(): FrameworkSnapshot[] {
    const result: FrameworkSnapshot[] = [];
    for (const framework of this.frameworks.values()) {
      if (framework.eventQueueUrl === '') continue;
      result.push({ ...framework, filters: this.filters.get(framework.frameworkId) ?? NO_FILTERS });
    }
    return result;
  }

  /**
   * Reads again, by key, the frameworks these offers go to and their filters on these agents (what was
   * not read in this pass yet), and takes them in. Returns whether any differed from the snapshot (a
   * version, the framework's being active, a filter): the allocator must then run again.
   */
  async check(registrar: Registrar, targets: readonly OfferTarget[], now: number, checked: Checked, counts: ItemsRead) {
    const frameworkIds = [...new Set(targets.map((target) => target.frameworkId))].filter(
      (frameworkId) => !checked.frameworks.has(frameworkId),
    );
    const filterTargets = [...new Map(targets.map((target) => [checkKey(target), target])).entries()]
      .filter(([key]) => !checked.filters.has(key))
      .map(([, target]) => target);
    const [changedFrameworks, filters] = await Promise.all([
      this.refreshFrameworks(registrar, frameworkIds, counts),
      registrar.filters.get(filterTargets, now),
    ]);
    counts.filters += filterTargets.length;
    for (const frameworkId of frameworkIds) checked.frameworks.add(frameworkId);
    let changed = changedFrameworks;
    for (const target of filterTargets) {
      checked.filters.add(checkKey(target));
      const key = filterKey(target.role, target.agentId);
      const cached = this.filters.get(target.frameworkId) ?? NO_FILTERS;
      const fresh = filters.get(target.frameworkId)?.[key];
      if (sameFilter(cached[key], fresh)) continue;
      changed = true;
      const { [key]: _old, ...others } = cached;
      this.filters.set(target.frameworkId, fresh ? { ...others, [key]: fresh } : others);
    }
    return changed;
  }

  /** Reads these frameworks again; returns whether any changed in a way allocation sees. */
  private async refreshFrameworks(
    registrar: Registrar,
    frameworkIds: readonly string[],
    counts: ItemsRead,
  ): Promise<boolean> {
    if (frameworkIds.length === 0) return false;
    const fresh = new Map<string, FrameworkRecord>();
    for await (const framework of registrar.frameworks.list(frameworkIds)) fresh.set(framework.frameworkId, framework);
    counts.frameworks += frameworkIds.length;
    let changed = false;
    for (const frameworkId of frameworkIds) {
      const before = this.frameworks.get(frameworkId);
      const now = fresh.get(frameworkId);
      if (!now) {
        changed ||= before !== undefined;
        this.frameworks.delete(frameworkId);
        continue;
      }
      // A stream's heartbeat may heal DISCONNECTED into SUBSCRIBED without a new version: both active.
      changed ||= before?.version !== now.version || isActiveFramework(before) !== isActiveFramework(now);
      this.frameworks.set(frameworkId, now);
    }
    return changed;
  }
}
