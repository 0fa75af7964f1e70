import type { Context, SQSEvent } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { Allocator } from '../../functions/allocator/allocator.js';
import {
  allocatorConfig,
  allocatorConfigFromEnvironment,
  parseMinAllocatable,
} from '../../functions/allocator/config.js';
import { validateOfferConstraints } from '../../functions/allocator/constraints.js';
import { MAX_REFUSE_SECONDS, refusalFilter } from '../../functions/allocator/filters.js';
import { mesosOffer, recipientOf } from '../../functions/allocator/offers.js';
import { allocationHandler } from '../../functions/handlers/allocation.js';
import {
  AllocationTriggers,
  changesNoAgent,
  coalesce,
  MAX_DELAY_SECONDS,
  MAX_TRIGGER_AGENTS,
  startPeriodicTriggers,
  triggerMessage,
  TriggerMessageSchema,
  type AllocationTrigger,
} from '../../functions/allocation/triggers.js';
import type { Registrar } from '../../functions/registrar/index.js';
import type { OfferRecord } from '../../functions/registrar/index.js';
import type { Queues } from '#shared/queues/queues.js';
import { allocate } from '#shared/resources/resources.js';
import { resources } from '../support/allocator.js';

describe('configuration', () => {
  it('parses --min_allocatable_resources as Mesos does', () => {
    expect(parseMinAllocatable('cpus:0.01|mem:32')).toEqual({ ok: true, value: [{ cpus: 0.01 }, { mem: 32 }] });
    expect(parseMinAllocatable('cpus:1;mem:64|gpus:1')).toEqual({
      ok: true,
      value: [{ cpus: 1, mem: 64 }, { gpus: 1 }],
    });
    expect(parseMinAllocatable('cpus').ok).toBe(false);
    expect(parseMinAllocatable('cpus:1|').ok).toBe(false);
    expect(parseMinAllocatable('cpus:1;cpus:2').ok).toBe(false);
  });

  it('has Mesos defaults, and a default offer timeout', () => {
    const config = allocatorConfig();
    expect(config).toMatchObject({ policy: 'drf', offerTimeoutSeconds: 120, filterGpuResources: true });
    expect(config.minAllocatableResources).toEqual([{ cpus: 0.01 }, { mem: 32 }]);
    expect(() => allocatorConfig({ levels: [['a']] })).toThrow(/multilevel/);
    expect(() => allocatorConfig({ minAllocatableResources: 'x' })).toThrow();
  });

  it('reads the environment', () => {
    const config = allocatorConfigFromEnvironment({
      MANTLE_ALLOCATOR_POLICY: 'multilevel',
      MANTLE_ALLOCATOR_LEVELS: 'prod, web; batch',
      MANTLE_OFFER_TIMEOUT_SECONDS: '30',
      MANTLE_FILTER_GPU_RESOURCES: 'false',
      MANTLE_FAIR_SHARING_EXCLUDED_RESOURCE_NAMES: 'gpus',
    });
    expect(config).toMatchObject({
      policy: 'multilevel',
      levels: [['prod', 'web'], ['batch']],
      offerTimeoutSeconds: 30,
      filterGpuResources: false,
      fairSharingExcludedResourceNames: ['gpus'],
    });
    expect(() => allocatorConfigFromEnvironment({ MANTLE_ALLOCATOR_POLICY: 'fifo' })).toThrow();
  });
});

describe('refusal filters', () => {
  const base = { role: '*', agentId: 'a1', resources: allocate(resources('cpus:1'), '*'), now: 1000 };

  it('default to 5 s, cap at 365 days, and 0 means no filter', () => {
    expect(refusalFilter(base)?.expiresAt).toBe(6000);
    expect(refusalFilter({ ...base, refuseSeconds: -1 })?.expiresAt).toBe(6000);
    expect(refusalFilter({ ...base, refuseSeconds: Number.NaN })?.expiresAt).toBe(6000);
    expect(refusalFilter({ ...base, refuseSeconds: 1e12 })?.expiresAt).toBe(1000 + MAX_REFUSE_SECONDS * 1000);
    expect(refusalFilter({ ...base, refuseSeconds: Infinity })?.expiresAt).toBe(1000 + MAX_REFUSE_SECONDS * 1000);
    expect(refusalFilter({ ...base, refuseSeconds: 0 })).toBeUndefined();
    expect(refusalFilter({ ...base, refuseSeconds: 0.5 })?.expiresAt).toBe(1500);
  });

  it('hold the refused resources without their allocation role', () => {
    expect(refusalFilter(base)?.resources).toEqual(resources('cpus:1'));
  });
});

describe('offer constraints validation', () => {
  const one = (predicate: object, selector: object = { attribute_name: 'rack' }) => ({
    role_constraints: { '*': { groups: [{ attribute_constraints: [{ selector, predicate }] }] } },
  });

  it('accepts what Mesos accepts and refuses what it refuses', () => {
    expect(validateOfferConstraints(one({ exists: {} }))).toBeUndefined();
    expect(validateOfferConstraints(one({ text_matches: { regex: 'gpu-[a-z]+(-[0-9]+)?' } }))).toBeUndefined();
    expect(validateOfferConstraints({ role_constraints: { '*': { groups: [] } } })).toMatch(/Empty/);
    expect(
      validateOfferConstraints({ role_constraints: { '*': { groups: [{ attribute_constraints: [] }] } } }),
    ).toMatch(/empty group/);
    expect(validateOfferConstraints(one({}))).toMatch(/Unknown predicate/);
    expect(validateOfferConstraints(one({ exists: {} }, {}))).toMatch(/Exactly one/);
    expect(validateOfferConstraints(one({ text_matches: { regex: '(' } }))).toMatch(/Failed to construct/);
  });

  it('refuses regexes that could take exponential time in a backtracking engine', () => {
    for (const regex of ['(a+)+', '(a|aa)+', '(?:a*)*b', '(x{1,3}){2,}', 'a'.repeat(201), '(a)\\1', 'a(?=b)']) {
      expect(validateOfferConstraints(one({ text_matches: { regex } })), regex).toMatch(/refused/);
    }
    for (const regex of ['a+b*', '(ab)+', '[a-z]+-(prod|dev)', '(?:x)y?']) {
      expect(validateOfferConstraints(one({ text_matches: { regex } })), regex).toBeUndefined();
    }
  });
});

describe('offers as frameworks see them', () => {
  const record: OfferRecord = {
    offerId: 'a1-O1',
    agentId: 'a1',
    frameworkId: 'fw',
    role: 'eng',
    resources: allocate(resources('cpus:2;cpus(eng):1'), 'eng'),
    createdAt: 0,
  };
  const agent = {
    hostname: 'h1',
    port: 5051,
    attributes: [{ name: 'rack', type: 'TEXT' as const, text: { value: 'r1' } }],
  };

  it('carry allocation_info and the reservation stack for MULTI_ROLE, RESERVATION_REFINEMENT frameworks', () => {
    const offer = mesosOffer(
      record,
      agent,
      recipientOf({ capabilities: [{ type: 'MULTI_ROLE' }, { type: 'RESERVATION_REFINEMENT' }] }),
    );
    expect(offer).toMatchObject({
      id: { value: 'a1-O1' },
      framework_id: { value: 'fw' },
      agent_id: { value: 'a1' },
      hostname: 'h1',
      url: { scheme: 'http', address: { hostname: 'h1', port: 5051 }, path: '/slave(1)' },
      allocation_info: { role: 'eng' },
      attributes: agent.attributes,
    });
    expect(offer.resources?.every((resource) => resource.allocation_info?.role === 'eng')).toBe(true);
    expect(offer.resources?.some((resource) => resource.reservations?.[0]?.role === 'eng')).toBe(true);
  });

  it('carry no allocation_info and the pre-refinement format for the others', () => {
    const offer = mesosOffer(record, agent, recipientOf({ capabilities: [] }));
    expect(offer.allocation_info).toBeUndefined();
    expect(offer.resources?.some((resource) => resource.allocation_info)).toBe(false);
    expect(offer.resources?.map((resource) => resource.role).sort()).toEqual(['*', 'eng']);
    expect(offer.resources?.some((resource) => resource.reservations)).toBe(false);
  });
});

describe('allocation triggers', () => {
  it('coalesce a batch into the union of its agents, or all agents', () => {
    const at = (reason: Parameters<typeof triggerMessage>[0]['reason'], agentIds?: string[], now = 10) =>
      triggerMessage({ reason, ...(agentIds ? { agentIds } : {}) }, now);
    expect(coalesce([])).toBeUndefined();
    const some = coalesce([at('AGENT_ADDED', ['a1']), at('RESOURCES_RECOVERED', ['a2', 'a1'], 5)]);
    expect(some).toEqual({
      agentIds: new Set(['a1', 'a2']),
      changedAgents: new Set(['a1', 'a2']),
      reasons: ['AGENT_ADDED', 'RESOURCES_RECOVERED'],
      requestedAt: 5,
    });
    expect(coalesce([at('AGENT_ADDED', ['a1']), at('REVIVE', ['a2'])])?.agentIds).toBeUndefined();
    expect(coalesce([at('OFFER_EXPIRED')])?.agentIds).toBeUndefined();
  });

  it('tell a pass over all agents which agents changed: those named, or unknown when one changed unnamed', () => {
    const at = (reason: Parameters<typeof triggerMessage>[0]['reason'], agentIds?: string[]) =>
      triggerMessage({ reason, ...(agentIds ? { agentIds } : {}) }, 10);
    // A REVIVE changes no agent: the pass over all agents reads the one a finished task freed.
    const revived = coalesce([at('REVIVE'), at('RESOURCES_RECOVERED', ['a1']), at('PERIODIC')]);
    expect(revived?.agentIds).toBeUndefined();
    expect(revived?.changedAgents).toEqual(new Set(['a1']));
    expect(coalesce([at('FRAMEWORK_SUBSCRIBED')])?.changedAgents).toEqual(new Set());
    // Too many agents to name (or a sender naming none): every agent is read.
    expect(coalesce([at('REVIVE'), at('RESOURCES_RECOVERED')])?.changedAgents).toBeUndefined();
    expect(changesNoAgent(at('PERIODIC'))).toBe(true);
    expect(changesNoAgent(at('OFFER_EXPIRED'))).toBe(false);
  });

  it('are valid messages; timers carry when they are due, and huge agent lists mean all agents', () => {
    const message = triggerMessage({ reason: 'FILTER_EXPIRED', agentIds: ['a1'] }, 1000, 60);
    expect(TriggerMessageSchema.parse(message)).toEqual({
      reason: 'FILTER_EXPIRED',
      agent_ids: ['a1'],
      sent_at: 1000,
      due_at: 61_000,
    });
    expect(triggerMessage({ reason: 'REVIVE' }, 0).due_at).toBeUndefined();
    const many = Array.from({ length: MAX_TRIGGER_AGENTS + 1 }, (_, i) => `a${i}`);
    expect(triggerMessage({ reason: 'OFFER_EXPIRED', agentIds: many }, 0).agent_ids).toBeUndefined();
    expect(TriggerMessageSchema.safeParse({ reason: 'NOPE', sent_at: 0 }).success).toBe(false);
    // Any sender's trigger works: only the reason is required.
    expect(coalesce([TriggerMessageSchema.parse({ reason: 'AGENT_ADDED', agent_ids: ['a1'] })])).toEqual({
      agentIds: new Set(['a1']),
      changedAgents: new Set(['a1']),
      reasons: ['AGENT_ADDED'],
      requestedAt: undefined,
    });
  });
});

describe('timers', () => {
  it('a long timer sends nothing (the periodic pass covers it); an old one that arrives is dropped', async () => {
    const sent: unknown[] = [];
    const queues = {
      send: async (_url: string, messages: readonly unknown[]) => {
        sent.push(...messages);
      },
    } as unknown as Queues;
    const triggers = new AllocationTriggers(queues, 'allocation-queue', () => 1_000);
    await triggers.request({ reason: 'FILTER_EXPIRED', agentIds: ['a1'] }, 365 * 24 * 3600);
    await triggers.request({ reason: 'FILTER_EXPIRED', agentIds: ['a1'] }, MAX_DELAY_SECONDS + 1);
    expect(sent).toEqual([]);
    await triggers.request({ reason: 'FILTER_EXPIRED', agentIds: ['a1'] }, 60);
    expect(sent).toEqual([
      {
        body: { reason: 'FILTER_EXPIRED', agent_ids: ['a1'], sent_at: 1_000, due_at: 61_000 },
        delaySeconds: 60,
      },
    ]);
    const handler = allocationHandler({
      // Reading the registrar would mean a pass ran: there is none to read.
      registrar: {} as Registrar,
      events: { publish: () => Promise.reject(new Error('no events expected')) },
      allocator: new Allocator(),
      triggers: { request: () => Promise.reject(new Error('no trigger expected')) },
      now: () => 1_000,
    });
    const old = { reason: 'FILTER_EXPIRED', agent_ids: ['a1'], sent_at: 0, not_before: 3_600_000 };
    const event: SQSEvent = {
      Records: [{ messageId: 'm1', body: JSON.stringify(old) } as SQSEvent['Records'][number]],
    };
    expect(await handler(event, {} as Context)).toEqual({ batchItemFailures: [] });
  });

  it('the periodic trigger fires every interval until stopped', async () => {
    vi.useFakeTimers();
    try {
      const sent: AllocationTrigger[] = [];
      const periodic = startPeriodicTriggers(
        {
          request: async (trigger) => {
            sent.push(trigger);
          },
        },
        10,
        () => undefined,
      );
      await vi.advanceTimersByTimeAsync(25_000);
      periodic.stop();
      await vi.advanceTimersByTimeAsync(25_000);
      expect(sent).toEqual([{ reason: 'PERIODIC' }, { reason: 'PERIODIC' }]);
    } finally {
      vi.useRealTimers();
    }
  });
});
