/**
 * Prometheus's text exposition format (version 0.0.4) of a Mesos-style flat snapshot, with prom-client:
 * each `a/b_c` becomes `mesos_a_b_c` (Prometheus names allow [a-zA-Z0-9_:]; the `mesos_` prefix keeps
 * Mesos's names recognisable and apart from other exporters'), its HELP line names the Mesos metric,
 * counters are typed `counter` and everything else (gauges, timers' percentiles) `gauge`. The master's
 * `/metrics` and each agent's render this way (docs/operator.md, "Prometheus").
 */
import { Counter, Gauge, Registry } from 'prom-client';

export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** The Prometheus name of a Mesos metric name. */
export function prometheusName(mesosName: string): string {
  return `mesos_${mesosName.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

/**
 * The exposition of `snapshot`. Two Mesos names that map to one Prometheus name (they differ only in
 * characters Prometheus does not allow) keep the first; non-finite values are left out.
 */
export async function prometheusText(
  snapshot: Readonly<Record<string, number>>,
  counters: ReadonlySet<string> = new Set(),
): Promise<string> {
  const registry = new Registry();
  const seen = new Set<string>();
  for (const name of Object.keys(snapshot).sort()) {
    const value = snapshot[name] as number;
    const exported = prometheusName(name);
    if (!Number.isFinite(value) || seen.has(exported)) continue;
    seen.add(exported);
    const help = `Mesos metric ${name}`;
    if (counters.has(name) && value >= 0) {
      new Counter({ name: exported, help, registers: [registry] }).inc(value);
    } else {
      new Gauge({ name: exported, help, registers: [registry] }).set(value);
    }
  }
  return registry.metrics();
}
