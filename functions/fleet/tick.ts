/**
 * The fleet tick (an EventBridge schedule, every minute): from one snapshot of the registrar it
 * publishes the demand and fleet gauges the Auto Scaling group scales on (functions/fleet/demand.ts),
 * moves drains along (functions/fleet/drain.ts), and keeps scale-in protection on the instances that
 * hold work, so that the group scales in by idle agents.
 */
import type { AgentRecord, FrameworkRecord } from '../registrar/index.js';
import { advanceDrains, type DrainSettings } from './drain.js';
import {
  DEFAULT_DEMAND_SETTINGS,
  fleetGauges,
  protectionChanges,
  type DemandSettings,
  type FleetGauges,
} from './demand.js';
import type { Master } from '../master/master.js';
import type { ScaleInProtection } from './autoscaling.js';
import type { LifecycleActions } from './hooks.js';
import { publishFleetGauges } from '../master/cloudwatch.js';

export interface FleetTickReport {
  readonly gauges: FleetGauges;
  /** Instances whose lifecycle actions were completed (drained). */
  readonly released: readonly string[];
  readonly protected: readonly string[];
  readonly unprotected: readonly string[];
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const result: T[] = [];
  for await (const item of items) result.push(item);
  return result;
}

export async function fleetTick(
  master: Master,
  group: LifecycleActions & ScaleInProtection,
  settings: DrainSettings,
  publish: (gauges: FleetGauges, cluster: string) => void = publishFleetGauges,
  demand: DemandSettings = DEFAULT_DEMAND_SETTINGS,
): Promise<FleetTickReport> {
  const [agents, frameworks]: [AgentRecord[], FrameworkRecord[]] = await Promise.all([
    collect(master.registrar.agents.list()),
    collect(master.registrar.frameworks.list()),
  ]);
  const gauges = fleetGauges(agents, frameworks, master.now(), demand);
  // First: scaling must see demand even when a step below fails.
  publish(gauges, master.config.cluster);
  const released = await advanceDrains(master, group, settings, agents);
  const changes = protectionChanges(agents, await group.instances());
  if (changes.protect.length > 0) await group.setProtection(changes.protect, true);
  if (changes.unprotect.length > 0) await group.setProtection(changes.unprotect, false);
  return { gauges, released, protected: changes.protect, unprotected: changes.unprotect };
}
