/**
 * The agent with the real master (its hono app, registrar on DynamoDB Local, status pipeline): it
 * registers with its isolation, a framework's ACCEPT launches a task on it, the updates reach the
 * framework, its acknowledgements come back to the agent and release the next update, and the task's
 * resources are freed at the end. A restarted agent re-registers as itself.
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import type { TaskStatus } from '#shared/protocol/mesos.js';
import { removeWorkDir, startTestAgent, tempWorkDir } from '../support/agent.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { commandTask, launch, offer, subscribe, type TestAgent, type TestFramework } from '../support/scheduler.js';

let tm: TestMaster;
let framework: TestFramework;
let agent: RunningAgent;
let workDir: string;

beforeAll(async () => {
  tm = await startTestMaster();
  workDir = await tempWorkDir();
  agent = await startTestAgent(
    { url: tm.url },
    { sqsEndpoint: inject('sqsEndpoint'), workDir, containerizers: ['mesos'] },
  );
  await agent.registered;
  framework = await subscribe(tm);
});

afterAll(async () => {
  framework?.close();
  await agent?.shutdown();
  await tm?.close();
  if (workDir) await removeWorkDir(workDir);
});

async function acknowledge(agentId: string, status: TaskStatus): Promise<void> {
  const response = await framework.call('ACKNOWLEDGE', {
    acknowledge: { agent_id: { value: agentId }, task_id: status.task_id, uuid: status.uuid },
  });
  expect(response.status).toBe(202);
}

it('registers, runs a launched task, and its updates flow to the framework and their acks back', async () => {
  const agentId = agent.agentId as string;
  const record = await tm.master.registrar.agents.get(agentId);
  expect(record).toMatchObject({ status: 'ACTIVE', containerizers: ['mesos'], isolation: agent.isolation });
  const command = await tm.master.registrar.agents.get(agentId);
  const target: TestAgent = { agentId, commandQueueUrl: command?.commandQueueUrl as string };

  const made = await offer(tm, framework, target, 'cpus:1;mem:128');
  const accepted = await framework.call(
    'ACCEPT',
    launch(
      [made.offerId],
      [commandTask('e2e-1', target, 'cpus:0.5;mem:64', { command: { value: 'sleep 0.2; echo done' } })],
    ),
  );
  expect(accepted.status).toBe(202);

  // Only the head of the stream is in flight: RUNNING comes after STARTING is acknowledged.
  const starting = await framework.update('e2e-1', 'TASK_STARTING');
  expect(starting).toMatchObject({ source: 'SOURCE_EXECUTOR', agent_id: { value: agentId } });
  await acknowledge(agentId, starting);
  const running = await framework.update('e2e-1', 'TASK_RUNNING');
  await acknowledge(agentId, running);
  const finished = await framework.update('e2e-1', 'TASK_FINISHED');
  await acknowledge(agentId, finished);

  const row = await tm.master.registrar.tasks.get(framework.frameworkId, 'e2e-1');
  expect(row?.state).toBe('TASK_FINISHED');
  const ledger = await tm.master.registrar.agents.get(agentId);
  expect(Object.keys(ledger?.tasks ?? {})).toEqual([]);
  // The acknowledged terminal update closes the stream: the agent forgets the task.
  const deadline = Date.now() + 10_000;
  while (agent.tasks().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(agent.tasks()).toEqual([]);
});

it('re-registers as itself after a restart, with the tasks it still runs', async () => {
  const agentId = agent.agentId as string;
  const target: TestAgent = {
    agentId,
    commandQueueUrl: (await tm.master.registrar.agents.get(agentId))?.commandQueueUrl as string,
  };
  const made = await offer(tm, framework, target, 'cpus:1;mem:128');
  await framework.call(
    'ACCEPT',
    launch([made.offerId], [commandTask('e2e-2', target, 'cpus:0.5;mem:64', { command: { value: 'sleep 30' } })]),
  );
  await acknowledge(agentId, await framework.update('e2e-2', 'TASK_STARTING'));
  await acknowledge(agentId, await framework.update('e2e-2', 'TASK_RUNNING'));

  await agent.stop();
  agent = await startTestAgent(
    { url: tm.url },
    { sqsEndpoint: inject('sqsEndpoint'), workDir, containerizers: ['mesos'] },
  );
  expect(await agent.registered).toBe(agentId);
  expect(agent.tasks().map((task) => [task.taskId, task.state])).toEqual([['e2e-2', 'TASK_RUNNING']]);
  const record = await tm.master.registrar.agents.get(agentId);
  expect(record?.reregisteredAt).toBeDefined();

  const kill = await framework.call('KILL', { kill: { task_id: { value: 'e2e-2' }, agent_id: { value: agentId } } });
  expect(kill.status).toBe(202);
  const killed = await framework.update('e2e-2', 'TASK_KILLED');
  await acknowledge(agentId, killed);
  expect((await tm.master.registrar.tasks.get(framework.frameworkId, 'e2e-2'))?.state).toBe('TASK_KILLED');
});
