/**
 * What a sweep does with one agent (the sweeper's decision, pure): skip it, mark it unreachable, or
 * tend it — rescind its expired offers and check its launches not confirmed in time. sweeper.ts does it.
 */
import type { AgentRecord, AllocatedTask, OfferRecord } from '../registrar/index.js';

/** What a sweep does with one agent, decided from its record and when it was last heard. */
export type AgentSweep =
  | { readonly kind: 'skip' }
  /** Silent past the ping timeouts: it becomes unreachable. */
  | { readonly kind: 'unreachable'; readonly lastHeard: number }
  /** Alive: its expired offers are rescinded, and its launches not confirmed in time are checked. */
  | { readonly kind: 'tend'; readonly expiredOffers: OfferRecord[]; readonly overdueLaunches: AllocatedTask[] };

/**
 * Decides the sweep of one agent (pure): `silentSince` is when an agent last heard before is silent,
 * `launchTimeoutSeconds` how long a launch may stay unconfirmed.
 */
export function planAgentSweep(
  agent: AgentRecord | undefined,
  lastHeard: number,
  silentSince: number,
  now: number,
  launchTimeoutSeconds: number,
): AgentSweep {
  if (agent?.status !== 'ACTIVE') return { kind: 'skip' };
  if (lastHeard < silentSince) return { kind: 'unreachable', lastHeard };
  const launchDeadline = now - launchTimeoutSeconds * 1000;
  return {
    kind: 'tend',
    expiredOffers: Object.values(agent.offers).filter(
      (offer) => offer.expiresAt !== undefined && offer.expiresAt <= now,
    ),
    overdueLaunches: Object.values(agent.tasks).filter((task) => task.launchedAt <= launchDeadline),
  };
}
