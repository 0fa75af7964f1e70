/**
 * Any id Mesos accepts travels through the FIFO queues (issue 10): SQS takes MessageGroupId and
 * MessageDeduplicationId of 1 to 128 characters of [!-~] only, and the stand-in enforces it as SQS does.
 * Task ids of 255 characters of every class Mesos allows, under a framework id of 255 characters, go
 * through ACCEPT (LAUNCH and LAUNCH_GROUP), the status queue, ACKNOWLEDGE and KILL.
 */
import { randomUUID } from 'node:crypto';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateTaskId } from '#shared/ids.js';
import { fifoId } from '#shared/queues/queues.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import {
  commands,
  commandTask,
  FRAMEWORK,
  launch,
  offer,
  registerAgent,
  resources,
  sendStatus,
  subscribe,
  uuid,
  type TestAgent,
  type TestFramework,
} from '../support/scheduler.js';

/** `length` UTF-16 units of `alphabet`, repeated. */
const spell = (alphabet: string, length: number): string =>
  Array.from({ length }, (_, i) => alphabet[i % alphabet.length]).join('');

// Every printable ASCII character Mesos allows in an id (all but '/' and '\'), space included.
const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i))
  .filter((c) => c !== '/' && c !== '\\')
  .join('');
const TASK_IDS = [
  // A common client's form: <framework name>.<task name>.<uuid>.
  `marathon-analytics.nightly-report-aggregator.${randomUUID()}`,
  `${spell(PRINTABLE, 254)}a`,
  spell('éßøñüİı', 255),
  spell('日本語のタスク名', 255),
  spell('😀🚀🧪', 254),
  ` ${spell('x', 253)} `,
];
const FRAMEWORK_ID = spell(`${PRINTABLE}é日😀`, 255);

let tm: TestMaster;
let agent: TestAgent;
let framework: TestFramework;
beforeAll(async () => {
  tm = await startTestMaster();
  agent = await registerAgent(tm, 'cpus:64;mem:65536;disk:100000;ports:[31000-31099]');
  framework = await subscribe(tm, FRAMEWORK, { frameworkId: FRAMEWORK_ID });
});
afterAll(async () => {
  framework.close();
  await tm.close();
});

describe('FIFO ids', () => {
  it('the stand-in refuses what SQS refuses (else the other tests could not fail)', async () => {
    await expect(
      tm.clients.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: agent.commandQueueUrl,
          Entries: [{ Id: '0', MessageBody: '{}', MessageGroupId: 'é', MessageDeduplicationId: 'd' }],
        }),
      ),
    ).rejects.toThrow(/MessageGroupId/);
  });

  it('fifoId keeps ids SQS takes and digests the rest into distinct ids that fit', () => {
    expect(fifoId('fw-1/web-1')).toBe('fw-1/web-1');
    const digests = new Set<string>();
    for (const id of [...TASK_IDS, `${TASK_IDS[1]}b`, 'a b', 'a  b', spell('x', 129)]) {
      expect(validateTaskId(id.slice(0, 255)) ?? 'valid', JSON.stringify(id)).toBe('valid');
      const digest = fifoId(`${FRAMEWORK_ID}/${id}`);
      expect(digest).toMatch(/^[!-~]{1,128}$/);
      digests.add(digest);
    }
    expect(digests.size).toBe(TASK_IDS.length + 4);
  });

  it('Mesos-maximum task ids launch, update, acknowledge and kill through the queues', async () => {
    for (const id of TASK_IDS) expect(validateTaskId(id), JSON.stringify(id)).toBeUndefined();
    const made = await offer(tm, framework, agent, 'cpus:8;mem:1024;disk:100');
    const group = TASK_IDS.slice(0, 2).map((id) => commandTask(`g${id.slice(1)}`, agent, 'cpus:0.5;mem:32'));
    const response = await framework.call('ACCEPT', {
      accept: {
        offer_ids: [{ value: made.offerId }],
        operations: [
          ...launch(
            [],
            TASK_IDS.map((id) => commandTask(id, agent, 'cpus:0.5;mem:32')),
          ).accept.operations,
          {
            type: 'LAUNCH_GROUP',
            launch_group: {
              executor: {
                executor_id: { value: spell('é', 255) },
                type: 'DEFAULT',
                resources: resources('cpus:0.1;mem:32;disk:10'),
              },
              task_group: { tasks: group },
            },
          },
        ],
      },
    });
    expect(response.status, response.body).toBe(202);
    const sent = await commands(tm, agent);
    const launched = sent.flatMap((c) => (c.type === 'LAUNCH' ? [c.task.task_id.value] : []));
    expect(launched.sort()).toEqual([...TASK_IDS].sort());
    expect(sent.filter((c) => c.type === 'LAUNCH_GROUP')).toHaveLength(1);

    for (const id of TASK_IDS) {
      const running = uuid();
      await sendStatus(tm, agent, framework.frameworkId, {
        task_id: { value: id },
        state: 'TASK_RUNNING',
        uuid: running,
      });
      expect((await framework.update(id, 'TASK_RUNNING')).uuid).toBe(running);
      const acked = await framework.call('ACKNOWLEDGE', {
        acknowledge: { agent_id: { value: agent.agentId }, task_id: { value: id }, uuid: running },
      });
      expect(acked.status, acked.body).toBe(202);
      const killed = await framework.call('KILL', { kill: { task_id: { value: id } } });
      expect(killed.status, killed.body).toBe(202);
    }
    const after = await commands(tm, agent);
    expect(after.filter((c) => c.type === 'ACKNOWLEDGE')).toHaveLength(TASK_IDS.length);
    expect(after.filter((c) => c.type === 'KILL')).toHaveLength(TASK_IDS.length);
  });
});
