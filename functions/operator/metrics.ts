/**
 * `operatorMetrics(master)`: what GET_METRICS and `/metrics/snapshot` answer — this process's own
 * counters and timers (the registrar's, the allocator's where it runs here, HTTP errors) overlaid with
 * the cluster-wide figures computed from the registrar (cluster-metrics.ts).
 *
 * Bounded reads per scrape: one scan of the agents (each agent's item, as the sweeper reads every
 * minute), one scan of the frameworks, and one batch read of the task-count shards — never the tasks.
 * A scrape's figures are kept for `METRICS_CACHE_MS`, so scrapers polling faster than that, or several at
 * once, share one read (docs/operator.md, "Metrics").
 */
import type { Master } from '../master/master.js';
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from '#shared/prometheus.js';
import { CLUSTER_COUNTERS, clusterMetrics } from './cluster-metrics.js';

/** How long one read of the registrar answers scrapes (Prometheus scrapes every 15 s or more). */
export const METRICS_CACHE_MS = 5000;

interface Cached {
  readonly at: number;
  readonly figures: Promise<Record<string, number>>;
}

const cache = new WeakMap<Master, Cached>();

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const result: T[] = [];
  for await (const item of items) result.push(item);
  return result;
}

async function readCluster(master: Master): Promise<Record<string, number>> {
  const [agents, frameworks, tasks] = await Promise.all([
    collect(master.registrar.agents.list()),
    collect(master.registrar.frameworks.list()),
    master.registrar.counters.read(),
  ]);
  return clusterMetrics({ agents, frameworks, tasks, uptimeSeconds: Math.floor(process.uptime()) });
}

/** The cluster's figures, read at most once per METRICS_CACHE_MS per master; a failed read is not kept. */
export function clusterFigures(master: Master): Promise<Record<string, number>> {
  const now = master.now();
  const cached = cache.get(master);
  if (cached && now - cached.at < METRICS_CACHE_MS) return cached.figures;
  const figures = readCluster(master);
  cache.set(master, { at: now, figures });
  figures.catch(() => {
    if (cache.get(master)?.figures === figures) cache.delete(master);
  });
  return figures;
}

/** Mesos's `/metrics/snapshot`: a flat `{ "name": value }` object, the cluster's figures winning. */
export async function operatorMetrics(master: Master): Promise<Record<string, number>> {
  const cluster = await clusterFigures(master);
  return { ...master.metrics.snapshot(), ...cluster };
}

/** The same figures in Prometheus's text format (the master's `GET /metrics`). */
export async function operatorPrometheus(master: Master): Promise<{ contentType: string; text: string }> {
  const counters = new Set([...master.metrics.counterNames(), ...CLUSTER_COUNTERS]);
  return { contentType: PROMETHEUS_CONTENT_TYPE, text: await prometheusText(await operatorMetrics(master), counters) };
}
