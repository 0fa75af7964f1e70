/**
 * ACKNOWLEDGE's path through the master (docs/scheduler-api.md, "Calls"): what it reads and sends per call, the
 * records it may take from the last second (the framework that passes the caller's subscription, the agent's command
 * queue), and what happens when those are stale: an agent gone meanwhile, a framework failed over or removed by
 * another process, a send that fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendToAgent } from '../../functions/master/master.js';
import { Registrar } from '../../functions/registrar/index.js';
import type { Queues } from '#shared/queues/queues.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import {
  commands,
  commandTask,
  FRAMEWORK,
  launch,
  offer,
  registerAgent,
  sendStatus,
  subscribe,
  uuid,
  type TestAgent,
  type TestFramework,
} from '../support/scheduler.js';

let tm: TestMaster;
let framework: TestFramework;
/** The DynamoDB and SQS requests the master made: the command and its table ('sqs' for a queue). */
const requests: string[] = [];

/** Records in `into` the DynamoDB and SQS requests the master `on` makes. */
function countRequests(on: TestMaster, into: string[]): void {
  const tables = new Map(Object.entries(on.master.registrar.context.tables).map(([id, name]) => [name, id]));
  const record = (command: string | undefined, input: object) => {
    const { TableName, RequestItems } = input as { TableName?: string; RequestItems?: object };
    const table = TableName ?? Object.keys(RequestItems ?? {})[0];
    into.push(`${command} ${table ? tables.get(table) : 'sqs'}`);
  };
  const step = { step: 'initialize', name: 'countRequests' } as const;
  on.clients.dynamodb.middlewareStack.add(
    (next, context) => (args) => {
      record(context.commandName, args.input);
      return next(args);
    },
    step,
  );
  on.clients.sqs.middlewareStack.add(
    (next, context) => (args) => {
      record(context.commandName, args.input);
      return next(args);
    },
    step,
  );
}

beforeAll(async () => {
  // Stream heartbeats (each a write of the framework's record) well apart from the calls counted here.
  tm = await startTestMaster({ heartbeatIntervalSeconds: 15 });
  countRequests(tm, requests);
  framework = await subscribe(tm);
});
afterAll(async () => {
  framework.close();
  await tm.close();
});

/** Launches a task on the agent and has it report `state`; the update's uuid once the framework received it. */
async function reported(
  agent: TestAgent,
  taskId: string,
  state: 'TASK_RUNNING' | 'TASK_FINISHED',
  on = framework,
): Promise<string> {
  const made = await offer(tm, on, agent, 'cpus:1;mem:64');
  await on.call('ACCEPT', launch([made.offerId], [commandTask(taskId, agent, 'cpus:1;mem:64')]));
  await commands(tm, agent);
  const id = uuid();
  await sendStatus(tm, agent, on.frameworkId, { task_id: { value: taskId }, state, uuid: id });
  await on.update(taskId, state);
  return id;
}

function acknowledge(agent: TestAgent, taskId: string, id: string, on = framework, headers = {}) {
  return on.call(
    'ACKNOWLEDGE',
    { acknowledge: { agent_id: { value: agent.agentId }, task_id: { value: taskId }, uuid: id } },
    headers,
  );
}

/** The requests of the call under test: not the pollers' receives and deletes. */
const masterRequests = (made = requests) =>
  made.filter((request) => !/^(ReceiveMessage|DeleteMessageBatch|GetQueueAttributes)/.test(request));
const invalid = (on = tm) => on.master.metrics.snapshot()['master/invalid_status_update_acknowledgements'] ?? 0;
const acknowledgement = (taskId: string, id: string, on = framework) => ({
  type: 'ACKNOWLEDGE',
  framework_id: { value: on.frameworkId },
  task_id: { value: taskId },
  uuid: id,
});

describe('ACKNOWLEDGE', () => {
  it('reads the task row and sends to the agent; the framework and the agent come from the last second', async () => {
    const agent = await registerAgent(tm, 'cpus:4;mem:1024');
    const first = await reported(agent, 'counted-1', 'TASK_RUNNING');
    const second = await reported(agent, 'counted-2', 'TASK_RUNNING');
    // The clock held: the second call comes within the first's second however long the calls take.
    tm.hold();
    expect((await acknowledge(agent, 'counted-1', first)).status).toBe(202);
    requests.length = 0;
    expect((await acknowledge(agent, 'counted-2', second)).status).toBe(202);
    tm.resume();
    // One eventually consistent read of the row (it holds the update) and one send: no framework or agent read.
    expect(masterRequests()).toEqual(['GetItemCommand tasks', 'SendMessageBatchCommand sqs']);
    expect(await commands(tm, agent)).toEqual([
      acknowledgement('counted-1', first),
      acknowledgement('counted-2', second),
    ]);
  });

  it('marks the task acknowledged on its latest terminal update, once', async () => {
    const agent = await registerAgent(tm, 'cpus:4;mem:1024');
    const finished = await reported(agent, 'terminal', 'TASK_FINISHED');
    expect((await acknowledge(agent, 'terminal', finished)).status).toBe(202);
    expect((await tm.master.registrar.tasks.get(framework.frameworkId, 'terminal'))?.acknowledged).toBe(true);
    requests.length = 0;
    // Again (the framework's retry): passed on to the agent, the row left as it is.
    expect((await acknowledge(agent, 'terminal', finished)).status).toBe(202);
    expect(masterRequests().filter((request) => !request.endsWith('frameworks'))).toEqual([
      'GetItemCommand tasks',
      'SendMessageBatchCommand sqs',
    ]);
    expect(await commands(tm, agent)).toEqual([
      acknowledgement('terminal', finished),
      acknowledgement('terminal', finished),
    ]);
  });

  it('sends nothing to an agent another process marked gone, once the send to its deleted queue fails', async () => {
    const agent = await registerAgent(tm, 'cpus:4;mem:1024');
    const first = await reported(agent, 'lost-1', 'TASK_RUNNING');
    const second = await reported(agent, 'lost-2', 'TASK_RUNNING');
    expect((await acknowledge(agent, 'lost-1', first)).status).toBe(202);
    expect(await commands(tm, agent)).toEqual([acknowledgement('lost-1', first)]);
    // Another process (the sweeper's) marks it gone and deletes its queue; this one read it ACTIVE a moment ago.
    expect((await tm.master.registrar.agents.markGone(agent.agentId)).ok).toBe(true);
    await tm.master.queues.remove(agent.commandQueueUrl);
    const before = invalid();
    expect((await acknowledge(agent, 'lost-2', second)).status).toBe(202);
    expect(invalid()).toBe(before + 1);
    // Gone is for good: the next one reads nothing and sends nothing.
    requests.length = 0;
    expect((await acknowledge(agent, 'lost-2', second)).status).toBe(202);
    expect(masterRequests().filter((request) => !request.endsWith('frameworks'))).toEqual(['GetItemCommand tasks']);
    expect(invalid()).toBe(before + 2);
  });

  it("answers 202 and sends nothing for an unknown agent, another agent than the task's, or an unknown task", async () => {
    const agent = await registerAgent(tm, 'cpus:4;mem:1024');
    const other = await registerAgent(tm, 'cpus:4;mem:1024');
    const id = await reported(agent, 'elsewhere', 'TASK_RUNNING');
    const before = invalid();
    expect((await acknowledge(other, 'elsewhere', id)).status).toBe(202);
    expect((await acknowledge({ ...agent, agentId: 'no-such-agent' }, 'elsewhere', id)).status).toBe(202);
    expect((await acknowledge(agent, 'no-such-task', id)).status).toBe(202);
    expect(invalid()).toBe(before + 3);
    expect(await commands(tm, agent, 0)).toEqual([]);
    expect(await commands(tm, other, 0)).toEqual([]);
  });

  it('fails the call when the send fails to an agent still there, and reads the agent again after', async () => {
    const agent = await registerAgent(tm, 'cpus:4;mem:1024');
    const refusing = {
      ...tm.master,
      queues: { send: () => Promise.reject(new Error('throttled')) } as unknown as Queues,
    };
    const command = acknowledgement('any', uuid());
    await expect(sendToAgent(refusing, agent.agentId, [command as never])).rejects.toThrow('throttled');
    requests.length = 0;
    expect(await sendToAgent(tm.master, agent.agentId, [command as never])).toBe(true);
    expect(masterRequests()).toEqual(['SendMessageBatchCommand sqs']);
    expect(await sendToAgent(tm.master, 'no-such-agent', [command as never])).toBe(false);
    expect(await commands(tm, agent)).toEqual([command]);
  });
});

describe("ACKNOWLEDGE's framework record", () => {
  it('is read again when the one kept does not pass: a failover by another process lets the new stream in', async () => {
    const own = await subscribe(tm, { ...FRAMEWORK, name: 'failing-over' });
    const agent = await registerAgent(tm, 'cpus:4;mem:1024');
    const running = await reported(agent, 'failover', 'TASK_RUNNING', own);
    expect((await acknowledge(agent, 'failover', running, own)).status).toBe(202);
    // Another process's registrar (another Lambda container) takes the failover: this one's kept record is stale.
    const other = new Registrar(tm.master.registrar.context);
    const current = await other.frameworks.get(own.frameworkId);
    const failedOver = await other.frameworks.subscribe({
      frameworkId: own.frameworkId,
      info: { ...own.info, id: { value: own.frameworkId } },
      streamId: 'the-new-stream',
      ...(current?.eventQueueUrl ? { eventQueueUrl: current.eventQueueUrl } : {}),
    });
    expect(failedOver.ok).toBe(true);
    const headers = { 'Mesos-Stream-Id': 'the-new-stream' };
    expect((await acknowledge(agent, 'failover', running, own, headers)).status).toBe(202);
    // The old stream is refused once this process saw the new record.
    const old = await acknowledge(agent, 'failover', running, own);
    expect(old.status).toBe(400);
    own.close();
  });

  it('refuses an acknowledgement of a framework another process removed a second ago or more', async () => {
    const own = await subscribe(tm, { ...FRAMEWORK, name: 'removed' });
    const agent = await registerAgent(tm, 'cpus:4;mem:1024');
    const running = await reported(agent, 'removed', 'TASK_RUNNING', own);
    expect((await acknowledge(agent, 'removed', running, own)).status).toBe(202);
    const other = new Registrar(tm.master.registrar.context);
    expect((await other.frameworks.remove(own.frameworkId)).ok).toBe(true);
    tm.advance(1_000);
    const late = await acknowledge(agent, 'removed', running, own);
    expect(late.status).toBe(400);
    expect(late.body).toBe('Framework has been removed');
    own.close();
  });

  it('is never kept for other calls: a removal by another process refuses the next one', async () => {
    const own = await subscribe(tm, { ...FRAMEWORK, name: 'removed-reviving' });
    const agent = await registerAgent(tm, 'cpus:4;mem:1024');
    const running = await reported(agent, 'removed-reviving', 'TASK_RUNNING', own);
    expect((await acknowledge(agent, 'removed-reviving', running, own)).status).toBe(202);
    const other = new Registrar(tm.master.registrar.context);
    expect((await other.frameworks.remove(own.frameworkId)).ok).toBe(true);
    expect((await own.call('REVIVE')).status).toBe(400);
    own.close();
  });
});

describe('ACKNOWLEDGE where one process runs every handler (soleWriter: the local cluster)', () => {
  let sole: TestMaster;
  let on: TestFramework;
  const made: string[] = [];
  /** The call's requests, less the framework's and the agent's reads (those of the last second may have aged). */
  const callRequests = () => masterRequests(made).filter((request) => !/(frameworks|agents)$/.test(request));
  beforeAll(async () => {
    sole = await startTestMaster({ heartbeatIntervalSeconds: 15, soleWriter: true });
    countRequests(sole, made);
    on = await subscribe(sole);
  });
  afterAll(async () => {
    on.close();
    await sole.close();
  });

  /** Launches a task on the agent and has it report each of `states`; their uuids once the framework received them. */
  async function reportedAll(
    agent: TestAgent,
    taskId: string,
    states: ReadonlyArray<'TASK_RUNNING' | 'TASK_FINISHED'>,
  ) {
    const offered = await offer(sole, on, agent, 'cpus:1;mem:64');
    await on.call('ACCEPT', launch([offered.offerId], [commandTask(taskId, agent, 'cpus:1;mem:64')]));
    await commands(sole, agent);
    const ids: string[] = [];
    for (const state of states) {
      const id = uuid();
      await sendStatus(sole, agent, on.frameworkId, { task_id: { value: taskId }, state, uuid: id });
      await on.update(taskId, state);
      ids.push(id);
    }
    return ids;
  }

  it('takes the row its status update wrote in place of a read, and marks a terminal one acknowledged once', async () => {
    const agent = await registerAgent(sole, 'cpus:4;mem:1024');
    const [running, finished] = (await reportedAll(agent, 'kept', ['TASK_RUNNING', 'TASK_FINISHED'])) as [
      string,
      string,
    ];
    made.length = 0;
    expect((await acknowledge(agent, 'kept', finished, on)).status).toBe(202);
    // The row as the FINISHED update wrote it: no read of it, the send, the acknowledged mark.
    expect(callRequests()).toEqual(['SendMessageBatchCommand sqs', 'UpdateItemCommand tasks']);
    expect((await sole.master.registrar.tasks.get(on.frameworkId, 'kept'))?.acknowledged).toBe(true);
    made.length = 0;
    // The mark dropped the row kept: the framework's retry reads it, and leaves it as it is; so does an earlier update's.
    expect((await acknowledge(agent, 'kept', finished, on)).status).toBe(202);
    expect((await acknowledge(agent, 'kept', running, on)).status).toBe(202);
    expect(callRequests()).toEqual([
      'GetItemCommand tasks',
      'SendMessageBatchCommand sqs',
      'GetItemCommand tasks',
      'SendMessageBatchCommand sqs',
    ]);
    expect(await commands(sole, agent)).toEqual([
      acknowledgement('kept', finished, on),
      acknowledgement('kept', finished, on),
      acknowledgement('kept', running, on),
    ]);
  });

  it("decides on the kept row as on a read one: another agent than the task's refused, an update it lacks read", async () => {
    const agent = await registerAgent(sole, 'cpus:4;mem:1024');
    const other = await registerAgent(sole, 'cpus:4;mem:1024');
    const [running] = (await reportedAll(agent, 'kept-refused', ['TASK_RUNNING'])) as [string];
    const before = invalid(sole);
    made.length = 0;
    expect((await acknowledge(other, 'kept-refused', running, on)).status).toBe(202);
    expect(invalid(sole) - before).toBe(1);
    expect(callRequests()).toEqual([]);
    // An update the kept row does not hold: the row is read (twice: it is not in the eventually consistent one
    // either), and the acknowledgement goes to the task's agent, as without the row kept.
    const unknown = uuid();
    expect((await acknowledge(agent, 'kept-refused', unknown, on)).status).toBe(202);
    expect(callRequests()).toEqual(['GetItemCommand tasks', 'GetItemCommand tasks', 'SendMessageBatchCommand sqs']);
    expect(await commands(sole, other, 0)).toEqual([]);
    expect(await commands(sole, agent, 0)).toEqual([acknowledgement('kept-refused', unknown, on)]);
  });
});
