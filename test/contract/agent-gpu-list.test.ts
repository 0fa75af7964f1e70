/**
 * An agent's GPUs by index and model on the operator API (Mantle's `gpus` extension of GET_AGENTS; master
 * on DynamoDB Local and the SQS stand-in): a real agent runs a fixture nvidia-smi (a p4d.24xlarge with MIG
 * on GPUs 0 and 5, and a g5.12xlarge), registers, and GET_AGENTS, GET_STATE, /master/slaves and the
 * protobuf answer list its GPUs; after a restart on other GPUs the list is the new one, and without GPUs
 * there is none. A malformed list is refused (400) and writes nothing.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import { decodeMessage, encodeMessage } from '#shared/protocol/protobuf.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { legacyGet, operatorGet } from '../support/operator.js';
import { removeWorkDir, startTestAgent, tempWorkDir } from '../support/agent.js';

interface AgentEntry {
  readonly agent_info: { readonly id: { readonly value: string } };
  readonly gpus?: ReadonlyArray<Record<string, unknown>>;
}

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'nvidia-smi');
let tm: TestMaster;
let bin: string;
let workDir: string;

/** An executable nvidia-smi that prints the fixture `name` (and its `-L` listing where one exists). */
async function fakeNvidiaSmi(name: string): Promise<string> {
  const path = join(bin, `nvidia-smi-${name}`);
  const list = join(FIXTURES, `${name}-list.txt`);
  await writeFile(
    path,
    `#!/bin/sh\nif [ "$1" = "-L" ]; then cat '${list}'; else cat '${join(FIXTURES, `${name}.csv`)}'; fi\n`,
  );
  await chmod(path, 0o755);
  return path;
}

function startAgent(nvidiaSmi: string, extra: { nvidiaGpuDevices?: number[] } = {}): Promise<RunningAgent> {
  return startTestAgent(tm, {
    sqsEndpoint: inject('sqsEndpoint'),
    containerizers: ['mesos'],
    workDir,
    nvidiaSmi,
    resources: 'cpus:2;mem:2048;disk:1024',
    ...extra,
  });
}

async function listed(agentId: string): Promise<AgentEntry | undefined> {
  const answer = await operatorGet<{ get_agents: { agents: AgentEntry[] } }>(tm.url, { type: 'GET_AGENTS' });
  return answer.get_agents.agents.find((agent) => agent.agent_info.id.value === agentId);
}

async function agentCount(): Promise<number> {
  let count = 0;
  for await (const _ of tm.master.registrar.agents.list()) count += 1;
  return count;
}

beforeAll(async () => {
  tm = await startTestMaster();
  bin = await mkdtemp(join(tmpdir(), 'mantle-nvidia-smi-'));
  workDir = await tempWorkDir();
}, 60_000);

afterAll(async () => {
  await tm?.close();
  if (bin) await rm(bin, { recursive: true, force: true });
  if (workDir) await removeWorkDir(workDir);
});

describe("an agent's GPUs on the operator API", () => {
  it('lists them by index, model and memory after registration, MIG devices with their GPU and profile', async () => {
    const agent = await startAgent(await fakeNvidiaSmi('p4d.24xlarge-8x-a100-mig-on-0-5'));
    try {
      const agentId = await agent.registered;
      const entry = await listed(agentId);
      const gpus = entry?.gpus ?? [];
      // GPU 0 is three MIG devices, GPU 5 two: 6 whole GPUs and 5 MIG devices, as many as `gpus` offers.
      expect(gpus).toHaveLength(11);
      expect(gpus.filter((gpu) => gpu.mig_profile !== undefined)).toHaveLength(5);
      expect(gpus).toContainEqual({
        index: 1,
        uuid: 'GPU-f5cae3bf-3729-c619-c60a-3cab359eeefb',
        model: 'NVIDIA A100-SXM4-40GB',
        memory_mib: 40960,
      });
      expect(gpus).toContainEqual(
        expect.objectContaining({
          index: 0,
          uuid: 'MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f',
          mig_parent_uuid: 'GPU-015c33b2-df14-61aa-f8eb-18b900745130',
          mig_profile: '3g.20gb',
        }),
      );
      const state = await operatorGet<{ get_state: { get_agents: { agents: AgentEntry[] } } }>(tm.url, {
        type: 'GET_STATE',
      });
      expect(state.get_state.get_agents.agents.find((a) => a.agent_info.id.value === agentId)?.gpus).toEqual(gpus);
      const slaves = (await legacyGet(tm.url, '/master/slaves')).json as { slaves: Array<{ id: string; gpus?: [] }> };
      expect(slaves.slaves.find((slave) => slave.id === agentId)?.gpus).toEqual(gpus);

      // The protobuf answer carries them in Mantle's field 1000 (mantle.v1.AgentGpu).
      const answer = { type: 'GET_AGENTS', get_agents: { agents: [entry] } };
      const decoded = decodeMessage('mesos.v1.master.Response', encodeMessage('mesos.v1.master.Response', answer));
      expect(
        decoded.ok && (decoded.value as { get_agents: { agents: AgentEntry[] } }).get_agents.agents[0]?.gpus,
      ).toEqual(gpus);
    } finally {
      await agent.stop({ waitForPoll: false });
    }
  }, 60_000);

  it('lists the GPUs the agent restarted with, and none once it has none', async () => {
    const g5 = await fakeNvidiaSmi('g5.12xlarge-4x-a10g');
    let agent = await startAgent(g5, { nvidiaGpuDevices: [2, 3] });
    try {
      const agentId = await agent.registered;
      expect((await listed(agentId))?.gpus).toEqual([
        { index: 2, uuid: 'GPU-c6a53877-7733-0bdb-d721-0dff076ce2ef', model: 'NVIDIA A10G', memory_mib: 23028 },
        { index: 3, uuid: 'GPU-0d464138-a623-3255-3fc1-ea36f17fd374', model: 'NVIDIA A10G', memory_mib: 23028 },
      ]);
      await agent.stop({ waitForPoll: false });
      agent = await startAgent('none');
      expect(await agent.registered).toBe(agentId);
      const entry = await listed(agentId);
      expect(entry).toBeDefined();
      expect(entry).not.toHaveProperty('gpus');
    } finally {
      await agent.stop({ waitForPoll: false });
    }
  }, 60_000);

  it('refuses a registration whose GPU list is malformed (400), and admits no agent', async () => {
    const gpu = { index: 0, uuid: 'GPU-1', model: 'NVIDIA A10G', memory_mib: 23028 };
    const register = (gpus: unknown) =>
      fetch(`${tm.url}/internal/v1/agents/register`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          hostname: 'malformed.local',
          resources: [{ name: 'gpus', type: 'SCALAR', scalar: { value: 1 } }],
          containerizers: ['mesos'],
          isolation: { cgroups: 'none', gpus: 'none', notes: [] },
          version: 'test',
          gpus,
        }),
      });
    const before = await agentCount();
    for (const gpus of [
      [{ ...gpu, index: -1 }],
      [{ ...gpu, uuid: '' }],
      [{ ...gpu, model: 'x'.repeat(129) }],
      [{ index: 0, uuid: 'GPU-1' }],
      Array.from({ length: 129 }, (_, index) => ({ ...gpu, index })),
      'GPU-1',
    ]) {
      const response = await register(gpus);
      expect(response.status).toBe(400);
      expect(await response.text()).toMatch(/^Invalid registration: .*gpus/);
    }
    expect(await agentCount()).toBe(before);
  });
});
