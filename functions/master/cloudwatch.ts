/**
 * Mantle's CloudWatch metrics, as embedded metric format (EMF) log lines through Powertools: a Lambda
 * writes them to its log and CloudWatch extracts the metrics, so publishing costs no API call. The
 * names, namespace and dimensions are shared with the CDK stack, whose alarms, scaling policies and
 * dashboard read them.
 */
import { Metrics as PowertoolsMetrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { FleetGauges } from '../fleet/demand.js';
import type { Metrics } from '#shared/metrics.js';

export const METRICS_NAMESPACE = 'Mantle';

/** The gauges the fleet tick publishes (each custom metric is billed: only what alarms, scaling and the dashboard use). */
export const FLEET_METRICS = {
  agentsNeeded: 'AgentsNeeded',
  pendingTasks: 'PendingTasks',
  pendingGpus: 'PendingGpus',
  unplaceableTasks: 'UnplaceableTasks',
  scaleInCandidates: 'ScaleInCandidates',
  activeAgents: 'ActiveAgents',
  drainingAgents: 'DrainingAgents',
  unreachableAgents: 'UnreachableAgents',
  outstandingOffers: 'OutstandingOffers',
  activeTasks: 'ActiveTasks',
} as const satisfies Partial<Record<keyof FleetGauges, string>>;

/** Powertools adds `service` to every metric's dimensions; the stack names both. */
export function metricDimensions(service: string, cluster: string): Record<string, string> {
  return { service, cluster };
}

export const FLEET_SERVICE = 'fleet';
export const STATUS_SERVICE = 'status';

/** The per-state task update counters (`master/task_updates/TASK_*`) as metrics named by the state. */
export const TASK_UPDATE_PREFIX = 'master/task_updates/';

function emf(service: string, cluster: string): PowertoolsMetrics {
  return new PowertoolsMetrics({ namespace: METRICS_NAMESPACE, serviceName: service, defaultDimensions: { cluster } });
}

/** Publishes one fleet tick's gauges as one EMF line. */
export function publishFleetGauges(gauges: FleetGauges, cluster: string): void {
  const metrics = emf(FLEET_SERVICE, cluster);
  for (const [key, name] of Object.entries(FLEET_METRICS)) {
    metrics.addMetric(name, MetricUnit.Count, gauges[key as keyof typeof FLEET_METRICS]);
  }
  metrics.publishStoredMetrics();
}

/**
 * Exports the growth of a master's counters whose names start with `prefix`, as EMF counts named by
 * the rest of the name (master/task_updates/TASK_FINISHED → TASK_FINISHED). A Lambda container's
 * registry lives as long as the container, so each flush sends what grew since the last one.
 */
export class CounterExporter {
  private readonly sent = new Map<string, number>();

  constructor(
    private readonly registry: Metrics,
    private readonly prefix: string,
    private readonly service: string,
    private readonly cluster: string,
  ) {}

  /** Returns the counts it sent. */
  flush(): Record<string, number> {
    const grown: Record<string, number> = {};
    for (const [name, value] of Object.entries(this.registry.snapshot())) {
      if (!name.startsWith(this.prefix)) continue;
      const delta = value - (this.sent.get(name) ?? 0);
      if (delta <= 0) continue;
      grown[name.slice(this.prefix.length)] = delta;
      this.sent.set(name, value);
    }
    if (Object.keys(grown).length === 0) return grown;
    const metrics = emf(this.service, this.cluster);
    for (const [name, count] of Object.entries(grown)) metrics.addMetric(name, MetricUnit.Count, count);
    metrics.publishStoredMetrics();
    return grown;
  }
}
