/** A local cluster for an end-to-end test: `npm start`'s code with its own stand-ins, on a free port. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalCluster, type LocalCluster, type LocalClusterOptions } from '../../local/cluster.js';
import { removeContainers } from './agent.js';

export interface TestCluster extends LocalCluster {
  readonly workDir: string;
}

export async function startTestCluster(options: Partial<LocalClusterOptions> = {}): Promise<TestCluster> {
  const workDir = await mkdtemp(join(tmpdir(), 'mantle-e2e-'));
  const cluster = await startLocalCluster({
    cluster: 'e2e',
    port: 0,
    hostname: '127.0.0.1',
    agents: 1,
    workDir,
    persist: false,
    containerizer: 'auto',
    allocationIntervalSeconds: 1,
    sweepIntervalSeconds: 0.5,
    log: () => undefined,
    // Jobs only where a test asks for it (jobs: {}): its framework would take a share of the offers.
    jobs: false,
    services: false,
    ...options,
    master: { heartbeatIntervalSeconds: 1, streamCheckSeconds: 0.2, ...options.master },
  });
  return {
    ...cluster,
    workDir,
    async stop() {
      await cluster.stop();
      // Containers outlive their agent (a restarted agent finds them again): the test's cluster takes its
      // own along, found by their agents' work dirs (no Docker engine: nothing to remove).
      const agentDirs = (await readdir(workDir)).filter((name) => name.startsWith('agent-'));
      await removeContainers(agentDirs.map((name) => join(workDir, name))).catch(() => undefined);
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value other than undefined. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  what = 'a condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
