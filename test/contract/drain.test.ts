/**
 * The drain path (issue 7): a lifecycle-hook event for an instance whose agent runs a task makes the
 * agent stop taking offers at once, and the lifecycle action is completed only after the task has
 * finished, or after the grace ran out and the agent was told to kill it. Spot interruptions drain at
 * once. Real master, registrar and queues on the stand-ins; the real Auto Scaling client against the
 * Query-protocol stub.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAllocationPass } from '../../functions/allocation/index.js';
import { Allocator, allocatorConfig } from '../../functions/allocator/index.js';
import { AgentAutoScalingGroup } from '../../functions/fleet/autoscaling.js';
import { fleetTick } from '../../functions/fleet/tick.js';
import { handleFleetEvent } from '../../functions/fleet/fleet-events.js';
import { agentDrained, KILL_SLACK_SECONDS, type DrainSettings } from '../../functions/fleet/drain.js';
import type { FleetGauges } from '../../functions/fleet/demand.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { commands, FRAMEWORK, offer, subscribe, type TestAgent, type TestFramework } from '../support/scheduler.js';
import {
  endTask,
  instanceId,
  lifecycleEvent,
  registerOnInstance,
  runTask,
  spotInterruptionEvent,
} from './infra-agents.js';
import { startAwsStub, type AwsStub } from './infra-aws-stub.js';

const GROUP = 'mantle-test-agents';
const HOOK = 'mantle-drain';
const SETTINGS: DrainSettings = { graceSeconds: 600, killGraceSeconds: 30, spotKillGraceSeconds: 45 };

let tm: TestMaster;
let stub: AwsStub;
let group: AgentAutoScalingGroup;
let framework: TestFramework;
const published: FleetGauges[] = [];

beforeAll(async () => {
  // Long stream and framework timers: these tests move the master's clock by minutes.
  tm = await startTestMaster({
    heartbeatIntervalSeconds: 3600,
    reconnectGraceSeconds: 3600,
    maxStreamSeconds: 24 * 3600,
  });
  stub = await startAwsStub({ name: GROUP, hook: HOOK });
  group = new AgentAutoScalingGroup(GROUP, HOOK, stub.autoScaling());
  framework = await subscribe(tm, { ...FRAMEWORK, failover_timeout: 3600 });
});
afterAll(async () => {
  framework.close();
  await stub.close();
  await tm.close();
});

const tick = () => fleetTick(tm.master, group, SETTINGS, (gauges) => published.push(gauges));
const completions = (instance: string) =>
  stub.callsOf('CompleteLifecycleAction').filter((call) => call.params.InstanceId === instance);
const offersOn = async (agent: TestAgent) =>
  Object.keys((await tm.master.registrar.agents.get(agent.agentId))?.offers ?? {}).length;

async function allocate(agents: TestAgent[]) {
  return runAllocationPass(
    { registrar: tm.master.registrar, events: tm.master.events, allocator: new Allocator(allocatorConfig()) },
    { agentIds: new Set(agents.map((agent) => agent.agentId)) },
  );
}

describe('a scale-in lifecycle action', () => {
  it('stops offers at once and lets the instance go only once its running task has finished', async () => {
    const instance = instanceId();
    const agent = await registerOnInstance(tm, instance);
    const bystander = await registerOnInstance(tm, instanceId());
    await runTask(tm, framework, agent, 'scale-in-task');
    const spare = await offer(tm, framework, agent, 'cpus:1;mem:64');
    stub.waiting.add(instance);

    const outcome = await handleFleetEvent(tm.master, group, SETTINGS, lifecycleEvent(GROUP, HOOK, instance));
    expect(outcome).toEqual({ kind: 'draining', instanceId: instance, agents: 1, completed: false });

    // No new offers: the outstanding one is rescinded, and the allocator passes the agent over while it
    // still offers the agent beside it.
    await framework.next((e) => e.type === 'RESCIND' && e.rescind?.offer_id.value === spare.offerId);
    expect(await offersOn(agent)).toBe(0);
    const pass = await allocate([agent, bystander]);
    expect(pass.offers.map((made) => made.agentId)).toEqual([bystander.agentId]);
    expect(await offersOn(agent)).toBe(0);
    const record = await tm.master.registrar.agents.get(agent.agentId);
    expect(record?.deactivated).toBe(true);
    expect(record?.drain?.deadline).toBe((record?.drain?.startedAt ?? 0) + SETTINGS.graceSeconds * 1000);

    // The task runs on: the instance waits.
    expect((await tick()).released).toEqual([]);
    expect(completions(instance)).toEqual([]);
    expect((await commands(tm, agent, 0)).filter((command) => command.type === 'DRAIN')).toEqual([]);

    await endTask(tm, framework, agent, 'scale-in-task', 'TASK_FINISHED');
    expect((await tick()).released).toEqual([instance]);
    expect(completions(instance)).toEqual([
      {
        action: 'CompleteLifecycleAction',
        params: expect.objectContaining({
          AutoScalingGroupName: GROUP,
          LifecycleHookName: HOOK,
          InstanceId: instance,
          LifecycleActionResult: 'CONTINUE',
        }) as unknown as Record<string, string>,
      },
    ]);
    expect(stub.waiting.has(instance)).toBe(false);
    // Nothing was killed on the way.
    expect(
      (await commands(tm, agent, 0)).filter((command) => command.type === 'DRAIN' || command.type === 'KILL'),
    ).toEqual([]);
  });

  it('kills what outlives the grace, and lets the instance go when the agent reports DRAINED', async () => {
    const instance = instanceId();
    const agent = await registerOnInstance(tm, instance);
    await runTask(tm, framework, agent, 'slow-task');
    stub.waiting.add(instance);
    await handleFleetEvent(tm.master, group, SETTINGS, lifecycleEvent(GROUP, HOOK, instance));

    tm.advance((SETTINGS.graceSeconds - 1) * 1000);
    await tick();
    expect((await commands(tm, agent, 0)).some((command) => command.type === 'DRAIN')).toBe(false);

    tm.advance(2000);
    await tick();
    const drain = (await commands(tm, agent)).filter((command) => command.type === 'DRAIN');
    expect(drain).toEqual([{ type: 'DRAIN', max_grace_period_seconds: SETTINGS.killGraceSeconds, mark_gone: false }]);
    expect(completions(instance)).toEqual([]);
    // DRAIN goes out once, not on every tick.
    await tick();
    expect((await commands(tm, agent, 0)).filter((command) => command.type === 'DRAIN')).toEqual([]);

    await endTask(tm, framework, agent, 'slow-task', 'TASK_KILLED');
    expect(await agentDrained(tm.master, group, agent.agentId)).toBe(true);
    expect(completions(instance)).toHaveLength(1);
  });

  it('lets the instance go after the kill grace even when the agent never answers', async () => {
    const instance = instanceId();
    const agent = await registerOnInstance(tm, instance);
    await runTask(tm, framework, agent, 'stuck-task');
    stub.waiting.add(instance);
    await handleFleetEvent(tm.master, group, SETTINGS, lifecycleEvent(GROUP, HOOK, instance));
    tm.advance(SETTINGS.graceSeconds * 1000 + 1000);
    await tick();
    expect((await commands(tm, agent)).some((command) => command.type === 'DRAIN')).toBe(true);

    tm.advance((SETTINGS.killGraceSeconds + KILL_SLACK_SECONDS - 5) * 1000);
    expect((await tick()).released).not.toContain(instance);
    tm.advance(10_000);
    expect((await tick()).released).toContain(instance);
    expect(completions(instance)).toHaveLength(1);
  });

  it('lets an instance go at once when no agent, or only an unreachable one, runs on it', async () => {
    const empty = instanceId();
    stub.waiting.add(empty);
    expect(await handleFleetEvent(tm.master, group, SETTINGS, lifecycleEvent(GROUP, HOOK, empty))).toEqual({
      kind: 'draining',
      instanceId: empty,
      agents: 0,
      completed: true,
    });

    const partitioned = instanceId();
    const agent = await registerOnInstance(tm, partitioned);
    await runTask(tm, framework, agent, 'partitioned-task');
    tm.advance(1000);
    const unreachable = await tm.master.registrar.agents.markUnreachable(agent.agentId, tm.master.now());
    expect(unreachable.ok).toBe(true);
    stub.waiting.add(partitioned);
    const outcome = await handleFleetEvent(tm.master, group, SETTINGS, lifecycleEvent(GROUP, HOOK, partitioned));
    expect(outcome).toMatchObject({ agents: 1, completed: true });
  });

  it('ignores lifecycle actions of other groups and events it does not know', async () => {
    const before = stub.calls.length;
    expect(
      await handleFleetEvent(tm.master, group, SETTINGS, lifecycleEvent('another-group', HOOK, instanceId())),
    ).toEqual({
      kind: 'ignored',
      why: 'another group or hook',
    });
    const unknown = { ...lifecycleEvent(GROUP, HOOK, instanceId()), 'detail-type': 'Something Else' };
    expect((await handleFleetEvent(tm.master, group, SETTINGS, unknown)).kind).toBe('ignored');
    expect(stub.calls.length).toBe(before);
  });

  it('fails the event (EventBridge retries it) when Auto Scaling cannot be told, and succeeds on the retry', async () => {
    const instance = instanceId();
    stub.waiting.add(instance);
    stub.failNext('CompleteLifecycleAction');
    await expect(handleFleetEvent(tm.master, group, SETTINGS, lifecycleEvent(GROUP, HOOK, instance))).rejects.toThrow();
    expect(stub.waiting.has(instance)).toBe(true);
    const retried = await handleFleetEvent(tm.master, group, SETTINGS, lifecycleEvent(GROUP, HOOK, instance));
    expect(retried).toMatchObject({ completed: true });
  });

  it('treats a lifecycle action that is no longer waiting as done, not as a failure', async () => {
    const instance = instanceId();
    expect(await group.complete(instance)).toBe(false);
    expect(await agentDrained(tm.master, group, 'no-such-agent')).toBe(false);
  });
});

describe('a Spot interruption notice', () => {
  it('drains at once with the short kill grace, and can only shorten a scale-in grace', async () => {
    const instance = instanceId();
    const agent = await registerOnInstance(tm, instance);
    await runTask(tm, framework, agent, 'spot-task');
    stub.waiting.add(instance);
    await handleFleetEvent(tm.master, group, SETTINGS, lifecycleEvent(GROUP, HOOK, instance));
    const before = stub.calls.length;

    const outcome = await handleFleetEvent(tm.master, group, SETTINGS, spotInterruptionEvent(instance));
    expect(outcome).toEqual({ kind: 'draining', instanceId: instance, agents: 1, completed: false });
    const drain = (await commands(tm, agent)).filter((command) => command.type === 'DRAIN');
    expect(drain).toEqual([
      { type: 'DRAIN', max_grace_period_seconds: SETTINGS.spotKillGraceSeconds, mark_gone: false },
    ]);
    const record = await tm.master.registrar.agents.get(agent.agentId);
    expect(record?.drain?.deadline).toBeLessThanOrEqual(tm.master.now());
    expect(record?.drain?.killSentAt).toBeDefined();
    // EC2 reclaims the instance itself: no lifecycle call is made for the notice.
    expect(stub.calls.length).toBe(before);

    // A later scale-in notice keeps the earlier deadline and does not send DRAIN again.
    await handleFleetEvent(tm.master, group, SETTINGS, lifecycleEvent(GROUP, HOOK, instance));
    expect((await tm.master.registrar.agents.get(agent.agentId))?.drain).toEqual(record?.drain);
    expect((await commands(tm, agent, 0)).filter((command) => command.type === 'DRAIN')).toEqual([]);
  });
});
