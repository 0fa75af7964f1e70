/**
 * Agents' items written before resources were stored as text and tasks' ids only in their keys
 * (functions/registrar/stored-resources.ts): their offers are accepted, their totals converted and their tasks
 * released as before, on DynamoDB Local.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeResources, type AgentRecord, type OfferRecord } from '../../functions/registrar/index.js';
import { allocate, scalarTotal } from '#shared/resources/resources.js';
import { freshRegistrar, type TestRegistrar } from '../support/registrar.js';
import { resources } from '../support/resources.js';

let t: TestRegistrar;
beforeAll(async () => {
  t = await freshRegistrar();
});
afterAll(async () => {
  await t.close();
});

const FRAMEWORK = 'fw-stored';

async function agentNow(agentId: string): Promise<AgentRecord> {
  return (await t.registrar.agents.get(agentId)) as AgentRecord;
}

/** An admitted agent with an offer of `offered`, its item then rewritten as items were before. */
async function writtenBefore(offered: string): Promise<{ agent: AgentRecord; offer: OfferRecord }> {
  const admitted = await t.registrar.agents.admit({ hostname: 'old.local', resources: resources('cpus:4;mem:1024') });
  if (!admitted.ok) throw new Error(admitted.error.message);
  const made = await t.registrar.agents.createOffers(admitted.value, [
    { frameworkId: FRAMEWORK, role: '*', resources: allocate(resources(offered), '*') },
  ]);
  if (!made.ok) throw new Error(made.error.message);
  const offer = made.value.offers[0] as OfferRecord;
  await t.clients.documents.send(
    new UpdateCommand({
      TableName: t.tables.agents,
      Key: { agent_id: offer.agentId },
      UpdateExpression: 'SET #total = :total, offers.#offer.resources = :offered',
      ExpressionAttributeNames: { '#total': 'total', '#offer': offer.offerId },
      ExpressionAttributeValues: {
        ':total': JSON.stringify(admitted.value.total),
        ':offered': JSON.stringify(offer.resources),
      },
    }),
  );
  return { agent: await agentNow(offer.agentId), offer };
}

describe('an agent item written before', () => {
  it('has its offer accepted and its task released', async () => {
    const { agent, offer } = await writtenBefore('cpus:2;mem:512');
    expect(agent.offers[offer.offerId]).toEqual(offer);
    const accepted = await t.registrar.agents.acceptOffers({
      agentId: agent.agentId,
      frameworkId: FRAMEWORK,
      offers: [offer],
      launches: [{ taskId: 't-old', resources: resources('cpus:1;mem:256') }],
      launchId: 'launch-old',
    });
    expect(accepted.ok).toBe(true);
    // The task's entry as one written before would hold it: its ids and JSON resources besides its key.
    const key = `${FRAMEWORK}/t-old`;
    const task = (await agentNow(agent.agentId)).tasks[key];
    await t.clients.documents.send(
      new UpdateCommand({
        TableName: t.tables.agents,
        Key: { agent_id: agent.agentId },
        UpdateExpression: 'SET tasks.#key.framework_id = :fw, tasks.#key.task_id = :task, tasks.#key.resources = :r',
        ExpressionAttributeNames: { '#key': key },
        ExpressionAttributeValues: { ':fw': FRAMEWORK, ':task': 't-old', ':r': JSON.stringify(task?.resources) },
      }),
    );
    expect((await agentNow(agent.agentId)).tasks[key]).toEqual(task);
    const released = await t.registrar.agents.releaseTasks({
      agentId: agent.agentId,
      tasks: [{ frameworkId: FRAMEWORK, taskId: 't-old', launchId: 'launch-old' }],
    });
    expect(released.ok && released.value.released).toEqual([task]);
    expect(scalarTotal(freeResources(await agentNow(agent.agentId)), 'cpus')).toBe(4);
  });

  it('has its total converted by an accept that checks it', async () => {
    const { agent, offer } = await writtenBefore('cpus:1;mem:128');
    const accepted = await t.registrar.agents.acceptOffers({
      agentId: agent.agentId,
      frameworkId: FRAMEWORK,
      offers: [offer],
      launches: [],
      launchId: 'launch-convert',
      total: { expected: agent.total, next: resources('cpus:4;mem:2048'), offered: offer.resources },
    });
    expect(accepted.ok).toBe(true);
    expect(scalarTotal((await agentNow(agent.agentId)).total, 'mem')).toBe(2048);
  });
});
