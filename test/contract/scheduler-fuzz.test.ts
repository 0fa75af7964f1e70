/**
 * Hostile input at every call (issues 3 and 10), with authentication on as deployed: malformed and
 * hostile bodies — wrong types, huge numbers, deep nesting, unknown enums, other frameworks' ids,
 * Mesos-maximum ids of every character class, arrays of thousands (offer ids, tasks, reconcile entries)
 * — never get a 5xx, never change another framework's state, and leave the registrar's invariants
 * intact. The number of inputs tried is printed at the end.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALL_TYPES } from '#shared/protocol/scheduler.js';
import { ledgerViolation, type AgentRecord } from '../../functions/registrar/index.js';
import { post, statusOfPost } from '../support/http.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import {
  commands,
  commandTask,
  launch,
  offer,
  registerAgent,
  resources,
  subscribe,
  type TestAgent,
  type TestFramework,
} from '../support/scheduler.js';

let tm: TestMaster;
let agent: TestAgent;
let victim: TestFramework;
let attacker: TestFramework;
let victimOfferId: string;
let tried = 0;

const SECRET = 'fuzz-secret-fuzz-secret';
const basic = (principal: string) => ({
  Authorization: `Basic ${Buffer.from(`${principal}:${SECRET}`).toString('base64')}`,
});

async function victimState() {
  const framework = await tm.master.registrar.frameworks.get(victim.frameworkId);
  const task = await tm.master.registrar.tasks.get(victim.frameworkId, 'precious');
  const ledger = (await tm.master.registrar.agents.get(agent.agentId)) as AgentRecord;
  return {
    framework: framework && { ...framework, streamSeenAt: 0, version: 0 },
    task,
    offers: Object.values(ledger.offers).filter((o) => o.frameworkId === victim.frameworkId),
    tasks: Object.values(ledger.tasks).filter((t) => t.frameworkId === victim.frameworkId),
  };
}

beforeAll(async () => {
  tm = await startTestMaster({ authenticate: true });
  for (const principal of ['victim', 'attacker']) {
    await tm.master.registrar.principals.create({ principal, secret: SECRET, kind: 'framework', roles: ['*', 'b'] });
  }
  await tm.master.registrar.principals.create({ principal: 'agents', secret: SECRET, kind: 'agent', roles: [] });
  agent = await registerAgent(tm, 'cpus:64;mem:65536;gpus:4;ports:[31000-31999]', basic('agents'));
  const capabilities = [{ type: 'GPU_RESOURCES' as const }];
  victim = await subscribe(tm, { user: 'v', name: 'victim', capabilities }, { headers: basic('victim') });
  attacker = await subscribe(tm, { user: 'x', name: 'attacker', capabilities }, { headers: basic('attacker') });
  const launched = await offer(tm, victim, agent, 'cpus:2;mem:512');
  await victim.call(
    'ACCEPT',
    launch([launched.offerId], [commandTask('precious', agent, 'cpus:1;mem:256')], { refuse_seconds: 3600 }),
  );
  victimOfferId = (await offer(tm, victim, agent, 'cpus:4;mem:1024;gpus:1')).offerId;
  await commands(tm, agent);
});
afterAll(async () => {
  victim.close();
  attacker.close();
  await tm.close();
  console.log(`scheduler fuzz (authentication on): ${tried} hostile calls tried, 0 answered 5xx`);
});

/** Values a hostile client might put anywhere. */
const junk = fc.oneof(
  fc.anything({ maxDepth: 4 }),
  fc.constantFrom(
    1e308,
    -1e308,
    2 ** 64,
    -1,
    0.5,
    Number.MAX_SAFE_INTEGER + 2,
    'Infinity',
    'NaN',
    '',
    'x'.repeat(5000),
  ),
  fc.constantFrom('TASK_RUNNING', 'SCALAR', 'LAUNCH', 'NOT_AN_ENUM', 'MULTI_ROLE', '*', '../..', '\u0000'),
);

/** Ids that belong to someone else, or to nobody. */
const ids = () =>
  fc.constantFrom(
    { value: victimOfferId },
    { value: 'precious' },
    { value: victim.frameworkId },
    { value: agent.agentId },
    { value: `${agent.agentId}-Oforged` },
    { value: '' },
    { value: 5 },
    'not-an-object',
  );

function payloadFor(type: string) {
  const resource = fc.record({
    name: fc.oneof(fc.constantFrom('cpus', 'mem', 'gpus', 'ports', 'disk'), fc.string()),
    type: fc.oneof(fc.constantFrom('SCALAR', 'RANGES', 'SET', 'TEXT'), junk),
    scalar: fc.record({ value: junk }),
    ranges: fc.record({ range: fc.array(fc.record({ begin: junk, end: junk }), { maxLength: 3 }) }),
    role: fc.oneof(fc.constantFrom('*', 'b', '/x'), junk),
  });
  const task = fc.record({
    name: junk,
    task_id: ids(),
    agent_id: fc.oneof(ids(), fc.constant({ value: agent.agentId })),
    resources: fc.oneof(fc.array(resource, { maxLength: 4 }), fc.constant(resources('cpus:0.1;mem:32')), junk),
    command: fc.oneof(fc.record({ value: junk, shell: junk }), junk),
    kill_policy: fc.oneof(fc.record({ grace_period: fc.record({ nanoseconds: junk }) }), junk),
  });
  const offerIds = fc.array(ids(), { maxLength: 3 });
  const field = type.toLowerCase();
  const body: Record<string, fc.Arbitrary<unknown>> = {
    subscribe: fc.record({
      framework_info: fc.oneof(fc.record({ user: junk, name: junk, roles: junk, capabilities: junk }), junk),
    }),
    accept: fc.record({
      offer_ids: offerIds,
      operations: fc.array(
        fc.record({
          type: fc.oneof(
            fc.constantFrom('LAUNCH', 'LAUNCH_GROUP', 'RESERVE', 'UNRESERVE', 'CREATE', 'DESTROY', 'GROW_VOLUME'),
            junk,
          ),
          launch: fc.record({ task_infos: fc.array(task, { maxLength: 2 }) }),
          reserve: fc.record({ resources: fc.array(resource, { maxLength: 2 }) }),
          unreserve: fc.record({ resources: fc.array(resource, { maxLength: 2 }) }),
        }),
        { maxLength: 2 },
      ),
      filters: fc.record({ refuse_seconds: junk }),
    }),
    decline: fc.record({ offer_ids: offerIds, filters: fc.record({ refuse_seconds: junk }) }),
    kill: fc.record({ task_id: ids(), agent_id: ids(), kill_policy: junk }),
    acknowledge: fc.record({
      agent_id: ids(),
      task_id: ids(),
      uuid: fc.oneof(fc.constant(Buffer.alloc(16).toString('base64')), junk),
    }),
    reconcile: fc.record({ tasks: fc.array(fc.record({ task_id: ids(), agent_id: ids() }), { maxLength: 3 }) }),
    revive: fc.record({ roles: fc.oneof(fc.array(fc.string()), junk) }),
    suppress: fc.record({ roles: fc.oneof(fc.array(fc.string()), junk) }),
    shutdown: fc.record({ executor_id: ids(), agent_id: ids() }),
    message: fc.record({ agent_id: ids(), executor_id: ids(), data: junk }),
    request: fc.record({
      requests: fc.array(fc.record({ agent_id: ids(), resources: fc.array(resource, { maxLength: 2 }) }), {
        maxLength: 2,
      }),
    }),
    update_framework: fc.record({ framework_info: fc.record({ user: junk, name: junk, id: ids(), roles: junk }) }),
  };
  return fc.oneof(body[field] ?? junk, junk);
}

const hostileCall = fc
  .tuple(
    fc.oneof(fc.constantFrom(...CALL_TYPES), junk),
    fc.constantFrom('attacker', 'attacker-as-victim', 'victim-id-only', 'random', 'anonymous'),
  )
  .chain(([type, who]) =>
    fc.record({
      type: fc.constant(type),
      who: fc.constant(who),
      payload: payloadFor(typeof type === 'string' ? type : 'x'),
    }),
  );

/** POSTs a call (a body over the limit may be answered 413 before it is all written); a stream is closed at once. */
function send(body: unknown, headers: Record<string, string>): Promise<number> {
  return statusOfPost(`${tm.url}/api/v1/scheduler`, JSON.stringify(body), { ...basic('attacker'), ...headers });
}

describe('hostile bodies', () => {
  it('never get a 5xx, never change another framework, and keep the ledger invariants', async () => {
    const before = await victimState();
    await fc.assert(
      fc.asyncProperty(hostileCall, async ({ type, who, payload }) => {
        const frameworkId =
          who === 'random'
            ? { value: 'somebody' }
            : who === 'attacker'
              ? { value: attacker.frameworkId }
              : { value: victim.frameworkId };
        const typeName = typeof type === 'string' ? type.toLowerCase() : 'x';
        // Never the victim's own stream id: only the victim may act for the victim.
        const headers: Record<string, string> = {
          ...(who === 'victim-id-only' ? {} : { 'Mesos-Stream-Id': attacker.streamId }),
          ...(who === 'anonymous' ? { Authorization: '' } : {}),
        };
        const body =
          type === 'SUBSCRIBE'
            ? { type, subscribe: payload }
            : { framework_id: frameworkId, type, [typeName]: payload };
        const status = await send(body, headers);
        tried++;
        // 501 is the one 5xx a client can ask for: the UNKNOWN call type (Mesos's Not Implemented).
        if (who === 'anonymous') expect(status).toBe(401);
        else if (type === 'UNKNOWN') expect(status).toBe(501);
        else expect(status, JSON.stringify(body).slice(0, 300)).toBeLessThan(500);
      }),
      { numRuns: 2000 },
    );
    // Raw, structurally hostile bodies.
    const deep = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
    const raw = [
      deep,
      `{"type":"ACCEPT","framework_id":${'{"value":'.repeat(2000)}"x"${'}'.repeat(2000)}}`,
      '\u0000',
      'null',
      '1e999',
    ];
    for (const body of raw) {
      const response = await post(tm.url, body, { 'Mesos-Stream-Id': attacker.streamId, ...basic('attacker') });
      tried++;
      expect(response.status, body.slice(0, 50)).toBeLessThan(500);
    }
    expect(await victimState()).toEqual(before);
    for await (const ledger of tm.master.registrar.agents.list()) expect(ledgerViolation(ledger)).toBeUndefined();
    expect((await victim.call('REVIVE', { revive: { roles: ['*'] } })).status).toBe(202);
  });

  it('Mesos-maximum ids and arrays of thousands, at every call, never get a 5xx', async () => {
    // The first fuzz may have torn the attacker's framework down: a fresh one, so the big arrays reach the calls.
    attacker = await subscribe(
      tm,
      { user: 'x', name: 'attacker', capabilities: [{ type: 'GPU_RESOURCES' as const }] },
      { headers: basic('attacker') },
    );
    const before = await victimState();
    const answered = new Map<number, number>();
    const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).filter(
      (c) => !'/\\'.includes(c),
    );
    const longIds = [
      printable.join('').repeat(3).slice(0, 255),
      'é日😀'.repeat(64).slice(0, 255),
      `${agent.agentId}-O${'z'.repeat(200)}`,
      'x'.repeat(5000),
    ];
    const manyIds = (count: number, make: (i: number) => string) =>
      Array.from({ length: count }, (_, i) => ({ value: make(i) }));
    const big = fc.constantFrom(
      ...longIds.map((id) => ({ value: id })),
      { value: victimOfferId },
      { value: `${agent.agentId}-Oforged` },
    );
    const many = fc.constantFrom(
      manyIds(3000, (i) => `${agent.agentId}-O${i.toString(36)}`),
      manyIds(3000, (i) => `agent-${i}-O${i.toString(36)}`),
      manyIds(2000, (i) => longIds[i % longIds.length] as string),
    );
    const tasks = (count: number, id: (i: number) => string) =>
      Array.from({ length: count }, (_, i) => commandTask(id(i), agent, 'cpus:0.01;mem:1'));
    const bodies: Record<string, fc.Arbitrary<unknown>> = {
      ACCEPT: fc.record({
        offer_ids: fc.oneof(many, fc.array(big, { maxLength: 3 })),
        operations: fc.constantFrom(
          launch(
            [],
            tasks(2000, (i) => `${longIds[i % 2]?.slice(0, 240)}${i}`),
          ).accept.operations,
          launch(
            [],
            tasks(3, (i) => longIds[i] as string),
          ).accept.operations,
        ),
      }),
      DECLINE: fc.record({ offer_ids: fc.oneof(many, fc.array(big, { maxLength: 3 })) }),
      KILL: fc.record({ task_id: big, agent_id: big }),
      ACKNOWLEDGE: fc.record({ task_id: big, agent_id: big, uuid: fc.constant(Buffer.alloc(16).toString('base64')) }),
      RECONCILE: fc.record({
        tasks: fc.constantFrom(
          Array.from({ length: 5000 }, (_, i) => ({ task_id: { value: `t${i}` }, agent_id: { value: agent.agentId } })),
          longIds.map((id) => ({ task_id: { value: id }, agent_id: { value: id } })),
        ),
      }),
      REVIVE: fc.record({
        roles: fc.constantFrom(
          Array.from({ length: 3000 }, (_, i) => `r${i}`),
          longIds,
        ),
      }),
      SUPPRESS: fc.record({
        roles: fc.constantFrom(
          Array.from({ length: 3000 }, (_, i) => `r${i}`),
          longIds,
        ),
      }),
      SHUTDOWN: fc.record({ executor_id: big, agent_id: big }),
      MESSAGE: fc.record({ agent_id: big, executor_id: big, data: fc.constant('eA==') }),
      REQUEST: fc.record({
        requests: fc.constant(Array.from({ length: 3000 }, () => ({ resources: resources('cpus:1') }))),
      }),
      RECONCILE_OPERATIONS: fc.record({
        operations: fc.constant(Array.from({ length: 3000 }, (_, i) => ({ operation_id: { value: `o${i}` } }))),
      }),
      TEARDOWN: fc.constant({}),
    };
    const call = fc.oneof(
      ...Object.entries(bodies).map(([type, payload]) =>
        fc.record({
          type: fc.constant(type),
          payload,
          framework: fc.oneof(fc.constant(attacker.frameworkId), fc.constantFrom(...longIds)),
        }),
      ),
    );
    await fc.assert(
      fc.asyncProperty(call, async ({ type, payload, framework }) => {
        if (type === 'TEARDOWN' && framework === attacker.frameworkId) return;
        const body = { framework_id: { value: framework }, type, [type.toLowerCase()]: payload };
        const status = await send(body, { 'Mesos-Stream-Id': attacker.streamId });
        tried++;
        answered.set(status, (answered.get(status) ?? 0) + 1);
        expect(status, `${type} ${JSON.stringify(body).slice(0, 200)}`).toBeLessThan(500);
      }),
      { numRuns: 60 },
    );
    console.log(`arrays of thousands: answers ${JSON.stringify(Object.fromEntries(answered))}`);
    expect(answered.get(202) ?? 0, 'calls that reached the call code').toBeGreaterThan(0);
    // A SUBSCRIBE naming a framework id of any length or class.
    for (const id of longIds) {
      const status = await send(
        {
          type: 'SUBSCRIBE',
          framework_id: { value: id },
          subscribe: { framework_info: { user: 'x', name: 'n', id: { value: id } } },
        },
        {},
      );
      tried++;
      expect(status, `SUBSCRIBE ${id.slice(0, 40)}`).toBeLessThan(500);
    }
    expect(await victimState()).toEqual(before);
    for await (const ledger of tm.master.registrar.agents.list()) expect(ledgerViolation(ledger)).toBeUndefined();
  }, 240_000);
});
