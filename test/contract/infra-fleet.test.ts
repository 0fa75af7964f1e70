/**
 * The fleet against a real master: instances that stop take their agents at once (EventBridge's
 * state-change event, and the sweeper's EC2 check of silent agents), the demand gauges the group scales
 * on, scale-in protection that follows the work, and the tag that lets an agent read its own command
 * queue. EC2 and Auto Scaling are the Query-protocol stub; DynamoDB and SQS the stand-ins.
 */
import { ListQueueTagsCommand, QueueDoesNotExist } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENT_QUEUE_TAG,
  agentQueueTaggerFromEnvironment,
  agentSessionId,
} from '../../functions/fleet/agent-queues.js';
import { AgentAutoScalingGroup } from '../../functions/fleet/autoscaling.js';
import { Ec2InstanceStates } from '../../functions/fleet/ec2.js';
import { fleetTick } from '../../functions/fleet/tick.js';
import { handleFleetEvent } from '../../functions/fleet/fleet-events.js';
import { DEFAULT_DRAIN_SETTINGS } from '../../functions/fleet/drain.js';
import type { FleetGauges } from '../../functions/fleet/demand.js';
import { markAgentsOfLostInstancesGone } from '../../functions/fleet/instances.js';
import { lastHeardSince, sweep } from '../../functions/fleet/sweeper.js';
import type { AgentRecord } from '../../functions/registrar/index.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import {
  FRAMEWORK,
  heartbeat,
  offer,
  resources,
  subscribe,
  type TestAgent,
  type TestFramework,
} from '../support/scheduler.js';
import { instanceId, registerOnInstance, runTask, stateChangeEvent } from './infra-agents.js';
import { startAwsStub, type AwsStub } from './infra-aws-stub.js';

const GROUP = 'mantle-fleet-agents';
const HOOK = 'mantle-drain';

let tm: TestMaster;
let stub: AwsStub;
let group: AgentAutoScalingGroup;
let aware: TestFramework;
let legacy: TestFramework;

beforeAll(async () => {
  tm = await startTestMaster({
    heartbeatIntervalSeconds: 3600,
    reconnectGraceSeconds: 3600,
    maxStreamSeconds: 24 * 3600,
    agentPingTimeoutSeconds: 15,
  });
  stub = await startAwsStub({ name: GROUP, hook: HOOK });
  group = new AgentAutoScalingGroup(GROUP, HOOK, stub.autoScaling());
  aware = await subscribe(tm, { ...FRAMEWORK, failover_timeout: 3600 });
  legacy = await subscribe(tm, {
    user: 'old',
    name: 'legacy',
    failover_timeout: 3600,
    capabilities: [{ type: 'GPU_RESOURCES' }],
  });
});
afterAll(async () => {
  aware.close();
  legacy.close();
  await stub.close();
  await tm.close();
});

async function record(agent: TestAgent): Promise<AgentRecord> {
  const found = await tm.master.registrar.agents.get(agent.agentId);
  if (!found) throw new Error('no such agent');
  return found;
}

describe('an instance that stops or shuts down', () => {
  it('takes its agent with it at once: tasks GONE (LOST without PARTITION_AWARE), FAILURE, queue deleted', async () => {
    const instance = instanceId();
    const agent = await registerOnInstance(tm, instance);
    await runTask(tm, aware, agent, 'aware-task');
    await runTask(tm, legacy, agent, 'legacy-task');

    const outcome = await handleFleetEvent(
      tm.master,
      group,
      DEFAULT_DRAIN_SETTINGS,
      stateChangeEvent(instance, 'shutting-down'),
    );
    expect(outcome).toEqual({ kind: 'lost', instanceId: instance, agentsGone: 1 });
    const gone = await aware.update('aware-task', 'TASK_GONE');
    expect(gone.reason).toBe('REASON_AGENT_REMOVED');
    expect(gone.message).toContain(instance);
    expect((await legacy.update('legacy-task', 'TASK_LOST')).reason).toBe('REASON_AGENT_REMOVED');
    await aware.next((e) => e.type === 'FAILURE' && e.failure?.agent_id?.value === agent.agentId);
    const after = await record(agent);
    expect(after.status).toBe('GONE');
    expect(after.tasks).toEqual({});
    expect((await tm.master.registrar.tasks.get(aware.frameworkId, 'aware-task'))?.state).toBe('TASK_GONE');
    await expect(tm.master.queues.receive(agent.commandQueueUrl, { waitSeconds: 0 })).rejects.toBeInstanceOf(
      QueueDoesNotExist,
    );
    // A gone agent's heartbeats count for nothing (it finds its queue gone, and re-registers afresh).
    expect(await heartbeat(tm, agent, `AROAEXAMPLE:${instance}`)).toMatchObject({ recorded: 0, reregister: 0 });
    // The next event for the same instance finds nothing left to do.
    expect(
      await handleFleetEvent(tm.master, group, DEFAULT_DRAIN_SETTINGS, stateChangeEvent(instance, 'stopping')),
    ).toEqual({
      kind: 'lost',
      instanceId: instance,
      agentsGone: 0,
    });
  });

  it('is found by the sweeper check: silent agents whose instances EC2 reports stopped, terminated or unknown', async () => {
    const terminated = await registerOnInstance(tm, instanceId());
    const running = await registerOnInstance(tm, instanceId());
    const missing = await registerOnInstance(tm, instanceId());
    const fresh = await registerOnInstance(tm, instanceId());
    const instanceOf = async (agent: TestAgent) =>
      (await record(agent)).attributes.find((a) => a.name === 'instance_id')?.text?.value as string;
    stub.states.set(await instanceOf(terminated), 'terminated');
    stub.states.set(await instanceOf(running), 'running');
    stub.states.set(await instanceOf(fresh), 'stopped');
    await runTask(tm, aware, terminated, 'on-terminated');

    tm.advance(20_000);
    expect((await heartbeat(tm, fresh, `AROAEXAMPLE:${await instanceOf(fresh)}`)).recorded).toBe(1);
    const agents = await Promise.all([terminated, running, missing, fresh].map(record));
    const heard = await lastHeardSince(tm.master, tm.master.now() - 60_000);
    const gone = await markAgentsOfLostInstancesGone(tm.master, new Ec2InstanceStates(stub.ec2()), agents, heard);
    expect(gone).toBe(2);
    expect((await record(terminated)).status).toBe('GONE');
    expect((await record(missing)).status).toBe('GONE');
    expect((await record(running)).status).toBe('ACTIVE');
    expect((await record(fresh)).status).toBe('ACTIVE');
    await aware.update('on-terminated', 'TASK_GONE');
    // One call, for the silent agents only: an agent that heartbeats is not asked about.
    const describes = stub.callsOf('DescribeInstances');
    expect(describes).toHaveLength(1);
    const asked = Object.entries(describes[0]?.params ?? {})
      .filter(([key]) => key.startsWith('Filter.1.Value.'))
      .map(([, value]) => value);
    expect(asked.sort()).toEqual(
      [await instanceOf(terminated), await instanceOf(running), await instanceOf(missing)].sort(),
    );

    // Nothing silent: EC2 is not called at all.
    const calls = stub.calls.length;
    expect(
      await markAgentsOfLostInstancesGone(tm.master, new Ec2InstanceStates(stub.ec2()), [await record(fresh)], heard),
    ).toBe(0);
    expect(stub.calls.length).toBe(calls);
  });

  it("runs in the sweeper's pass, before the ping timeout would have caught the agent", async () => {
    const agent = await registerOnInstance(tm, instanceId());
    const instance = (await record(agent)).attributes.find((a) => a.name === 'instance_id')?.text?.value as string;
    stub.states.set(instance, 'stopped');
    tm.advance(20_000); // silent past one ping timeout, far short of agent_ping_timeout × max_agent_ping_timeouts
    const report = await sweep(tm.master, { instances: new Ec2InstanceStates(stub.ec2()) });
    expect(report.gone).toBeGreaterThanOrEqual(1);
    expect(report.unreachable).toBe(0);
    expect((await record(agent)).status).toBe('GONE');
  });
});

describe('the fleet tick', () => {
  it('publishes the agents that requested tasks need beyond what free agents hold, until the request goes stale', async () => {
    const published: FleetGauges[] = [];
    const publish = (gauges: FleetGauges) => published.push(gauges);
    const before = (await fleetTick(tm.master, group, DEFAULT_DRAIN_SETTINGS, publish)).gauges;
    expect(published).toEqual([before]);
    expect(before).toMatchObject({ pendingGpus: 0, agentsNeeded: 0 });

    // Tasks of one GPU each: the free GPUs (on agents with CPUs and memory to spare) hold that many; 3 wait.
    const requested = before.freeGpus + 3;
    const call = await aware.call('REQUEST', {
      request: { requests: [{ resources: resources('cpus:1;mem:128;gpus:1'), count: requested }] },
    });
    expect(call.status).toBe(202);
    const waiting = (await fleetTick(tm.master, group, DEFAULT_DRAIN_SETTINGS, publish)).gauges;
    expect(waiting).toMatchObject({
      requestedTasks: requested,
      requestedGpus: requested,
      pendingTasks: 3,
      pendingGpus: 3,
      agentsNeeded: 3,
      scaleInCandidates: 0,
    });

    // A new agent with two free GPUs holds two of them.
    await registerOnInstance(tm, instanceId(), 'cpus:8;mem:8192;gpus:2');
    const less = (await fleetTick(tm.master, group, DEFAULT_DRAIN_SETTINGS, publish)).gauges;
    expect(less).toMatchObject({ pendingGpus: 1, agentsNeeded: 1 });

    tm.advance(16 * 60_000);
    const stale = (await fleetTick(tm.master, group, DEFAULT_DRAIN_SETTINGS, publish)).gauges;
    expect(stale).toMatchObject({ requestedGpus: 0, pendingGpus: 0, agentsNeeded: 0 });
    expect(stale.scaleInCandidates).toBe(stale.idleAgents);
  });

  it('protects instances with work from scale-in and unprotects idle ones', async () => {
    const busyInstance = instanceId();
    const idleInstance = instanceId();
    const offeredInstance = instanceId();
    const busy = await registerOnInstance(tm, busyInstance);
    await registerOnInstance(tm, idleInstance);
    const offered = await registerOnInstance(tm, offeredInstance);
    await runTask(tm, aware, busy, 'protected-task');
    await offer(tm, aware, offered, 'cpus:1;mem:64');
    stub.inService.set(busyInstance, false);
    stub.inService.set(idleInstance, true);
    stub.inService.set(offeredInstance, false);
    stub.inService.set('i-booting', false);

    const report = await fleetTick(tm.master, group, DEFAULT_DRAIN_SETTINGS, () => undefined);
    expect([...report.protected].sort()).toEqual([busyInstance, offeredInstance].sort());
    expect(report.unprotected).toEqual([idleInstance]);
    expect(stub.inService.get(busyInstance)).toBe(true);
    expect(stub.inService.get(idleInstance)).toBe(false);
    expect(stub.inService.get('i-booting')).toBe(false);
    // Settled: the next tick changes nothing.
    const calls = stub.callsOf('SetInstanceProtection').length;
    await fleetTick(tm.master, group, DEFAULT_DRAIN_SETTINGS, () => undefined);
    expect(stub.callsOf('SetInstanceProtection')).toHaveLength(calls);
  });

  it('publishes the demand before anything that can fail, and fails the tick when Auto Scaling does', async () => {
    const published: FleetGauges[] = [];
    stub.failNext('DescribeAutoScalingGroups');
    await expect(
      fleetTick(tm.master, group, DEFAULT_DRAIN_SETTINGS, (gauges) => published.push(gauges)),
    ).rejects.toThrow();
    expect(published).toHaveLength(1);
  });
});

describe("an agent's command queue", () => {
  it('is tagged with the role session of its instance, so only that instance may read it', async () => {
    const instance = instanceId();
    const agent = await registerOnInstance(tm, instance);
    const tag = agentQueueTaggerFromEnvironment(tm.clients.sqs, { MANTLE_AGENT_ROLE_ID: 'AROAEXAMPLEROLEID' });
    expect(tag).toBeDefined();
    await tag?.(agent.commandQueueUrl, agentSessionId('AROAEXAMPLEROLEID', instance));
    const tags = await tm.clients.sqs.send(new ListQueueTagsCommand({ QueueUrl: agent.commandQueueUrl }));
    expect(tags.Tags).toEqual({ [AGENT_QUEUE_TAG]: `AROAEXAMPLEROLEID:${instance}` });
  });

  it('is not tagged outside AWS (no agents role)', () => {
    expect(agentQueueTaggerFromEnvironment(tm.clients.sqs, {})).toBeUndefined();
  });
});
