/**
 * Faults DynamoDB Local never produces, injected with SDK middleware: throttling and transaction
 * conflicts (the request is refused), and a response lost after the write was applied (the SDK retries a
 * request that already happened). Nothing is lost or applied twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newStreamId } from '#shared/ids.js';
import type { AgentRecord, OfferRecord } from '../../functions/registrar/index.js';
import { injectFaults } from '../support/faults.js';
import { freshRegistrar, type TestRegistrar } from '../support/registrar.js';
import { resources } from '../support/resources.js';

let t: TestRegistrar;
beforeAll(async () => {
  t = await freshRegistrar({ maxAttempts: 3 });
});
afterAll(async () => {
  await t.close();
});

async function agentWithOffer(): Promise<{ agent: AgentRecord; offer: OfferRecord }> {
  const admitted = await t.registrar.agents.admit({ hostname: 'f.local', resources: resources('cpus:4;mem:1024') });
  if (!admitted.ok) throw new Error(admitted.error.message);
  const created = await t.registrar.agents.createOffers(admitted.value, [
    { frameworkId: 'fw', role: '*', resources: resources('cpus:2;mem:512') },
  ]);
  if (!created.ok) throw new Error(created.error.message);
  return { agent: created.value.agent, offer: created.value.offers[0] as OfferRecord };
}

describe('injected DynamoDB faults', () => {
  it('rides out throttling and transaction conflicts with the SDK retries', async () => {
    const { agent, offer } = await agentWithOffer();
    for (const name of [
      'ThrottlingException',
      'TransactionConflictException',
      'ProvisionedThroughputExceededException',
    ] as const) {
      const fault = injectFaults(t.clients.dynamodb, {
        commands: ['PutItemCommand'],
        times: 1,
        fault: { kind: 'reject', name },
      });
      await t.registrar.heartbeats.record(new Map([[agent.agentId, t.clock.now]]));
      fault.remove();
      expect((await t.registrar.heartbeats.lastSeen(t.clock.now)).get(agent.agentId), name).toBe(t.clock.now);
      expect(fault.hits()).toBe(1);
    }
    const fault = injectFaults(t.clients.dynamodb, {
      commands: ['UpdateItemCommand'],
      times: 2,
      fault: { kind: 'reject', name: 'ThrottlingException' },
    });
    const accepted = await t.registrar.agents.acceptOffers({
      agentId: agent.agentId,
      frameworkId: 'fw',
      offers: [offer],
      launches: [{ taskId: 't', resources: resources('cpus:1') }],
      launchId: 'throttled',
    });
    fault.remove();
    expect(accepted.ok).toBe(true);
  });

  it('surfaces a fault that outlasts the retries as an error, leaving the state unchanged', async () => {
    const { agent, offer } = await agentWithOffer();
    const fault = injectFaults(t.clients.dynamodb, {
      commands: ['UpdateItemCommand'],
      times: 10,
      fault: { kind: 'reject', name: 'ThrottlingException' },
    });
    await expect(
      t.registrar.agents.acceptOffers({
        agentId: agent.agentId,
        frameworkId: 'fw',
        offers: [offer],
        launches: [],
        launchId: 'never',
      }),
    ).rejects.toThrow(/ThrottlingException/);
    fault.remove();
    expect(await t.registrar.agents.get(agent.agentId)).toEqual(agent);
  });

  it('recognises its own accept when the response was lost and the SDK retried it', async () => {
    const { agent, offer } = await agentWithOffer();
    const fault = injectFaults(t.clients.dynamodb, {
      commands: ['UpdateItemCommand'],
      times: 1,
      fault: { kind: 'lose-response' },
    });
    const accepted = await t.registrar.agents.acceptOffers({
      agentId: agent.agentId,
      frameworkId: 'fw',
      offers: [offer],
      launches: [{ taskId: 'lost-response', resources: resources('cpus:1;mem:128') }],
      launchId: 'launch-lost',
    });
    fault.remove();
    expect(fault.hits()).toBe(1);
    expect(accepted.ok).toBe(true);
    const stored = (await t.registrar.agents.get(agent.agentId)) as AgentRecord;
    expect(Object.keys(stored.tasks)).toEqual(['fw/lost-response']);
    expect(stored.version).toBe(agent.version + 1); // applied once
    // A different ACCEPT of the same offer is still refused.
    const again = await t.registrar.agents.acceptOffers({
      agentId: agent.agentId,
      frameworkId: 'fw',
      offers: [offer],
      launches: [{ taskId: 'lost-response', resources: resources('cpus:1;mem:128') }],
      launchId: 'another-launch',
    });
    expect(again).toMatchObject({ ok: false, error: { code: 'OFFER_GONE' } });
  });

  it('recognises its own offers and subscription after a lost response', async () => {
    const admitted = await t.registrar.agents.admit({ hostname: 'g.local', resources: resources('cpus:4') });
    if (!admitted.ok) throw new Error(admitted.error.message);
    let fault = injectFaults(t.clients.dynamodb, {
      commands: ['UpdateItemCommand'],
      times: 1,
      fault: { kind: 'lose-response' },
    });
    const created = await t.registrar.agents.createOffers(admitted.value, [
      { frameworkId: 'fw', role: '*', resources: resources('cpus:1') },
    ]);
    fault.remove();
    expect(created.ok).toBe(true);
    const stored = (await t.registrar.agents.get(admitted.value.agentId)) as AgentRecord;
    expect(Object.keys(stored.offers)).toHaveLength(1);
    expect(stored.version).toBe(admitted.value.version + 1);

    const streamId = newStreamId();
    fault = injectFaults(t.clients.dynamodb, {
      commands: ['UpdateItemCommand'],
      times: 1,
      fault: { kind: 'lose-response' },
    });
    const subscribed = await t.registrar.frameworks.subscribe({ info: { user: 'u', name: 'n' }, streamId });
    fault.remove();
    expect(subscribed.ok && subscribed.value.framework.streamId).toBe(streamId);
  });
});
