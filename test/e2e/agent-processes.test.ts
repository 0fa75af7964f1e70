/**
 * A local cluster's agents in child processes (`agentProcesses`): they register and run tasks as in-process
 * agents do, their output reaches the framework, the cluster's stop takes the children down, an agent that
 * cannot start fails the cluster's start with its reason, and a host whose cluster vanished stops its agents.
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentConfig } from '../../agent/config.js';
import { runBatch } from '../support/batch-framework.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  return !alive(pid);
}

describe('agents in child processes', () => {
  let cluster: TestCluster;
  let stopped = false;

  beforeAll(async () => {
    cluster = await startTestCluster({
      agents: 3,
      agentProcesses: 2,
      containerizer: 'mesos',
      agentResources: 'cpus:1;mem:256;disk:64',
      agent: { switchUser: false },
    });
  }, 120_000);

  afterAll(async () => {
    if (!stopped) await cluster?.stop();
  });

  it('registers every agent from two children, none in the cluster process', async () => {
    expect(cluster.agents).toEqual([]);
    expect(cluster.agentHosts).toHaveLength(2);
    expect(cluster.agentHosts.map((host) => host.agentIds.length)).toEqual([2, 1]);
    const pids = cluster.agentHosts.map((host) => host.pid);
    expect(new Set([...pids, process.pid]).size).toBe(3);
    const response = await fetch(`${cluster.url}/master/slaves`);
    const { slaves } = (await response.json()) as { slaves: Array<{ id: string }> };
    expect(slaves.map((agent) => agent.id).sort()).toEqual(cluster.agentHosts.flatMap((host) => host.agentIds).sort());
  });

  it('runs tasks on them to TASK_FINISHED, with their output in the terminal update', async () => {
    const tasks = Array.from({ length: 6 }, (_, i) => ({
      taskId: `child-${i}`,
      command: `echo out-${i}`,
      resources: 'cpus:0.1;mem:16',
    }));
    const run = await runBatch({ master: cluster.url, tasks, framework: { name: 'agent-processes' } });
    try {
      await run.done;
    } finally {
      await run.stop();
    }
    for (const [i, timeline] of [...run.timelines.values()].entries()) {
      expect(timeline.ended?.state).toBe('TASK_FINISHED');
      expect(Buffer.from(timeline.ended?.data ?? '', 'base64').toString()).toContain(`out-${i}`);
    }
    const usage = await cluster.agentHosts[0]?.cpuUsage();
    expect((usage?.user ?? 0) + (usage?.system ?? 0)).toBeGreaterThan(0);
  }, 120_000);

  it('stops the children with the cluster', async () => {
    const pids = cluster.agentHosts.map((host) => host.pid);
    stopped = true;
    await cluster.stop();
    for (const pid of pids) expect(await gone(pid)).toBe(true);
  }, 60_000);
});

describe('an agent host that cannot start its agents', () => {
  it("fails the cluster's start with the agent's reason", async () => {
    const start = startTestCluster({
      agents: 1,
      agentProcesses: 1,
      containerizer: 'mesos',
      // An address of the documentation range: the agent's endpoint cannot listen on it.
      agent: { switchUser: false, ip: '192.0.2.1', port: 0 },
    });
    await expect(start).rejects.toThrow(/agent host: .*(EADDRNOTAVAIL|address)/i);
  }, 120_000);
});

describe('an agent host whose cluster is gone', () => {
  let workDir: string;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'mantle-agent-host-'));
  });

  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  it('stops its agents and exits when its IPC channel closes', async () => {
    const host = fork(join(import.meta.dirname, '..', '..', 'local', 'agent-host.ts'), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    });
    await new Promise((resolve) => host.once('spawn', resolve));
    // No master answers: the agent keeps retrying its registration until it is stopped.
    host.send({
      type: 'start',
      persist: false,
      configs: [
        agentConfig({ master: 'http://127.0.0.1:9', workDir: join(workDir, 'agent'), port: -1, ec2Metadata: 'off' }),
      ],
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(alive(host.pid as number)).toBe(true);
    host.disconnect();
    expect(await gone(host.pid as number)).toBe(true);
  }, 60_000);
});
