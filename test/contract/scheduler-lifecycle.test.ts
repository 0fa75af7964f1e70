/**
 * The framework lifecycle (docs/scheduler-api.md): failover to a new subscription, TEARDOWN,
 * disconnect → reconnect grace → deactivation → failover_timeout → removal, the server closing a stream
 * at its maximum duration, and a stream that dies silently.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepFrameworks } from '../../functions/master/lifecycle.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import {
  commands,
  commandTask,
  FRAMEWORK,
  launch,
  offer,
  registerAgent,
  subscribe,
  type TestAgent,
} from '../support/scheduler.js';
import { subscribeRaw } from '../support/http.js';

let tm: TestMaster;
let agent: TestAgent;
beforeAll(async () => {
  tm = await startTestMaster({ reconnectGraceSeconds: 30 });
  agent = await registerAgent(tm, 'cpus:32;mem:32768');
});
afterAll(async () => tm.close());

async function status(frameworkId: string) {
  return (await tm.master.registrar.frameworks.get(frameworkId))?.status;
}

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('framework lifecycle', () => {
  it('a second SUBSCRIBE fails the first over; the framework keeps its id, offers and tasks', async () => {
    const first = await subscribe(tm);
    const made = await offer(tm, first, agent, 'cpus:1;mem:64');
    const second = await subscribe(tm, FRAMEWORK, { frameworkId: first.frameworkId });
    const error = await first.next((e) => e.type === 'ERROR');
    expect(error.error?.message).toBe('Framework failed over');
    await first.stream.untilEnded();
    expect(second.frameworkId).toBe(first.frameworkId);
    expect((await tm.master.registrar.agents.get(agent.agentId))?.offers[made.offerId]).toBeDefined();
    // The old stream id no longer works; the new one does.
    expect((await first.call('REVIVE')).status).toBe(400);
    expect((await second.call('REVIVE')).status).toBe(202);
    second.close();
  });

  it('TEARDOWN removes the framework, ends its stream, and a later SUBSCRIBE is told it is removed', async () => {
    const framework = await subscribe(tm);
    const made = await offer(tm, framework, agent, 'cpus:1;mem:64');
    expect((await framework.call('TEARDOWN')).status).toBe(202);
    expect((await framework.next((e) => e.type === 'ERROR')).error?.message).toBe('Framework has been removed');
    await framework.stream.untilEnded();
    expect(await status(framework.frameworkId)).toBe('REMOVED');
    expect((await tm.master.registrar.agents.get(agent.agentId))?.offers[made.offerId]).toBeUndefined();
    const again = await subscribeRaw(tm.url, {
      type: 'SUBSCRIBE',
      framework_id: { value: framework.frameworkId },
      subscribe: { framework_info: { ...FRAMEWORK, id: { value: framework.frameworkId } } },
    });
    const error = await again.next((e) => e.type === 'ERROR');
    expect(error.error?.message).toBe('Framework has been removed');
    await again.untilEnded();
    expect((await framework.call('REVIVE')).body).toMatch(/removed/);
  });

  it('a client that reconnects within the grace keeps its framework, offers and tasks', async () => {
    const framework = await subscribe(tm);
    const made = await offer(tm, framework, agent, 'cpus:2;mem:128');
    await framework.call(
      'ACCEPT',
      launch([made.offerId], [commandTask('kept', agent, 'cpus:1;mem:64')], { refuse_seconds: 0 }),
    );
    await commands(tm, agent);
    const spare = await offer(tm, framework, agent, 'cpus:1;mem:64');
    framework.close();
    await until(async () => (await status(framework.frameworkId)) === 'DISCONNECTED');
    // Within the grace the old stream id still works (a stream cut by the Lambda cap is not a failure).
    expect((await framework.call('REVIVE')).status).toBe(202);
    tm.advance(10_000);
    await sweepFrameworks(tm.master);
    expect(await status(framework.frameworkId)).toBe('DISCONNECTED');
    const back = await subscribe(tm, FRAMEWORK, { frameworkId: framework.frameworkId });
    expect(await status(framework.frameworkId)).toBe('SUBSCRIBED');
    expect((await tm.master.registrar.agents.get(agent.agentId))?.offers[spare.offerId]).toBeDefined();
    expect((await tm.master.registrar.tasks.get(framework.frameworkId, 'kept'))?.state).toBe('TASK_STAGING');
    back.close();
  });

  it('past the grace it is deactivated (offers rescinded), past failover_timeout removed (tasks killed)', async () => {
    const framework = await subscribe(tm, { ...FRAMEWORK, failover_timeout: 120 });
    const made = await offer(tm, framework, agent, 'cpus:2;mem:128');
    await framework.call(
      'ACCEPT',
      launch([made.offerId], [commandTask('doomed', agent, 'cpus:1;mem:64')], { refuse_seconds: 0 }),
    );
    await commands(tm, agent);
    const spare = await offer(tm, framework, agent, 'cpus:1;mem:64');
    framework.close();
    await until(async () => (await status(framework.frameworkId)) === 'DISCONNECTED');

    tm.advance(31_000);
    expect((await sweepFrameworks(tm.master)).deactivated).toBeGreaterThanOrEqual(1);
    expect(await status(framework.frameworkId)).toBe('INACTIVE');
    expect((await tm.master.registrar.agents.get(agent.agentId))?.offers[spare.offerId]).toBeUndefined();
    expect((await framework.call('REVIVE')).status).toBe(403);

    tm.advance(60_000);
    await sweepFrameworks(tm.master);
    expect(await status(framework.frameworkId)).toBe('INACTIVE'); // failover_timeout (120 s) not over yet
    tm.advance(61_000);
    expect((await sweepFrameworks(tm.master)).removed).toBeGreaterThanOrEqual(1);
    expect(await status(framework.frameworkId)).toBe('REMOVED');
    const task = await tm.master.registrar.tasks.get(framework.frameworkId, 'doomed');
    expect(task?.state).toBe('TASK_KILLED');
    expect(task?.status?.reason).toBe('REASON_FRAMEWORK_REMOVED');
    const ledger = await tm.master.registrar.agents.get(agent.agentId);
    expect(Object.keys(ledger?.tasks ?? {})).not.toContain(`${framework.frameworkId}/doomed`);
    expect(await commands(tm, agent)).toContainEqual({
      type: 'SHUTDOWN_FRAMEWORK',
      framework_id: { value: framework.frameworkId },
    });
  });

  it('the server closes a stream at its maximum duration; the client resubscribes with nothing lost', async () => {
    const short = await startTestMaster({ maxStreamSeconds: 2 });
    try {
      const shortAgent = await registerAgent(short, 'cpus:4;mem:1024');
      const framework = await subscribe(short);
      const made = await offer(short, framework, shortAgent, 'cpus:1;mem:64');
      await framework.stream.untilEnded(10_000);
      expect(framework.stream.events.some((e) => e.type === 'ERROR')).toBe(false);
      expect((await short.master.registrar.frameworks.get(framework.frameworkId))?.status).toBe('DISCONNECTED');
      const back = await subscribe(short, FRAMEWORK, { frameworkId: framework.frameworkId });
      expect((await short.master.registrar.agents.get(shortAgent.agentId))?.offers[made.offerId]).toBeDefined();
      expect((await back.call('DECLINE', { decline: { offer_ids: [{ value: made.offerId }] } })).status).toBe(202);
      back.close();
    } finally {
      await short.close();
    }
  });

  it('a subscription whose stream stopped saying it is alive is treated as disconnected', async () => {
    // A stream whose host died without closing anything: subscribed in the registrar, nobody touching it.
    // The clock held: the silence the sweeps see is what the test moved it by, not that plus the steps' time.
    tm.hold();
    const subscribed = await tm.master.registrar.frameworks.subscribe({
      info: FRAMEWORK,
      streamId: crypto.randomUUID(),
      eventQueueUrl: 'unused',
    });
    if (!subscribed.ok) throw new Error(subscribed.error.message);
    const { frameworkId } = subscribed.value.framework;
    tm.advance(2_000); // within 3 heartbeat intervals (1 s each here)
    await sweepFrameworks(tm.master);
    expect(await status(frameworkId)).toBe('SUBSCRIBED');
    tm.advance(2_000);
    await sweepFrameworks(tm.master);
    expect(await status(frameworkId)).toBe('DISCONNECTED');
    tm.advance(31_000);
    await sweepFrameworks(tm.master);
    expect(await status(frameworkId)).toBe('INACTIVE');
    tm.resume();
  });
  it('the sweeper finishes a removal whose handler died midway: tasks killed, resources returned', async () => {
    const framework = await subscribe(tm);
    const made = await offer(tm, framework, agent, 'cpus:3;mem:192');
    await framework.call(
      'ACCEPT',
      launch(
        [made.offerId],
        [commandTask('orphan-1', agent, 'cpus:1;mem:64'), commandTask('orphan-2', agent, 'cpus:1;mem:64')],
        {
          refuse_seconds: 0,
        },
      ),
    );
    await commands(tm, agent);
    const key = (taskId: string) => `${framework.frameworkId}/${taskId}`;
    expect(Object.keys((await tm.master.registrar.agents.get(agent.agentId))?.tasks ?? {})).toContain(key('orphan-1'));
    // The handler dies once the tasks are marked killed, before the agent's ledger gives their resources back.
    const name = 'die-before-release';
    tm.clients.dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { TableName?: string };
        if (context.commandName === 'UpdateItemCommand' && input.TableName?.endsWith('-agents')) {
          throw Object.assign(new Error('injected: the handler died'), { name: 'HandlerDied', $metadata: {} });
        }
        return next(args);
      },
      { step: 'initialize', name },
    );
    try {
      expect((await framework.call('TEARDOWN')).status).toBe(500);
    } finally {
      tm.clients.dynamodb.middlewareStack.remove(name);
    }
    framework.close();
    expect(await status(framework.frameworkId)).toBe('REMOVED');
    expect((await tm.master.registrar.tasks.get(framework.frameworkId, 'orphan-1'))?.state).toBe('TASK_KILLED');
    expect(Object.keys((await tm.master.registrar.agents.get(agent.agentId))?.tasks ?? {})).toContain(key('orphan-1'));
    // Within the removal's grace the sweeper leaves it to its handler; after it, the sweeper finishes it.
    await sweepFrameworks(tm.master);
    expect(Object.keys((await tm.master.registrar.agents.get(agent.agentId))?.tasks ?? {})).toContain(key('orphan-1'));
    tm.advance(5 * 60_000);
    await sweepFrameworks(tm.master);
    const ledger = await tm.master.registrar.agents.get(agent.agentId);
    expect(Object.keys(ledger?.tasks ?? {}).filter((k) => k.startsWith(framework.frameworkId))).toEqual([]);
    expect((await tm.master.registrar.frameworks.get(framework.frameworkId))?.removalDone).toBe(true);
    expect(await commands(tm, agent)).toContainEqual({
      type: 'SHUTDOWN_FRAMEWORK',
      framework_id: { value: framework.frameworkId },
    });
  });
});
