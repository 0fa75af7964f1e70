import { describe, expect, it } from 'vitest';
import { parseResourceText } from '#shared/resources/parse.js';
import { allocate, contains, add, flatten, quantities } from '#shared/resources/resources.js';
import type { Resource } from '#shared/protocol/mesos.js';
import { place, queueOrder, type Offer, type PendingJob } from '../../frameworks/jobs/placement.js';

function resources(text: string): Resource[] {
  const parsed = parseResourceText(text);
  if (!parsed.ok) throw new Error(parsed.error.message);
  return parsed.value;
}

let clock = 0;
function job(id: string, text: string, extra: Partial<PendingJob> = {}): PendingJob {
  clock += 1;
  return {
    id,
    queue: 'default',
    priority: 0,
    created_at: new Date(Date.UTC(2026, 11, 5) + clock * 1000).toISOString(),
    resources: resources(text),
    gang: null,
    ...extra,
  };
}

function offer(id: string, text: string, role = 'default'): Offer {
  return { id, agentId: `agent-${id}`, hostname: `host-${id}`, role, resources: allocate(resources(text), role) };
}

const placed = (result: ReturnType<typeof place>): string[] =>
  result.launches.map(
    (launch) => `${launch.jobId}${launch.gangIndex === null ? '' : `.${launch.gangIndex}`}@${launch.offerId}`,
  );

describe('placement within a queue', () => {
  it('strict priority, then FIFO, then id', () => {
    const low = job('low', 'cpus:1;mem:128', { priority: -1 });
    const first = job('first', 'cpus:1;mem:128');
    const second = job('second', 'cpus:1;mem:128');
    const high = job('high', 'cpus:1;mem:128', { priority: 5 });
    expect([low, second, high, first].sort(queueOrder).map((each) => each.id)).toEqual([
      'high',
      'first',
      'second',
      'low',
    ]);
    const result = place({ jobs: [low, second, high, first], offers: [offer('o1', 'cpus:2;mem:1024')] });
    expect(placed(result)).toEqual(['high@o1', 'first@o1']);
    expect(result.pending.get('second')).toEqual({
      code: 'RESOURCES',
      message: 'no agent with the resources: cpus:1;mem:128',
    });
    expect(result.pending.get('low')).toEqual({
      code: 'PRIORITY',
      message: 'behind 1 job of higher priority in queue default',
    });
  });

  it('no backfill: a small job waits behind a big one that does not fit', () => {
    const big = job('big', 'cpus:8;mem:128', { priority: 1 });
    const small = job('small', 'cpus:1;mem:128');
    const result = place({ jobs: [small, big], offers: [offer('o1', 'cpus:4;mem:1024')] });
    expect(result.launches).toEqual([]);
    expect(result.pending.get('big')?.code).toBe('RESOURCES');
    expect(result.pending.get('small')).toEqual({
      code: 'PRIORITY',
      message: 'behind 1 job of higher priority in queue default',
    });
    expect(result.remaining.get('o1')).toEqual(offer('o1', 'cpus:4;mem:1024').resources);
  });

  it('counts jobs ahead by priority and by submission', () => {
    const jobs = [
      job('h1', 'cpus:9', { priority: 2 }),
      job('h2', 'cpus:1', { priority: 2 }),
      job('e1', 'cpus:1', { priority: 1 }),
      job('me', 'cpus:1', { priority: 1 }),
    ];
    const result = place({ jobs, offers: [] });
    expect(result.pending.get('me')?.message).toBe(
      'behind 2 jobs of higher priority and 1 job submitted earlier in queue default',
    );
  });

  it('subtracts what it places; launches carry resources taken from the offer', () => {
    const jobs = [job('a', 'cpus:1.5;mem:100'), job('b', 'cpus:1.5;mem:100'), job('c', 'cpus:1.5;mem:100')];
    const o1 = offer('o1', 'cpus:2;mem:300');
    const o2 = offer('o2', 'cpus:2;mem:300');
    const result = place({ jobs, offers: [o1, o2] });
    expect(placed(result)).toEqual(['a@o1', 'b@o2']);
    const launch = result.launches[0];
    expect(launch).toMatchObject({ agentId: 'agent-o1', hostname: 'host-o1' });
    expect(launch?.resources).toEqual(allocate(resources('cpus:1.5;mem:100'), 'default'));
    expect(quantities(flatten(result.remaining.get('o1') ?? []))).toEqual({ cpus: 0.5, mem: 200 });
  });

  it('keeps the reservation and allocation of what it takes', () => {
    const reserved = {
      id: 'r',
      agentId: 'ar',
      hostname: 'hr',
      role: 'ml',
      resources: allocate(resources('cpus(ml):2;mem:256'), 'ml'),
    };
    const result = place({ jobs: [job('a', 'cpus:2;mem:128', { queue: 'ml' })], offers: [reserved] });
    expect(result.launches[0]?.resources).toEqual(allocate(resources('cpus(ml):2;mem:128'), 'ml'));
  });
});

describe('queues, GPUs and quota', () => {
  it('a job uses only the offers made to its queue role', () => {
    const result = place({
      jobs: [job('a', 'cpus:1', { queue: 'ml' }), job('b', 'cpus:1', { queue: 'etl' })],
      offers: [offer('o-etl', 'cpus:4;mem:1024', 'etl')],
    });
    expect(placed(result)).toEqual(['b@o-etl']);
    expect(result.pending.get('a')).toEqual({ code: 'NO_OFFERS', message: 'no offers to queue ml' });
  });

  it('GPU jobs go where the GPUs are; others try agents without GPUs first', () => {
    const gpu = offer('gpu', 'cpus:8;mem:4096;gpus:2');
    const cpu = offer('cpu', 'cpus:8;mem:4096');
    const result = place({
      jobs: [job('train', 'cpus:1;mem:128;gpus:1'), job('etl', 'cpus:1;mem:128')],
      offers: [gpu, cpu],
    });
    expect(placed(result)).toEqual(['train@gpu', 'etl@cpu']);
    // With only GPU agents offered, a job without GPUs may use them (the allocator decides whether they are offered).
    expect(placed(place({ jobs: [job('etl2', 'cpus:1;mem:128')], offers: [gpu] }))).toEqual(['etl2@gpu']);
    const noGpu = place({ jobs: [job('t2', 'cpus:1;mem:128;gpus:3')], offers: [gpu, cpu] });
    expect(noGpu.pending.get('t2')).toEqual({
      code: 'RESOURCES',
      message: 'no agent with the resources: cpus:1;mem:128;gpus:3',
    });
  });

  it('never passes a queue quota limit, counting what runs and what it places', () => {
    const quotas = new Map([['default', { limits: { gpus: 3 }, used: { gpus: 1 } }]]);
    const jobs = [
      job('a', 'cpus:1;mem:128;gpus:1'),
      job('b', 'cpus:1;mem:128;gpus:1'),
      job('c', 'cpus:1;mem:128;gpus:1'),
    ];
    const result = place({ jobs, offers: [offer('o', 'cpus:8;mem:4096;gpus:8')], quotas });
    expect(placed(result)).toEqual(['a@o', 'b@o']);
    expect(result.pending.get('c')).toEqual({
      code: 'QUOTA',
      message: "the queue's quota: queue default is at its gpus limit 3 (1 in use)",
    });
  });

  it('says the quota, not the resources, when a quota on cpus leaves the queue offered only mem and disk', () => {
    // The allocator offers a queue at its cpus limit what the limit does not cover; the job fits nothing offered.
    const quotas = new Map([['default', { limits: { cpus: 0.5 }, used: { cpus: 0.5, mem: 32 } }]]);
    const head = job('head', 'cpus:0.5;mem:32');
    const next = job('next', 'cpus:0.5;mem:32');
    const result = place({ jobs: [head, next], offers: [offer('o', 'mem:4096;disk:1024')], quotas });
    expect(result.launches).toEqual([]);
    expect(result.pending.get('head')).toEqual({
      code: 'QUOTA',
      message: "the queue's quota: queue default is at its cpus limit 0.5 (0.5 in use)",
    });
    expect(result.pending.get('next')).toEqual({
      code: 'PRIORITY',
      message: 'behind 1 job submitted earlier in queue default',
    });
    const unlimited = place({ jobs: [head], offers: [offer('o', 'mem:4096;disk:1024')] });
    expect(unlimited.pending.get('head')?.code).toBe('RESOURCES');
  });
});

describe('gangs', () => {
  it('all members together, across agents, several on one agent', () => {
    const gang = job('g', 'cpus:2;mem:128', { gang: 3 });
    const result = place({ jobs: [gang], offers: [offer('o1', 'cpus:4;mem:1024'), offer('o2', 'cpus:3;mem:1024')] });
    expect(placed(result)).toEqual(['g.0@o1', 'g.1@o1', 'g.2@o2']);
  });

  it('none when N slots cannot be had together, and the queue waits behind it', () => {
    const gang = job('g', 'cpus:2;mem:128', { gang: 4, priority: 1 });
    const other = job('x', 'cpus:1;mem:128');
    const o1 = offer('o1', 'cpus:4;mem:1024');
    const o2 = offer('o2', 'cpus:3;mem:1024');
    const result = place({ jobs: [gang, other], offers: [o1, o2] });
    expect(result.launches).toEqual([]);
    expect(result.pending.get('g')).toEqual({
      code: 'GANG',
      message: 'gang of 4: only 3 slots free (cpus:2;mem:128 each)',
    });
    expect(result.pending.get('x')?.code).toBe('PRIORITY');
    expect(result.remaining.get('o1')).toEqual(o1.resources);
    expect(result.remaining.get('o2')).toEqual(o2.resources);
  });

  it('a gang that would pass the quota is not placed at all', () => {
    const quotas = new Map([['default', { limits: { cpus: 5 }, used: {} }]]);
    const result = place({ jobs: [job('g', 'cpus:2', { gang: 3 })], offers: [offer('o', 'cpus:16;mem:1024')], quotas });
    expect(result.launches).toEqual([]);
    expect(result.pending.get('g')?.code).toBe('QUOTA');
  });
});

describe('placement accounting', () => {
  it('what the launches take and what remains add up to each offer', () => {
    const offers = [offer('o1', 'cpus:3;mem:1000;gpus:1'), offer('o2', 'cpus:2.5;mem:700')];
    const jobs = [
      job('a', 'cpus:0.7;mem:100'),
      job('b', 'cpus:1;mem:100;gpus:1'),
      job('g', 'cpus:0.9;mem:300', { gang: 3 }),
    ];
    const result = place({ jobs, offers });
    expect(result.launches).toHaveLength(5);
    for (const each of offers) {
      const taken = result.launches
        .filter((launch) => launch.offerId === each.id)
        .flatMap((launch) => launch.resources);
      const total = add(taken, result.remaining.get(each.id) ?? []);
      expect(contains(total, each.resources) && contains(each.resources, total)).toBe(true);
    }
  });
});
