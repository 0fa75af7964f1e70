/**
 * The heartbeat handler against a real master (DynamoDB Local, the SQS stand-in): a batch is read and
 * recorded at once, bad messages are dropped without failing the batch, agents the master does not
 * take as active are asked to re-register, and a registrar failure fails the whole batch (retried).
 */
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHeartbeatHandler } from '../../functions/handlers/heartbeats.js';
import { handleHeartbeats } from '../../functions/fleet/heartbeats.js';
import { markAgentGone } from '../../functions/fleet/instances.js';
import type { HeartbeatMessage } from '#shared/protocol/internal.js';
import { queueNames } from '#shared/queues/queues.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { commands, registerAgent } from '../support/scheduler.js';

let tm: TestMaster;
beforeAll(async () => {
  tm = await startTestMaster();
});
afterAll(async () => {
  await tm.close();
});

function beat(agentId: string, sentAt = tm.master.now()): string {
  const body: HeartbeatMessage = { agent_id: { value: agentId }, sent_at: sentAt };
  return JSON.stringify(body);
}

function sqsEvent(bodies: readonly string[]): SQSEvent {
  return {
    Records: bodies.map(
      (body, i) =>
        ({
          messageId: `m-${i}`,
          body,
          attributes: { SenderId: 'AIDAEXAMPLE' },
        }) as unknown as SQSRecord,
    ),
  };
}

describe('the heartbeat handler', () => {
  it('records a batch in one pass: one entry per agent, the latest wins, bad messages dropped', async () => {
    const a = await registerAgent(tm, 'cpus:1;mem:128');
    const b = await registerAgent(tm, 'cpus:1;mem:128');
    const since = tm.master.now();
    const report = await handleHeartbeats(tm.master, [
      { body: beat(a.agentId, since - 2000) },
      { body: beat(a.agentId, since) },
      { body: beat(a.agentId, since - 1000) },
      { body: beat(b.agentId) },
      { body: 'not json' },
      { body: JSON.stringify({ agent_id: 'not an AgentID', sent_at: 'soon' }) },
    ]);
    expect(report).toEqual({ recorded: 2, reregister: 0, dropped: 2 });
    const seen = await tm.master.registrar.heartbeats.lastSeen(since - 1);
    expect(seen.get(a.agentId)).toBeGreaterThanOrEqual(since);
    expect(seen.get(b.agentId)).toBeGreaterThanOrEqual(since);
  });

  it('asks an agent it does not know to re-register, on the command queue its id names', async () => {
    const stranger = 'S-stranger-from-a-wiped-registrar';
    const url = await tm.master.queues.ensure(queueNames.agentCommands(tm.master.config.cluster, stranger), {});
    expect(await handleHeartbeats(tm.master, [{ body: beat(stranger) }])).toMatchObject({
      recorded: 0,
      reregister: 1,
    });
    expect(await commands(tm, { agentId: stranger, commandQueueUrl: url })).toEqual([
      { type: 'REREGISTER', reason: 'the master does not know this agent' },
    ]);
    // No queue at all (an agent of another cluster): logged, and the batch still succeeds.
    expect(await handleHeartbeats(tm.master, [{ body: beat('S-nowhere') }])).toMatchObject({ reregister: 1 });
  });

  it('ignores a gone agent (its queue is deleted; its next receive tells it)', async () => {
    const agent = await registerAgent(tm, 'cpus:1;mem:128');
    const record = await tm.master.registrar.agents.get(agent.agentId);
    if (!record) throw new Error('the agent was not registered');
    expect(await markAgentGone(tm.master, record, 'the test removes it')).toBe(true);
    expect(await handleHeartbeats(tm.master, [{ body: beat(agent.agentId) }])).toEqual({
      recorded: 0,
      reregister: 0,
      dropped: 0,
    });
  });

  it('as a Lambda handler: succeeds whole, or fails whole when the registrar write fails', async () => {
    const agent = await registerAgent(tm, 'cpus:1;mem:128');
    const handler = createHeartbeatHandler(tm.master);
    expect(await handler(sqsEvent([beat(agent.agentId), '{}']), {} as never)).toEqual({ batchItemFailures: [] });

    const log = tm.master.registrar.heartbeats;
    const record = log.record.bind(log);
    log.record = () => Promise.reject(new Error('injected: ProvisionedThroughputExceededException'));
    try {
      await expect(handler(sqsEvent([beat(agent.agentId)]), {} as never)).rejects.toThrow(/injected/);
    } finally {
      log.record = record;
    }
  });
});
