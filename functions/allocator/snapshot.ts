/**
 * What the allocator reads: a snapshot of agents (with their ledgers), frameworks and roles. The shapes
 * are the registrar's records, narrowed to what allocation needs, so that records read from DynamoDB go
 * in as they are (AgentRecord, FrameworkRecord and RoleRecord satisfy these types).
 */
import type { Attribute, DomainInfo, FrameworkInfo, Resource } from '#shared/protocol/mesos.js';
import type { OfferConstraints } from '#shared/protocol/scheduler.js';

/** Resources a framework holds on an agent in one role: an outstanding offer, a task or an executor. */
export interface HeldResources {
  readonly frameworkId: string;
  readonly role: string;
  readonly resources: readonly Resource[];
}

export interface AgentSnapshot {
  readonly agentId: string;
  readonly hostname: string;
  readonly port?: number;
  /**
   * Bumped by every change of the ledger (total, offers, tasks) and of the status. A warm allocator
   * reuses what it derived from an agent while the version stays the same.
   */
  readonly version: number;
  readonly status: 'ACTIVE' | 'UNREACHABLE' | 'GONE';
  /** Deactivated or draining: no new offers. */
  readonly deactivated: boolean;
  /** Everything the agent has, reservations included. */
  readonly total: readonly Resource[];
  readonly offers: Readonly<Record<string, HeldResources>>;
  readonly tasks: Readonly<Record<string, HeldResources>>;
  /** Executors' own resources, held once per executor (absent: none). */
  readonly executors?: Readonly<Record<string, HeldResources>>;
  readonly attributes: readonly Attribute[];
  readonly domain?: DomainInfo;
  readonly capabilities: readonly string[];
}

/** A refused-offer filter: no offer of these resources (or fewer) from the agent to the role until expiry. */
export interface FilterSnapshot {
  readonly role: string;
  readonly agentId: string;
  readonly resources: readonly Resource[];
  readonly expiresAt: number;
}

export interface FrameworkSnapshot {
  readonly frameworkId: string;
  /** Bumped by every change of the record (roles, suppression, filters, capabilities...). */
  readonly version: number;
  readonly status: 'SUBSCRIBED' | 'DISCONNECTED' | 'INACTIVE' | 'REMOVED';
  readonly roles: readonly string[];
  readonly suppressedRoles: readonly string[];
  readonly info: Pick<FrameworkInfo, 'capabilities' | 'offer_filters'>;
  /** Keyed by `filterKey(role, agentId)` (the registrar keeps one filter per role and agent). */
  readonly filters: Readonly<Record<string, FilterSnapshot>>;
  readonly offerConstraints?: OfferConstraints;
}

export interface RoleSnapshot {
  readonly role: string;
  readonly weight: number;
  readonly quota: {
    readonly guarantees: Readonly<Record<string, number>>;
    readonly limits: Readonly<Record<string, number>>;
  };
}

export interface AllocationSnapshot {
  readonly agents: readonly AgentSnapshot[];
  readonly frameworks: readonly FrameworkSnapshot[];
  /** Roles with a weight or quota set; every other role has weight 1 and no quota. */
  readonly roles: readonly RoleSnapshot[];
  /** Milliseconds since the epoch: what "expired" means for filters. */
  readonly now: number;
}

/** SUBSCRIBED and DISCONNECTED frameworks are active (Mantle keeps a disconnected one during its grace). */
export function isActiveFramework(framework: Pick<FrameworkSnapshot, 'status'>): boolean {
  return framework.status === 'SUBSCRIBED' || framework.status === 'DISCONNECTED';
}
