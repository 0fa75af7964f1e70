/**
 * The figures GET_METRICS and `/metrics/snapshot` answer: Mesos's flat `{name: value}` snapshot
 * (docs/monitoring.md names). One function, so both answer the same.
 */
import type { Master } from '../master/master.js';

export async function operatorMetrics(master: Pick<Master, 'metrics'>): Promise<Record<string, number>> {
  return Promise.resolve(master.metrics.snapshot());
}
