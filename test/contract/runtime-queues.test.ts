/**
 * Queues created at runtime (an agent's command queue at registration, a framework's event queue at
 * SUBSCRIBE) get what the stack's own queues have (issue 10): a policy that denies requests not over TLS,
 * and a dead-letter queue (one per kind) for messages received too often. (A queue that exists already
 * is used as it is: the stack owns some of them.)
 */
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueNames, Queues, RUNTIME_MAX_RECEIVES } from '#shared/queues/queues.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { registerAgent, subscribe } from '../support/scheduler.js';

let tm: TestMaster;
beforeAll(async () => {
  tm = await startTestMaster();
});
afterAll(async () => tm.close());

async function attributes(url: string): Promise<Record<string, string>> {
  const result = await tm.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }));
  return result.Attributes ?? {};
}

async function expectGuarded(url: string, deadLetterName: string): Promise<void> {
  const found = await attributes(url);
  const policy = JSON.parse(found.Policy ?? '{}') as { Statement: Array<Record<string, unknown>> };
  expect(policy.Statement).toEqual([
    expect.objectContaining({
      Effect: 'Deny',
      Principal: '*',
      Action: 'sqs:*',
      Resource: found.QueueArn,
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    }),
  ]);
  const redrive = JSON.parse(found.RedrivePolicy ?? '{}') as { deadLetterTargetArn: string; maxReceiveCount: number };
  expect(redrive.deadLetterTargetArn.endsWith(`:${deadLetterName}`)).toBe(true);
  expect(Number(redrive.maxReceiveCount)).toBe(RUNTIME_MAX_RECEIVES);
  const dlq = await new Queues(tm.clients.sqs).ensure(deadLetterName);
  expect(JSON.parse((await attributes(dlq)).Policy ?? '{}').Statement[0].Effect).toBe('Deny');
}

describe('runtime queues', () => {
  it("an agent's command queue and a framework's event queue: TLS only, and a shared dead-letter queue", async () => {
    const agent = await registerAgent(tm);
    await expectGuarded(agent.commandQueueUrl, queueNames.agentCommandsDeadLetter(tm.cluster));
    const framework = await subscribe(tm);
    const record = await tm.master.registrar.frameworks.get(framework.frameworkId);
    await expectGuarded(record?.eventQueueUrl ?? '', queueNames.frameworkEventsDeadLetter(tm.cluster));
    framework.close();
  });
});
