/**
 * Every scheduler call over raw HTTP, with its effects: the registrar, the agent's command queue and
 * the events the framework receives (docs/scheduler-api.md, "Calls").
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Event } from '#shared/protocol/scheduler.js';
import { quantities } from '#shared/resources/resources.js';
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

let tm: TestMaster;
let agent: TestAgent;
let framework: TestFramework;
beforeAll(async () => {
  tm = await startTestMaster();
  agent = await registerAgent(tm, 'cpus:16;mem:16384;gpus:4;disk:100000;ports:[31000-31099]');
  framework = await subscribe(tm);
});
afterAll(async () => {
  framework.close();
  await tm.close();
});

const updates = (f: TestFramework, taskId: string) =>
  f.stream.events.filter(
    (e): e is Event & { update: NonNullable<Event['update']> } =>
      e.type === 'UPDATE' && e.update?.status.task_id.value === taskId,
  );

describe('ACCEPT', () => {
  it('launches valid tasks: one ledger write, task rows in STAGING, a LAUNCH command, a filter on the rest', async () => {
    const made = await offer(tm, framework, agent, 'cpus:4;mem:4096;gpus:2;ports:[31000-31009]');
    const response = await framework.call(
      'ACCEPT',
      launch([made.offerId], [commandTask('web-1', agent, 'cpus:1;mem:512;gpus:1;ports:[31000-31000]')], {
        refuse_seconds: 60,
      }),
    );
    expect(response.status).toBe(202);
    const sent = await commands(tm, agent);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      type: 'LAUNCH',
      task: { task_id: { value: 'web-1' } },
      framework_id: { value: framework.frameworkId },
    });
    const row = await tm.master.registrar.tasks.get(framework.frameworkId, 'web-1');
    expect(row).toMatchObject({ state: 'TASK_STAGING', agentId: agent.agentId });
    const ledger = await tm.master.registrar.agents.get(agent.agentId);
    expect(ledger?.offers[made.offerId]).toBeUndefined();
    expect(Object.keys(ledger?.tasks ?? {})).toContain(`${framework.frameworkId}/web-1`);
    const filter = (await tm.master.registrar.filters.of(framework.frameworkId))[`* ${agent.agentId}`];
    expect(quantities(filter?.resources ?? [])).toEqual({ cpus: 3, mem: 3584, gpus: 1, ports: 9 });
    expect(filter?.expiresAt).toBeGreaterThan(tm.master.now() + 55_000);
  });

  it('answers invalid tasks with TASK_ERROR / REASON_TASK_INVALID, fractional GPUs included', async () => {
    const made = await offer(tm, framework, agent, 'cpus:2;mem:1024;gpus:1');
    await framework.call(
      'ACCEPT',
      launch(
        [made.offerId],
        [
          commandTask('half-gpu', agent, 'cpus:0.5;mem:64', {
            resources: [...resources('cpus:0.5;mem:64'), { name: 'gpus', type: 'SCALAR', scalar: { value: 0.5 } }],
          }),
          commandTask('too-big', agent, 'cpus:8;mem:64'),
          commandTask('no-command', agent, 'cpus:0.1;mem:32', { command: undefined }),
          commandTask('bad/id', agent),
          commandTask('wrong-agent', { ...agent, agentId: 'elsewhere' }),
          commandTask('bad-health', agent, 'cpus:0.1;mem:32', {
            health_check: { type: 'HTTP', http: { port: 80, path: 'health' } },
          }),
          commandTask('ok-one', agent, 'cpus:1;mem:512'),
          commandTask('ok-one', agent, 'cpus:0.1;mem:32'),
        ],
      ),
    );
    for (const [taskId, why] of [
      ['half-gpu', /'gpus' resource must be an unsigned integer/],
      ['too-big', /more than available/],
      ['no-command', /at least one of 'command' or 'executor'/],
      ['bad/id', /contains '\/'/],
      ['wrong-agent', /offers are from/],
      ['bad-health', /must start with '\/'/],
    ] as const) {
      const status = await framework.update(taskId, 'TASK_ERROR');
      expect(status, taskId).toMatchObject({ source: 'SOURCE_MASTER', reason: 'REASON_TASK_INVALID' });
      expect(status.message).toMatch(why);
      expect(status.uuid).toBeUndefined();
    }
    // The second task with the same id is refused; the first launches.
    const duplicate = await framework.update('ok-one', 'TASK_ERROR');
    expect(duplicate.message).toMatch(/duplicate ID/);
    expect((await commands(tm, agent)).map((c) => (c.type === 'LAUNCH' ? c.task.task_id.value : c.type))).toEqual([
      'ok-one',
    ]);
  });

  it('drops tasks of invalid offers: TASK_DROPPED for partition-aware frameworks, TASK_LOST for others', async () => {
    const made = await offer(tm, framework, agent, 'cpus:1;mem:128');
    await framework.call('ACCEPT', launch([made.offerId], [commandTask('first', agent, 'cpus:1;mem:128')]));
    await framework.call('ACCEPT', launch([made.offerId], [commandTask('stale', agent, 'cpus:1;mem:128')]));
    expect(await framework.update('stale', 'TASK_DROPPED')).toMatchObject({ reason: 'REASON_INVALID_OFFERS' });

    const legacy = await subscribe(tm, { user: 'u', name: 'legacy' });
    await commands(tm, agent); // the first launch
    await legacy.call('ACCEPT', launch([`${agent.agentId}-Onotanoffer`], [commandTask('lost', agent)]));
    expect(await legacy.update('lost', 'TASK_LOST')).toMatchObject({ reason: 'REASON_INVALID_OFFERS' });

    // Offers from two agents in one ACCEPT.
    const second = await registerAgent(tm, 'cpus:2;mem:2048');
    const a = await offer(tm, framework, agent, 'cpus:1;mem:128');
    const b = await offer(tm, framework, second, 'cpus:1;mem:128');
    await framework.call('ACCEPT', launch([a.offerId, b.offerId], [commandTask('split', agent)]));
    expect((await framework.update('split', 'TASK_DROPPED')).message).toMatch(/more than one agent/);
    legacy.close();
  });

  it('launches a task group with the DEFAULT executor, all or nothing', async () => {
    const made = await offer(tm, framework, agent, 'cpus:3;mem:2048;disk:200');
    const group = (tasks: unknown[], executorType = 'DEFAULT') => ({
      accept: {
        offer_ids: [{ value: made.offerId }],
        operations: [
          {
            type: 'LAUNCH_GROUP',
            launch_group: {
              executor: {
                type: executorType,
                executor_id: { value: 'exec' },
                resources: resources('cpus:0.1;mem:32;disk:10'),
              },
              task_group: { tasks },
            },
          },
        ],
      },
    });
    const member = (id: string) => ({ ...commandTask(id, agent, 'cpus:0.5;mem:128') });
    await framework.call('ACCEPT', group([member('g-1'), member('g-2')], 'CUSTOM'));
    expect((await framework.update('g-1', 'TASK_ERROR')).reason).toBe('REASON_TASK_GROUP_INVALID');
    expect((await framework.update('g-2', 'TASK_ERROR')).reason).toBe('REASON_TASK_GROUP_INVALID');

    const again = await offer(tm, framework, agent, 'cpus:3;mem:2048;disk:200');
    await framework.call('ACCEPT', {
      accept: { ...group([member('h-1'), member('h-2')]).accept, offer_ids: [{ value: again.offerId }] },
    });
    const sent = await commands(tm, agent);
    expect(sent.map((c) => c.type)).toEqual(['LAUNCH_GROUP']);
    expect(sent[0]?.type === 'LAUNCH_GROUP' && sent[0].task_group.tasks?.map((t) => t.task_id.value)).toEqual([
      'h-1',
      'h-2',
    ]);
  });

  it('launches a task group with a CUSTOM executor, validated by Mesos rules', async () => {
    const custom = {
      type: 'CUSTOM',
      executor_id: { value: 'custom-exec' },
      command: { value: './my-executor' },
      resources: resources('cpus:0.1;mem:32;disk:10'),
    };
    const group = (offerId: string, tasks: unknown[], executor: unknown) => ({
      accept: {
        offer_ids: [{ value: offerId }],
        operations: [{ type: 'LAUNCH_GROUP', launch_group: { executor, task_group: { tasks } } }],
      },
    });
    const member = (id: string, extra: object = {}) => ({ ...commandTask(id, agent, 'cpus:0.5;mem:128'), ...extra });
    // A task naming another executor, a CUSTOM executor in a Docker container, another framework's id.
    const other = { ...custom, executor_id: { value: 'other' } };
    const docker = { ...custom, container: { type: 'DOCKER', docker: { image: 'busybox' } } };
    const foreign = { ...custom, framework_id: { value: 'someone-else' } };
    for (const [executor, tasks, why] of [
      [custom, [member('c-1'), member('c-2', { executor: other })], /differs from the task group's executor/],
      [docker, [member('c-3')], /Docker ContainerInfo is not allowed in a task group/],
      [foreign, [member('c-4')], /invalid FrameworkID/],
    ] as const) {
      const made = await offer(tm, framework, agent, 'cpus:3;mem:2048;disk:200');
      await framework.call('ACCEPT', group(made.offerId, [...tasks], executor));
      for (const task of tasks) {
        const status = await framework.update(task.task_id.value, 'TASK_ERROR');
        expect(status).toMatchObject({ source: 'SOURCE_MASTER', reason: 'REASON_TASK_GROUP_INVALID' });
        expect(status.message).toMatch(why);
      }
    }

    const again = await offer(tm, framework, agent, 'cpus:3;mem:2048;disk:200');
    await framework.call('ACCEPT', group(again.offerId, [member('d-1'), member('d-2', { executor: custom })], custom));
    const sent = await commands(tm, agent);
    expect(sent.map((c) => c.type)).toEqual(['LAUNCH_GROUP']);
    const command = sent[0];
    expect(command?.type === 'LAUNCH_GROUP' && command.executor).toMatchObject({
      type: 'CUSTOM',
      executor_id: { value: 'custom-exec' },
      command: { value: './my-executor' },
    });
    expect(command?.type === 'LAUNCH_GROUP' && command.task_group.tasks?.map((t) => t.task_id.value)).toEqual([
      'd-1',
      'd-2',
    ]);
  });

  it('reserves, launches on the reservation, then unreserves — converting the agent total', async () => {
    const made = await offer(tm, framework, agent, 'cpus:2;mem:1024');
    // A reservation must be for the offers' role; these offers are for '*'.
    const reserved = resources('cpus:2').map((r) => ({
      ...r,
      reservations: [{ type: 'DYNAMIC', role: 'ml', principal: 'tester' }],
    }));
    await framework.call('ACCEPT', {
      accept: {
        offer_ids: [{ value: made.offerId }],
        operations: [{ type: 'RESERVE', id: { value: 'op-1' }, reserve: { resources: reserved } }],
      },
    });
    const refused = await framework.next(
      (e) => e.type === 'UPDATE_OPERATION_STATUS' && e.update_operation_status?.status.operation_id?.value === 'op-1',
    );
    expect(refused.update_operation_status?.status.state).toBe('OPERATION_ERROR');

    const ml = await subscribe(tm, { ...FRAMEWORK, name: 'ml', role: 'ml', principal: 'ml-team' });
    const mlOffer = await offer(tm, ml, agent, 'cpus:2;mem:1024', 'ml');
    const mlReserved = resources('cpus:2').map((r) => ({
      ...r,
      reservations: [{ type: 'DYNAMIC', role: 'ml', principal: 'ml-team' }],
    }));
    await ml.call('ACCEPT', {
      accept: {
        offer_ids: [{ value: mlOffer.offerId }],
        operations: [
          { type: 'RESERVE', id: { value: 'reserve' }, reserve: { resources: mlReserved } },
          {
            type: 'LAUNCH',
            launch: {
              task_infos: [
                commandTask('on-reservation', agent, 'cpus:1;mem:64', {
                  resources: [...mlReserved.map((r) => ({ ...r, scalar: { value: 1 } })), ...resources('mem:64')],
                }),
              ],
            },
          },
        ],
      },
    });
    await ml.next(
      (e) => e.type === 'UPDATE_OPERATION_STATUS' && e.update_operation_status?.status.state === 'OPERATION_FINISHED',
    );
    const after = await tm.master.registrar.agents.get(agent.agentId);
    const reservedCpus = after?.total.filter((r) => r.name === 'cpus' && r.reservations?.[0]?.role === 'ml');
    expect(reservedCpus?.[0]?.scalar?.value).toBe(2);
    expect((await commands(tm, agent)).map((c) => (c.type === 'LAUNCH' ? c.task.task_id.value : c.type))).toEqual([
      'on-reservation',
    ]);
    ml.close();
  });
});

describe('the other calls', () => {
  it('DECLINE recovers the offer with a filter (default 5 s; 0 means none); unknown offers are ignored', async () => {
    const first = await offer(tm, framework, agent, 'cpus:1;mem:64');
    // The clock held: the filter's 5 s are measured from the call's time however long the call and the read take.
    tm.hold();
    expect(
      (await framework.call('DECLINE', { decline: { offer_ids: [{ value: first.offerId }, { value: 'junk' }] } }))
        .status,
    ).toBe(202);
    const expiresAt =
      (await tm.master.registrar.filters.of(framework.frameworkId))[`* ${agent.agentId}`]?.expiresAt ?? 0;
    expect(expiresAt - tm.master.now()).toBe(5_000);
    tm.resume();
    expect((await tm.master.registrar.agents.get(agent.agentId))?.offers[first.offerId]).toBeUndefined();

    await framework.call('REVIVE');
    const second = await offer(tm, framework, agent, 'cpus:1;mem:64');
    await framework.call('DECLINE', {
      decline: { offer_ids: [{ value: second.offerId }], filters: { refuse_seconds: 0 } },
    });
    expect(await tm.master.registrar.filters.of(framework.frameworkId)).toEqual({});
    expect(tm.allocation.triggers.some((t) => t.trigger.reason === 'RESOURCES_RECOVERED')).toBe(true);
  });

  it('DECLINE of several offers of one agent, among thousands of unknown ids, filters what they held together', async () => {
    await framework.call('REVIVE');
    const held = [
      await offer(tm, framework, agent, 'cpus:1;mem:64;ports:[31010-31011]'),
      await offer(tm, framework, agent, 'cpus:2;mem:128;ports:[31020-31020]'),
      await offer(tm, framework, agent, 'cpus:0.5;mem:32'),
    ];
    const unknown = Array.from({ length: 1500 }, (_, i) => ({ value: `${agent.agentId}-Ounknown${i}` }));
    const declined = await framework.call('DECLINE', {
      decline: {
        offer_ids: [...unknown, ...held.map((o) => ({ value: o.offerId })), { value: held[0]?.offerId }],
        filters: { refuse_seconds: 60 },
      },
    });
    expect(declined.status, declined.body).toBe(202);
    const ledger = await tm.master.registrar.agents.get(agent.agentId);
    for (const o of held) expect(ledger?.offers[o.offerId]).toBeUndefined();
    const filter = (await tm.master.registrar.filters.of(framework.frameworkId))[`* ${agent.agentId}`];
    expect(quantities(filter?.resources ?? [])).toEqual({ cpus: 3.5, mem: 224, ports: 3 });
    await framework.call('REVIVE');
  });

  it('SUPPRESS and REVIVE change the suppressed roles; unknown roles are a 400', async () => {
    expect((await framework.call('SUPPRESS', { suppress: { roles: ['*'] } })).status).toBe(202);
    expect((await tm.master.registrar.frameworks.get(framework.frameworkId))?.suppressedRoles).toEqual(['*']);
    expect((await framework.call('SUPPRESS', { suppress: { roles: ['ops'] } })).status).toBe(400);
    expect((await framework.call('REVIVE', { revive: { roles: ['*'] } })).status).toBe(202);
    expect((await tm.master.registrar.frameworks.get(framework.frameworkId))?.suppressedRoles).toEqual([]);
    expect(
      tm.allocation.triggers.some(
        (t) => t.trigger.reason === 'REVIVE' && t.trigger.frameworkId === framework.frameworkId,
      ),
    ).toBe(true);
  });

  it('forwards status updates, and turns ACKNOWLEDGE into an acknowledgement to the agent', async () => {
    const made = await offer(tm, framework, agent, 'cpus:1;mem:64');
    await framework.call('ACCEPT', launch([made.offerId], [commandTask('acked', agent, 'cpus:1;mem:64')]));
    await commands(tm, agent);
    const running = uuid();
    await sendStatus(tm, agent, framework.frameworkId, {
      task_id: { value: 'acked' },
      state: 'TASK_RUNNING',
      uuid: running,
    });
    const update = await framework.update('acked', 'TASK_RUNNING');
    expect(update.uuid).toBe(running);
    expect(update.agent_id?.value).toBe(agent.agentId);
    const response = await framework.call('ACKNOWLEDGE', {
      acknowledge: { agent_id: { value: agent.agentId }, task_id: { value: 'acked' }, uuid: running },
    });
    expect(response.status).toBe(202);
    expect(await commands(tm, agent)).toEqual([
      {
        type: 'ACKNOWLEDGE',
        framework_id: { value: framework.frameworkId },
        task_id: { value: 'acked' },
        uuid: running,
      },
    ]);
    // A terminal update frees the task's resources at once.
    const finished = uuid();
    await sendStatus(tm, agent, framework.frameworkId, {
      task_id: { value: 'acked' },
      state: 'TASK_FINISHED',
      uuid: finished,
    });
    await framework.update('acked', 'TASK_FINISHED');
    expect(Object.keys((await tm.master.registrar.agents.get(agent.agentId))?.tasks ?? {})).not.toContain(
      `${framework.frameworkId}/acked`,
    );
    await framework.call('ACKNOWLEDGE', {
      acknowledge: { agent_id: { value: agent.agentId }, task_id: { value: 'acked' }, uuid: finished },
    });
    expect((await tm.master.registrar.tasks.get(framework.frameworkId, 'acked'))?.acknowledged).toBe(true);
    // Acknowledging someone else's task, or with the wrong agent, does nothing (still 202, as Mesos).
    const wrong = await framework.call('ACKNOWLEDGE', {
      acknowledge: { agent_id: { value: 'other-agent' }, task_id: { value: 'acked' }, uuid: finished },
    });
    expect(wrong.status).toBe(202);
    await commands(tm, agent);

    // The agent resends the terminal update (the master's acknowledgement got lost): the framework,
    // which acknowledged it, does not see it again; the agent is acknowledged again.
    await sendStatus(tm, agent, framework.frameworkId, {
      task_id: { value: 'acked' },
      state: 'TASK_FINISHED',
      uuid: finished,
    });
    const resent = await commands(tm, agent, 5);
    expect(resent).toEqual([
      {
        type: 'ACKNOWLEDGE',
        framework_id: { value: framework.frameworkId },
        task_id: { value: 'acked' },
        uuid: finished,
      },
    ]);
    const finishedUpdates = framework.stream.events.filter(
      (e) =>
        e.type === 'UPDATE' && e.update?.status.task_id.value === 'acked' && e.update.status.state === 'TASK_FINISHED',
    );
    expect(finishedUpdates).toHaveLength(1);
  });

  it('KILL sends a kill to the agent; an unknown task is answered by reconciliation', async () => {
    const made = await offer(tm, framework, agent, 'cpus:1;mem:64');
    await framework.call('ACCEPT', launch([made.offerId], [commandTask('victim', agent, 'cpus:1;mem:64')]));
    await commands(tm, agent);
    const policy = { grace_period: { nanoseconds: 2_000_000_000 } };
    await framework.call('KILL', { kill: { task_id: { value: 'victim' }, kill_policy: policy } });
    expect(await commands(tm, agent)).toEqual([
      {
        type: 'KILL',
        framework_id: { value: framework.frameworkId },
        task_id: { value: 'victim' },
        kill_policy: policy,
      },
    ]);
    await framework.call('KILL', { kill: { task_id: { value: 'victim' }, agent_id: { value: 'some-other-agent' } } });
    expect(await commands(tm, agent, 0)).toEqual([]);
    await framework.call('KILL', { kill: { task_id: { value: 'never-launched' } } });
    expect(await framework.update('never-launched', 'TASK_UNKNOWN')).toMatchObject({ reason: 'REASON_RECONCILIATION' });
  });

  it('RECONCILE answers implicitly and in the Mesos cases explicitly', async () => {
    await framework.call('RECONCILE', { reconcile: { tasks: [] } });
    await framework.update('web-1', 'TASK_STAGING');
    const gone = await registerAgent(tm, 'cpus:1;mem:64');
    await tm.master.registrar.agents.markGone(gone.agentId);
    const unreachable = await registerAgent(tm, 'cpus:1;mem:64');
    await tm.master.registrar.agents.markUnreachable(unreachable.agentId, tm.master.now() + 1);
    const explicit = await framework.call('RECONCILE', {
      reconcile: {
        tasks: [
          { task_id: { value: 'web-1' } },
          { task_id: { value: 'x1' }, agent_id: { value: agent.agentId } },
          { task_id: { value: 'x2' }, agent_id: { value: unreachable.agentId } },
          { task_id: { value: 'x3' }, agent_id: { value: gone.agentId } },
          { task_id: { value: 'x4' }, agent_id: { value: 'no-such-agent' } },
          { task_id: { value: 'x5' } },
        ],
      },
    });
    expect(explicit.body).toBe('');
    expect(explicit.status).toBe(202);
    expect(await framework.update('x1', 'TASK_GONE')).toMatchObject({
      reason: 'REASON_RECONCILIATION',
      source: 'SOURCE_MASTER',
    });
    expect((await framework.update('x2', 'TASK_UNREACHABLE')).unreachable_time?.nanoseconds).toBeGreaterThan(0);
    await framework.update('x3', 'TASK_GONE_BY_OPERATOR');
    await framework.update('x4', 'TASK_UNKNOWN');
    await framework.update('x5', 'TASK_UNKNOWN');
    expect(
      updates(framework, 'web-1').filter((e) => e.update.status.reason === 'REASON_RECONCILIATION').length,
    ).toBeGreaterThanOrEqual(2);
  });

  it('SHUTDOWN and MESSAGE reach the agent; REQUEST is recorded as pending demand', async () => {
    await framework.call('SHUTDOWN', {
      shutdown: { executor_id: { value: 'web-1' }, agent_id: { value: agent.agentId } },
    });
    const data = Buffer.from('hello executor').toString('base64');
    await framework.call('MESSAGE', {
      message: { agent_id: { value: agent.agentId }, executor_id: { value: 'web-1' }, data },
    });
    expect((await commands(tm, agent)).map((c) => c.type)).toEqual(['SHUTDOWN_EXECUTOR', 'FRAMEWORK_MESSAGE']);
    const requests = [{ resources: resources('gpus:8') }];
    expect((await framework.call('REQUEST', { request: { requests } })).status).toBe(202);
    expect((await tm.master.registrar.frameworks.get(framework.frameworkId))?.requests?.requests).toEqual(requests);
    for (const type of ['ACCEPT_INVERSE_OFFERS', 'DECLINE_INVERSE_OFFERS']) {
      const key = type.toLowerCase();
      expect((await framework.call(type, { [key]: { inverse_offer_ids: [{ value: 'x' }] } })).status).toBe(202);
    }
  });

  it('the stream drops what in its queue is not an event (not JSON, or not of the shape) and goes on', async () => {
    const url = (await tm.master.registrar.frameworks.get(framework.frameworkId))?.eventQueueUrl as string;
    const data = Buffer.from('after the junk').toString('base64');
    const event: Event = {
      type: 'MESSAGE',
      message: { agent_id: { value: agent.agentId }, executor_id: { value: 'web-1' }, data },
    };
    for (const [i, body] of ['not json at all', JSON.stringify({ type: 'NOPE' }), JSON.stringify(event)].entries()) {
      await tm.clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: url,
          MessageBody: body,
          MessageGroupId: 'junk',
          MessageDeduplicationId: `junk-${framework.frameworkId}-${i}`,
        }),
      );
    }
    const delivered = await framework.next((e) => e.type === 'MESSAGE');
    expect(delivered.message?.data).toBe(data);
    expect((await framework.call('REVIVE', {})).status).toBe(202);
  });

  it('UPDATE_FRAMEWORK answers 200, rescinds offers of roles given up, refuses immutable changes', async () => {
    const multi = await subscribe(tm, {
      ...FRAMEWORK,
      name: 'multi',
      roles: ['a', 'b'],
      capabilities: [...(FRAMEWORK.capabilities ?? []), { type: 'MULTI_ROLE' }],
    });
    const offered = await offer(tm, multi, agent, 'cpus:1;mem:64', 'b');
    const update = (info: object) =>
      multi.call('UPDATE_FRAMEWORK', {
        update_framework: { framework_info: { ...multi.info, id: { value: multi.frameworkId }, ...info } },
      });
    const response = await update({ roles: ['a'] });
    expect(response.status).toBe(200);
    await multi.next((e) => e.type === 'RESCIND' && e.rescind?.offer_id.value === offered.offerId);
    expect((await tm.master.registrar.frameworks.get(multi.frameworkId))?.roles).toEqual(['a']);
    expect((await update({ roles: ['a'], user: 'root' })).status).toBe(400);
    multi.close();
  });

  it('RECONCILE_OPERATIONS answers OPERATION_UNKNOWN', async () => {
    await framework.call('RECONCILE_OPERATIONS', {
      reconcile_operations: { operations: [{ operation_id: { value: 'op-x' } }] },
    });
    const event = await framework.next(
      (e) => e.type === 'UPDATE_OPERATION_STATUS' && e.update_operation_status?.status.operation_id?.value === 'op-x',
    );
    expect(event.update_operation_status?.status.state).toBe('OPERATION_UNKNOWN');
  });
});
