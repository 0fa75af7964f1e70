/**
 * The status handler applies a batch of updates, then does what follows for the whole batch: the terminal tasks of
 * an agent are freed in one ledger write, a framework's updates go in one send (each task's in order), and the
 * batch reads each task's row once. A step that fails after the updates were applied reports its messages, and the
 * later ones of their groups, for SQS to redeliver; the redelivered copies are duplicates that finish the job.
 */
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStatusHandler } from '../../functions/handlers/status.js';
import type { Master } from '../../functions/master/master.js';
import type { Registrar } from '../../functions/registrar/index.js';
import type { AgentMessage } from '#shared/protocol/internal.js';
import type { TaskState } from '#shared/protocol/mesos.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import {
  commands,
  commandTask,
  launch,
  offer,
  registerAgent,
  subscribe,
  uuid,
  type TestAgent,
  type TestFramework,
} from '../support/scheduler.js';

let tm: TestMaster;
let framework: TestFramework;
/** Requests by command and table or queue, counted while `counting`. */
const requests = new Map<string, number>();
let counting = false;

beforeAll(async () => {
  tm = await startTestMaster({ heartbeatIntervalSeconds: 3600 });
  framework = await subscribe(tm);
  const count = (name: string | undefined, target: unknown) => {
    if (!counting) return;
    const key = `${name} ${String(target)}`;
    requests.set(key, (requests.get(key) ?? 0) + 1);
  };
  tm.clients.dynamodb.middlewareStack.add(
    (next, context) => (args) => {
      const input = args.input as { TableName?: string; RequestItems?: object; Statements?: unknown[] };
      const statements = input.Statements ? `${input.Statements.length} statements` : undefined;
      count(context.commandName, input.TableName ?? statements ?? Object.keys(input.RequestItems ?? {}).join('+'));
      return next(args);
    },
    { step: 'initialize', name: 'countDynamoDb' },
  );
  tm.clients.sqs.middlewareStack.add(
    (next, context) => (args) => {
      count(context.commandName, (args.input as { QueueUrl?: string }).QueueUrl);
      return next(args);
    },
    { step: 'initialize', name: 'countSqs' },
  );
});
afterAll(async () => {
  framework.close();
  await tm.close();
});

/** Launches `count` tasks on `agent` and takes the LAUNCH commands as the agent would. */
async function launched(agent: TestAgent, prefix: string, count: number): Promise<string[]> {
  const taskIds = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const made = await offer(tm, framework, agent, `cpus:${count};mem:${128 * count}`);
  const tasks = taskIds.map((taskId) => commandTask(taskId, agent));
  expect((await framework.call('ACCEPT', launch([made.offerId], tasks))).status).toBe(202);
  await commands(tm, agent);
  return taskIds;
}

/** A record as Lambda's SQS event source hands it over: the agent's message in its task's group. */
function record(agent: TestAgent, taskId: string, state: TaskState, id = uuid()): SQSRecord {
  const message: AgentMessage = {
    type: 'STATUS_UPDATE',
    agent_id: { value: agent.agentId },
    framework_id: { value: framework.frameworkId },
    status: { task_id: { value: taskId }, state, uuid: id, source: 'SOURCE_EXECUTOR', timestamp: 1 },
  };
  return {
    messageId: uuid(),
    body: JSON.stringify(message),
    attributes: { MessageGroupId: `${framework.frameworkId}/${taskId}` },
    messageAttributes: {},
  } as unknown as SQSRecord;
}

async function handle(master: Master, records: SQSRecord[]): Promise<string[]> {
  const event: SQSEvent = { Records: records };
  const response = await createStatusHandler(master)(event, {} as never);
  return response.batchItemFailures.map((failure) => failure.itemIdentifier);
}

async function ledgerTasks(agent: TestAgent): Promise<string[]> {
  return Object.keys((await tm.master.registrar.agents.get(agent.agentId))?.tasks ?? {});
}

/** The master with its registrar's ledger releases failing, as DynamoDB's throttling would make them. */
function releasesFail(): Master {
  const agents = Object.create(tm.master.registrar.agents) as Registrar['agents'];
  agents.releaseTasks = () => Promise.reject(new Error('ProvisionedThroughputExceededException'));
  const registrar = Object.create(tm.master.registrar, { agents: { value: agents } }) as Registrar;
  return { ...tm.master, registrar };
}

describe('a batch of status updates', () => {
  it("frees each agent's terminal tasks in one write and sends the framework its updates in one request", async () => {
    const a = await registerAgent(tm);
    const b = await registerAgent(tm);
    const onA = await launched(a, 'batch-a', 3);
    const [onB] = await launched(b, 'batch-b', 1);
    const records = [
      ...onA.flatMap((taskId) => [record(a, taskId, 'TASK_RUNNING'), record(a, taskId, 'TASK_FINISHED')]),
      record(b, onB as string, 'TASK_FINISHED'),
    ];
    const triggers = tm.allocation.triggers.length;
    requests.clear();
    counting = true;
    expect(await handle(tm.master, records)).toEqual([]);
    counting = false;

    expect(await ledgerTasks(a)).toEqual([]);
    expect(await ledgerTasks(b)).toEqual([]);
    for (const taskId of onA) {
      expect((await tm.master.registrar.tasks.get(framework.frameworkId, taskId))?.state).toBe('TASK_FINISHED');
    }
    // Two agents, two ledger writes; seven updates, one send; the tasks' rows read in one request and written in two.
    const { tables } = tm.master.registrar.context;
    const eventQueue = (await tm.master.registrar.frameworks.get(framework.frameworkId))?.eventQueueUrl;
    expect(requests.get(`UpdateItemCommand ${tables.agents}`)).toBe(2);
    expect(requests.get(`SendMessageBatchCommand ${eventQueue}`)).toBe(1);
    expect(requests.get(`BatchGetItemCommand ${tables.tasks}`)).toBe(1);
    expect(requests.get(`GetItemCommand ${tables.tasks}`)).toBeUndefined();
    // The rows written a round at a time, each task's updates in turn: four tasks' first, then three tasks' second.
    expect(requests.get(`UpdateItemCommand ${tables.tasks}`)).toBeUndefined();
    expect(requests.get('BatchExecuteStatementCommand 4 statements')).toBe(1);
    expect(requests.get('BatchExecuteStatementCommand 3 statements')).toBe(1);
    // Who may speak for the two agents, in one read.
    expect(requests.get(`BatchGetItemCommand ${tables.agents}`)).toBe(1);
    expect(tm.allocation.triggers.slice(triggers).map(({ trigger }) => trigger)).toEqual([
      { reason: 'RESOURCES_RECOVERED', agentIds: expect.arrayContaining([a.agentId, b.agentId]) as string[] },
    ]);
    // Each task's updates reach the framework in order.
    for (const taskId of onA) {
      await framework.update(taskId, 'TASK_FINISHED');
      const states = framework.stream.events
        .filter((e) => e.type === 'UPDATE' && e.update?.status.task_id.value === taskId)
        .map((e) => e.update?.status.state);
      expect(states).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
    }
  });

  it('reports a failed release and the rest of its group for redelivery, which then frees the task', async () => {
    const agent = await registerAgent(tm);
    const [done, running] = await launched(agent, 'fail-release', 2);
    const finished = uuid();
    const first = record(agent, done as string, 'TASK_STARTING');
    const end = record(agent, done as string, 'TASK_FINISHED', finished);
    // The agent resends a task's end (its retry, or `latest_state`): it is behind the failed one in the group.
    const resent = record(agent, done as string, 'TASK_FINISHED', finished);
    const other = record(agent, running as string, 'TASK_RUNNING');

    const failed = await handle(releasesFail(), [first, end, resent, other]);
    expect(failed).toEqual([end.messageId, resent.messageId]);
    expect(await ledgerTasks(agent)).toHaveLength(2);
    // What did not fail went on: the framework saw the other updates, not the end.
    await framework.update(done as string, 'TASK_STARTING');
    await framework.update(running as string, 'TASK_RUNNING');

    // SQS redelivers the two: duplicates now, which free the task all the same.
    expect(await handle(tm.master, [end, resent])).toEqual([]);
    expect(await ledgerTasks(agent)).toHaveLength(1);
    expect((await tm.master.registrar.tasks.get(framework.frameworkId, done as string))?.state).toBe('TASK_FINISHED');
  });

  it("applies each update with a read of its own when the batch's read of the tasks fails", async () => {
    const agent = await registerAgent(tm);
    const [taskId] = await launched(agent, 'fail-preload', 1);
    const tasks = Object.create(tm.master.registrar.tasks) as Registrar['tasks'];
    tasks.getMany = () => Promise.reject(new Error('ProvisionedThroughputExceededException'));
    const registrar = Object.create(tm.master.registrar, { tasks: { value: tasks } }) as Registrar;
    expect(await handle({ ...tm.master, registrar }, [record(agent, taskId as string, 'TASK_FINISHED')])).toEqual([]);
    expect(await ledgerTasks(agent)).toEqual([]);
    await framework.update(taskId as string, 'TASK_FINISHED');
  });

  it('reports the updates it could not forward, after applying them and freeing their resources', async () => {
    const agent = await registerAgent(tm);
    const [taskId] = await launched(agent, 'fail-forward', 1);
    const master: Master = {
      ...tm.master,
      events: { publish: () => Promise.reject(new Error('SQS refused 2 message(s)')) },
    };
    const running = record(agent, taskId as string, 'TASK_RUNNING');
    const end = record(agent, taskId as string, 'TASK_FINISHED');
    expect(await handle(master, [running, end])).toEqual([running.messageId, end.messageId]);
    expect(await ledgerTasks(agent)).toEqual([]);
    expect((await tm.master.registrar.tasks.get(framework.frameworkId, taskId as string))?.state).toBe('TASK_FINISHED');
  });
});
