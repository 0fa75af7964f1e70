/**
 * The fleet's demand by resource shape (functions/fleet/demand.ts, packing.ts): requests grouped into
 * shapes with counts, packed onto free agents (by shape, not by sums) and then onto new agents of the
 * fleet's shape; the GPU filter; the scale-in signal; the settings from the environment.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_AGENT_SHAPE,
  DEFAULT_DEMAND_SETTINGS,
  demandSettingsFromEnvironment,
  demandShapes,
  fleetGauges,
  parseAgentShape,
  scaleOutAdjustment,
  type DemandSettings,
} from '../../functions/fleet/demand.js';
import { fitsIn, packDemand, type FreeAgent } from '../../functions/fleet/packing.js';
import type { AgentRecord, FrameworkRecord } from '../../functions/registrar/index.js';
import type { Request } from '#shared/protocol/mesos.js';
import { readFilterGpuResources } from '../../local/main.js';
import { resources } from '../support/resources.js';

const NOW = 50_000_000;
let serial = 0;

function agent(total: string, tasks: string[] = [], rest: Partial<AgentRecord> = {}): AgentRecord {
  serial++;
  return {
    agentId: `a${serial}`,
    hostname: `h${serial}`,
    ip: '127.0.0.1',
    port: 5051,
    commandQueueUrl: 'q',
    containerizers: ['mesos'],
    principal: '',
    attributes: [],
    capabilities: [],
    total: resources(total),
    offers: {},
    tasks: Object.fromEntries(
      tasks.map((text, i) => [
        `f/t${serial}-${i}`,
        { frameworkId: 'f', taskId: `t${i}`, role: '*', resources: resources(text), launchId: 'l', launchedAt: 0 },
      ]),
    ),
    executors: {},
    version: 1,
    status: 'ACTIVE',
    deactivated: false,
    registeredAt: 0,
    lastHeartbeat: 0,
    ...rest,
  };
}

function request(text: string, count?: number, agentId?: string): Request {
  return {
    resources: resources(text),
    ...(count !== undefined ? { count } : {}),
    ...(agentId ? { agent_id: { value: agentId } } : {}),
  };
}

function framework(
  requests: Request[],
  options: { at?: number; gpu?: boolean; status?: FrameworkRecord['status'] } = {},
): FrameworkRecord {
  return {
    frameworkId: `f-${++serial}`,
    info: { user: 'u', name: 'n', ...(options.gpu ? { capabilities: [{ type: 'GPU_RESOURCES' }] } : {}) },
    principal: '',
    roles: ['*'],
    suppressedRoles: [],
    status: options.status ?? 'SUBSCRIBED',
    eventQueueUrl: 'q',
    delivery: 'stream',
    requests: { requests, at: options.at ?? NOW },
    version: 1,
    registeredAt: 0,
  } as FrameworkRecord;
}

const SHAPE: DemandSettings = { ...DEFAULT_DEMAND_SETTINGS, agentShape: { cpus: 4, mem: 16_000, gpus: 1 } };

describe('demand shapes', () => {
  it('groups requests by shape, counting `count` (1 when absent), and keeps frameworks apart by GPU eligibility', () => {
    const shapes = demandShapes(
      [
        framework([request('cpus:1;mem:512;gpus:1', 3), request('gpus:1;mem:512;cpus:1'), request('cpus:2;mem:64')], {
          gpu: true,
        }),
        framework([request('cpus:1;mem:512;gpus:1', 2)], { gpu: true }),
        framework([request('cpus:2;mem:64', 4)]),
      ],
      NOW,
    );
    expect(shapes).toEqual(
      expect.arrayContaining([
        { need: { cpus: 1, mem: 512, gpus: 1 }, count: 6, gpuAgents: true },
        { need: { cpus: 2, mem: 64 }, count: 1, gpuAgents: true },
        { need: { cpus: 2, mem: 64 }, count: 4, gpuAgents: false },
      ]),
    );
    expect(shapes).toHaveLength(3);
  });

  it('ignores stale requests, inactive frameworks, requests pinned to an agent and empty ones', () => {
    const shapes = demandShapes(
      [
        framework([request('gpus:1', 5)], { at: NOW - 16 * 60_000 }),
        framework([request('gpus:1', 5)], { status: 'INACTIVE' }),
        framework([request('gpus:1', 5, 'agent-1'), request('ports:[1-2]'), { resources: [] }]),
        framework([request('gpus:1', 2)], { at: NOW - 14 * 60_000, status: 'DISCONNECTED' }),
      ],
      NOW,
    );
    expect(shapes).toEqual([{ need: { gpus: 1 }, count: 2, gpuAgents: false }]);
  });

  it('lets every framework onto GPU agents when the GPU filter is off', () => {
    const shapes = demandShapes([framework([request('cpus:1')])], NOW, {
      ...DEFAULT_DEMAND_SETTINGS,
      filterGpuResources: false,
    });
    expect(shapes).toEqual([{ need: { cpus: 1 }, count: 1, gpuAgents: true }]);
  });
});

describe('packing by shape', () => {
  const gpuAgent = (free: string, idle = false): FreeAgent => ({
    free: parseAgentShape(free),
    hasGpus: free.includes('gpus'),
    idle,
  });

  it('counts tasks per shape that fit, in thousandths', () => {
    expect(fitsIn({ cpus: 0.3, mem: 100 }, { cpus: 0.1 })).toBe(3);
    expect(fitsIn({ cpus: 4, mem: 100 }, { cpus: 1, mem: 30 })).toBe(3);
    expect(fitsIn({ cpus: 4 }, { cpus: 1, gpus: 1 })).toBe(0);
    expect(fitsIn({ cpus: 4 }, {})).toBe(0);
  });

  it('packs by shape where sums would mislead: two agents with one free GPU each do not hold a 2-GPU task', () => {
    const agents = [gpuAgent('cpus:4;mem:8000;gpus:1'), gpuAgent('cpus:4;mem:8000;gpus:1')];
    const shape = { cpus: 8, mem: 32_000, gpus: 2 };
    const packing = packDemand([{ need: { cpus: 1, mem: 100, gpus: 2 }, count: 1, gpuAgents: true }], agents, shape);
    expect(packing).toMatchObject({ placed: 0, waiting: 1, waitingGpus: 2, agentsNeeded: 1, unplaceable: 0 });
    // A task bigger than a new agent is never a reason to scale out.
    const tooBig = packDemand([{ need: { gpus: 2 }, count: 3, gpuAgents: true }], agents, { cpus: 4, gpus: 1 });
    expect(tooBig).toMatchObject({ waiting: 0, agentsNeeded: 0, unplaceable: 3 });
  });

  it('fills new agents largest shape first, then puts small tasks in what is left', () => {
    const packing = packDemand(
      [
        { need: { cpus: 1, mem: 1000 }, count: 6, gpuAgents: true },
        { need: { cpus: 3, mem: 4000, gpus: 1 }, count: 3, gpuAgents: true },
      ],
      [],
      { cpus: 4, mem: 16_000, gpus: 1 },
    );
    // 3 GPU agents each hold one 3-cpu task and one 1-cpu task; the other 3 small tasks fill one more agent.
    expect(packing).toMatchObject({ placed: 0, waiting: 9, waitingGpus: 3, agentsNeeded: 4, unplaceable: 0 });
  });

  it('uses busy agents before idle ones, so the idle ones stay free for scale-in', () => {
    const agents = [gpuAgent('cpus:4;mem:8000;gpus:1', true), gpuAgent('cpus:2;mem:8000;gpus:1', false)];
    const packing = packDemand([{ need: { cpus: 1, gpus: 1 }, count: 1, gpuAgents: true }], agents, SHAPE.agentShape);
    expect(packing).toMatchObject({ placed: 1, waiting: 0, agentsNeeded: 0, idleUnused: 1 });
    const both = packDemand([{ need: { cpus: 1, gpus: 1 }, count: 2, gpuAgents: true }], agents, SHAPE.agentShape);
    expect(both).toMatchObject({ placed: 2, idleUnused: 0 });
  });

  it('keeps tasks the GPU filter bars off agents with GPUs, and off a GPU fleet', () => {
    const agents = [gpuAgent('cpus:8;mem:8000;gpus:1'), gpuAgent('cpus:1;mem:8000')];
    const packing = packDemand([{ need: { cpus: 1 }, count: 3, gpuAgents: false }], agents, SHAPE.agentShape);
    expect(packing).toMatchObject({ placed: 1, waiting: 0, agentsNeeded: 0, unplaceable: 2 });
    const allowed = packDemand([{ need: { cpus: 1 }, count: 3, gpuAgents: true }], agents, SHAPE.agentShape);
    expect(allowed).toMatchObject({ placed: 3, unplaceable: 0 });
  });

  it('handles thousands of tasks in a few groups', () => {
    const packing = packDemand(
      [{ need: { cpus: 1, mem: 128, gpus: 1 }, count: 10_000, gpuAgents: true }],
      [],
      SHAPE.agentShape,
    );
    expect(packing).toMatchObject({ waiting: 10_000, waitingGpus: 10_000, agentsNeeded: 10_000 });
  });
});

describe('the fleet gauges', () => {
  it('needs agents from zero for a GPU request, and none once an agent of the shape is free', () => {
    const jobs = framework([request('cpus:1;mem:512;gpus:1', 2)], { gpu: true });
    expect(fleetGauges([], [jobs], NOW, SHAPE)).toMatchObject({
      activeAgents: 0,
      requestedTasks: 2,
      requestedGpus: 2,
      pendingTasks: 2,
      pendingGpus: 2,
      agentsNeeded: 2,
      unplaceableTasks: 0,
      scaleInCandidates: 0,
    });
    const one = agent('cpus:4;mem:16000;gpus:1');
    expect(fleetGauges([one], [jobs], NOW, SHAPE)).toMatchObject({ freeGpus: 1, pendingTasks: 1, agentsNeeded: 1 });
    const running = agent('cpus:4;mem:16000;gpus:1', ['cpus:1;mem:512;gpus:1']);
    // Its task holds the GPU: the request (not re-sent yet) still needs one more agent.
    expect(fleetGauges([running, one], [jobs], NOW, SHAPE)).toMatchObject({ freeGpus: 1, agentsNeeded: 1 });
  });

  it('offers idle agents for scale-in only while nothing is pending, and only those the demand leaves free', () => {
    const idle = [agent('cpus:4;mem:16000;gpus:1'), agent('cpus:4;mem:16000;gpus:1')];
    const busy = agent('cpus:4;mem:16000;gpus:1', ['cpus:1;mem:64;gpus:1']);
    expect(fleetGauges([...idle, busy], [], NOW, SHAPE)).toMatchObject({ idleAgents: 2, scaleInCandidates: 2 });
    const one = framework([request('cpus:1;gpus:1')], { gpu: true });
    expect(fleetGauges([...idle, busy], [one], NOW, SHAPE)).toMatchObject({ agentsNeeded: 0, scaleInCandidates: 1 });
    const four = framework([request('cpus:1;gpus:1', 4)], { gpu: true });
    expect(fleetGauges([...idle, busy], [four], NOW, SHAPE)).toMatchObject({ agentsNeeded: 2, scaleInCandidates: 0 });
  });

  it('counts agents by state and tasks and offers on agents that are not gone', () => {
    const gauges = fleetGauges(
      [
        agent('cpus:4;mem:16000;gpus:1', ['cpus:1;mem:64;gpus:1']),
        agent('cpus:4;mem:16000;gpus:1', [], { deactivated: true }),
        agent('cpus:4;mem:16000;gpus:1', ['cpus:1;mem:64'], { status: 'UNREACHABLE' }),
        agent('cpus:4;mem:16000;gpus:1', ['cpus:1;mem:64'], { status: 'GONE' }),
      ],
      [],
      NOW,
    );
    expect(gauges).toEqual({
      activeAgents: 1,
      drainingAgents: 1,
      unreachableAgents: 1,
      idleAgents: 0,
      requestedTasks: 0,
      requestedGpus: 0,
      freeGpus: 0,
      pendingTasks: 0,
      pendingGpus: 0,
      agentsNeeded: 0,
      unplaceableTasks: 0,
      scaleInCandidates: 0,
      outstandingOffers: 0,
      activeTasks: 2,
    });
  });
});

describe('the scale-out steps', () => {
  it('add the agents needed exactly up to 4, then rounded down to 6, 8, 12 and 16', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 500].map(scaleOutAdjustment)).toEqual([
      0, 1, 2, 3, 4, 4, 6, 6, 8, 8, 12, 12, 16, 16,
    ]);
  });
});

describe('demand settings', () => {
  it('reads the fleet shape, the GPU filter and the request lifetime from the environment', () => {
    expect(demandSettingsFromEnvironment({})).toEqual(DEFAULT_DEMAND_SETTINGS);
    expect(DEFAULT_DEMAND_SETTINGS.agentShape).toEqual(DEFAULT_AGENT_SHAPE);
    expect(
      demandSettingsFromEnvironment({
        MANTLE_FLEET_AGENT_RESOURCES: 'cpus:48;mem:190000;gpus:4;ports:[31000-32000]',
        MANTLE_FILTER_GPU_RESOURCES: 'false',
        MANTLE_REQUEST_TTL_SECONDS: '300',
      }),
    ).toEqual({ agentShape: { cpus: 48, mem: 190_000, gpus: 4 }, filterGpuResources: false, requestTtlSeconds: 300 });
  });

  it("takes the local cluster's --filter_gpu_resources, else MANTLE_FILTER_GPU_RESOURCES, else Mesos's default", () => {
    expect(readFilterGpuResources(undefined, {})).toBe(true);
    expect(readFilterGpuResources('false', { MANTLE_FILTER_GPU_RESOURCES: 'true' })).toBe(false);
    expect(readFilterGpuResources(undefined, { MANTLE_FILTER_GPU_RESOURCES: 'false' })).toBe(false);
    expect(() => readFilterGpuResources('no', {})).toThrow("--filter_gpu_resources must be true or false, not 'no'");
  });

  it('refuses a shape that is not resource text or offers nothing, and a bad lifetime', () => {
    expect(() => demandSettingsFromEnvironment({ MANTLE_FLEET_AGENT_RESOURCES: 'cpus' })).toThrow(
      /Invalid agent shape/,
    );
    expect(() => parseAgentShape('ports:[1-10]')).toThrow(/offers nothing/);
    expect(() => demandSettingsFromEnvironment({ MANTLE_REQUEST_TTL_SECONDS: '-1' })).toThrow(/positive/);
  });
});
