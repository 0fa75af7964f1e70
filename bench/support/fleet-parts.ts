/**
 * Parts of the simulated fleet (simulated-agents.ts): its doorbell (the moment a real agent's long-poll would
 * return, without thousands of idle long-polls), each agent's resources, and a bounded pool for registration.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Resource } from '#shared/protocol/mesos.js';
import { parseResourceText } from '#shared/resources/parse.js';

const PORTS_PER_AGENT = 10;

/**
 * The fleet's doorbell on the master's SQS client: after each send, `ring` gets the queue's URL (SimulatedFleet.ring
 * reads it if it is one of its agents' command queues). Added before the master uses the client.
 */
export function attachDoorbell(sqs: SQSClient, ring: (queueUrl: string) => void): void {
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === 'SendMessageBatchCommand' || context.commandName === 'SendMessageCommand') {
        ring(String((args.input as { QueueUrl?: string }).QueueUrl));
      }
      return result;
    },
    { step: 'initialize', name: 'simulatedAgentsDoorbell' },
  );
}

/** An agent's resources from its --resources text, with a port range of its own. */
export function agentResources(text: string, index: number): Resource[] {
  const first = 31000 + index * PORTS_PER_AGENT;
  const parsed = parseResourceText(`${text};ports:[${first}-${first + PORTS_PER_AGENT - 1}]`);
  if (!parsed.ok) throw new Error(`Invalid agent resources '${text}': ${parsed.error.message}`);
  return parsed.value;
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}
