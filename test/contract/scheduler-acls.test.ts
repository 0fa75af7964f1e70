/**
 * The authorization matrix in the production shape (issue 10): authentication on, one agent principal
 * shared by every agent (as deployed today), the master's safe default ACLs; DynamoDB Local and the SQS
 * stand-in. Each ACL field refused and allowed at ACCEPT, roles at SUBSCRIBE and UPDATE_FRAMEWORK, every
 * call with another framework's id, REQUEST and RECONCILE bounds, body limits, the metrics for operators
 * only, and principals changed, rotated and deleted while the master runs.
 */
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAFE_ACL } from '#shared/acl.js';
import { SAFE_GRANT, type AgentCommand } from '#shared/protocol/internal.js';
import { MAX_RECONCILE_TASKS } from '../../functions/scheduler/reconcile.js';
import { post, statusOfPost, subscribeRaw } from '../support/http.js';
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
  type TestFramework,
} from '../support/scheduler.js';

const SECRET = 'correct-horse-battery-staple';
const basic = (principal: string, secret = SECRET) => ({
  Authorization: `Basic ${Buffer.from(`${principal}:${secret}`).toString('base64')}`,
});
const B_ACL = {
  run_as_users: ['*', 'root'],
  privileged: true,
  host_paths: ['/srv/data'],
  docker_parameters: ['pid'],
  network_modes: ['NONE'],
  capabilities: ['NET_ADMIN'],
};

let tm: TestMaster;
let agents: TestAgent[];
let a: TestFramework;
let b: TestFramework;

beforeAll(async () => {
  tm = await startTestMaster({ authenticate: true, acls: SAFE_ACL });
  const principals = tm.master.registrar.principals;
  await principals.create({ principal: 'team-a', secret: SECRET, kind: 'framework', roles: ['a'] });
  await principals.create({ principal: 'team-b', secret: SECRET, kind: 'framework', roles: ['b'], acl: B_ACL });
  await principals.create({ principal: 'ops', secret: SECRET, kind: 'operator', roles: ['*'] });
  await principals.create({ principal: 'agents', secret: SECRET, kind: 'agent', roles: [] });
  agents = [
    await registerAgent(tm, 'cpus:16;mem:16384', basic('agents')),
    await registerAgent(tm, 'cpus:16;mem:16384', basic('agents')),
  ];
  a = await subscribe(tm, { ...FRAMEWORK, role: 'a' }, { headers: basic('team-a') });
  b = await subscribe(tm, { ...FRAMEWORK, role: 'b' }, { headers: basic('team-b') });
});
afterAll(async () => {
  a.close();
  b.close();
  await tm.close();
});

const agent = (i: number) => agents[i] as TestAgent;
const docker = (id: string, on: TestAgent, docker: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  commandTask(id, on, 'cpus:0.1;mem:16', {
    container: { type: 'DOCKER', docker: { image: 'busybox', ...docker } },
    ...extra,
  });
const withVolume = (path: string) => ({ volumes: [{ mode: 'RW', container_path: '/h', host_path: path }] });

/**
 * The status a POST is answered with. The master answers 413 as soon as it sees the length and may
 * close the connection while the body is still being written: the answer counts, not the write.
 */
function launched(received: AgentCommand[]) {
  return received.flatMap((command) => (command.type === 'LAUNCH' ? [command] : []));
}

describe('ACCEPT under the ACLs', () => {
  it("refuses with TASK_ERROR what a principal's ACL does not allow, naming the setting; launches the rest with the safe grant", async () => {
    const o = await offer(tm, a, agent(0), 'cpus:4;mem:1024', 'a');
    const on = agent(0);
    const refused: Array<[string, unknown]> = [
      ['run_as_users', commandTask('root', on, 'cpus:0.1;mem:16', { command: { value: 'id', user: 'root' } })],
      ['privileged', docker('privileged', on, { privileged: true })],
      [
        'host_paths',
        {
          ...docker('socket', on, {}),
          container: { type: 'DOCKER', docker: { image: 'b' }, ...withVolume('/var/run/docker.sock') },
        },
      ],
      ['docker_parameters', docker('pid', on, { parameters: [{ key: 'pid', value: 'host' }] })],
      ['ipc_modes', docker('ipc', on, { parameters: [{ key: 'ipc', value: 'host' }] })],
      ['capabilities', docker('cap-add', on, { parameters: [{ key: 'cap-add', value: 'IPC_LOCK' }] })],
      [
        'capabilities',
        commandTask('caps', on, 'cpus:0.1;mem:16', {
          container: { type: 'MESOS', linux_info: { capability_info: { capabilities: ['SYS_ADMIN'] } } },
        }),
      ],
    ];
    const ok = commandTask('a-ok', on, 'cpus:0.1;mem:16');
    await a.call('ACCEPT', launch([o.offerId], [...refused.map(([, task]) => task), ok]));
    for (const [setting, task] of refused) {
      const id = (task as { task_id: { value: string } }).task_id.value;
      const status = await a.update(id, 'TASK_ERROR');
      expect(status.reason).toBe('REASON_TASK_UNAUTHORIZED');
      expect(status.message).toMatch(
        new RegExp(`^Not authorized: principal 'team-a' may not .*\\(acl: ${setting}\\)$`),
      );
      expect(await tm.master.registrar.tasks.get(a.frameworkId, id)).toBeUndefined();
    }
    const sent = launched(await commands(tm, on));
    expect(sent.map((command) => [command.task.task_id.value, command.grant])).toEqual([['a-ok', SAFE_GRANT]]);
  });

  it("allows what a principal's own ACL grants, tells the agent so, and still refuses the rest", async () => {
    const on = agent(1);
    const o = await offer(tm, b, on, 'cpus:4;mem:1024', 'b');
    const none = { network: 'NONE' };
    const tasks = [
      docker('b-root', on, { ...none, parameters: [{ key: 'user', value: 'root' }] }),
      docker('b-privileged', on, { ...none, privileged: true }),
      {
        ...docker('b-path', on, none),
        container: { type: 'DOCKER', docker: { image: 'b', ...none }, ...withVolume('/srv/data/x') },
      },
      docker('b-pid', on, { ...none, parameters: [{ key: 'pid', value: 'host' }] }),
      commandTask('b-caps', on, 'cpus:0.1;mem:16', {
        container: { type: 'MESOS', linux_info: { capability_info: { capabilities: ['NET_ADMIN'] } } },
      }),
      docker('b-host', on, {}),
      {
        ...docker('b-etc', on, none),
        container: { type: 'DOCKER', docker: { image: 'b', ...none }, ...withVolume('/etc') },
      },
    ];
    await b.call('ACCEPT', launch([o.offerId], tasks));
    expect((await b.update('b-host', 'TASK_ERROR')).message).toMatch(
      /Docker network mode HOST \(acl: network_modes\)$/,
    );
    expect((await b.update('b-etc', 'TASK_ERROR')).message).toMatch(/host path '\/etc' \(acl: host_paths\)$/);
    const sent = launched(await commands(tm, on));
    expect(sent.map((command) => command.task.task_id.value).sort()).toEqual(
      ['b-caps', 'b-path', 'b-pid', 'b-privileged', 'b-root'].sort(),
    );
    for (const command of sent) {
      expect(command.grant).toEqual({
        root: true,
        privileged: true,
        host_paths: ['/srv/data'],
        docker_parameters: ['pid'],
        network_modes: ['NONE'],
        capabilities: ['NET_ADMIN'],
        ipc_modes: ['private', 'shareable', 'none'],
        ulimits: ['memlock', 'stack', 'nofile'],
        max_shm_size_mb: null,
        s3_buckets: [],
      });
    }
  });

  it('applies a change of ACL at the next ACCEPT (the principal is read on every request)', async () => {
    const o = await offer(tm, a, agent(0), 'cpus:1;mem:128', 'a');
    expect((await tm.master.registrar.principals.update('team-a', { acl: { privileged: true } })).ok).toBe(true);
    await a.call('ACCEPT', launch([o.offerId], [docker('a-privileged', agent(0), { privileged: true })]));
    const [sent] = launched(await commands(tm, agent(0)));
    expect(sent?.grant).toEqual({ ...SAFE_GRANT, privileged: true });
    expect((await tm.master.registrar.principals.update('team-a', { acl: null })).ok).toBe(true);
  });
});

describe('roles', () => {
  it('refuses a SUBSCRIBE with a role the principal may not use before anything is created', async () => {
    const queues = async () =>
      (await tm.clients.sqs.send(new ListQueuesCommand({ QueueNamePrefix: tm.cluster }))).QueueUrls?.length ?? 0;
    const before = await queues();
    const stream = await subscribeRaw(
      tm.url,
      {
        type: 'SUBSCRIBE',
        subscribe: { framework_info: { ...FRAMEWORK, roles: ['a', 'b'], capabilities: [{ type: 'MULTI_ROLE' }] } },
      },
      basic('team-a'),
    );
    const error = await stream.next((e) => e.type === 'ERROR');
    expect(error.error?.message).toBe("Not authorized to use role 'b': principal 'team-a' may not (acl: roles)");
    await stream.untilEnded();
    expect(await queues()).toBe(before);
  });

  it('answers UPDATE_FRAMEWORK into a role the principal may not use with 403, changing nothing', async () => {
    const update = (role: string) =>
      a.call('UPDATE_FRAMEWORK', {
        update_framework: { framework_info: { ...FRAMEWORK, role, id: { value: a.frameworkId }, principal: 'team-a' } },
      });
    const refused = await update('b');
    expect([refused.status, refused.body]).toEqual([
      403,
      "Not authorized to use role 'b': principal 'team-a' may not (acl: roles)",
    ]);
    expect((await tm.master.registrar.frameworks.get(a.frameworkId))?.roles).toEqual(['a']);
    expect((await update('a')).status).toBe(200);
  });
});

describe("another framework's id", () => {
  it('is refused on every call, with its stream id too, and changes nothing', async () => {
    const bAgent = { value: agent(1).agentId };
    const uuid = Buffer.alloc(16, 7).toString('base64');
    const calls: Record<string, Record<string, unknown>> = {
      TEARDOWN: {},
      ACCEPT: { accept: { offer_ids: [{ value: 'x' }], operations: [] } },
      DECLINE: { decline: { offer_ids: [{ value: 'x' }] } },
      ACCEPT_INVERSE_OFFERS: { accept_inverse_offers: { inverse_offer_ids: [{ value: 'x' }] } },
      DECLINE_INVERSE_OFFERS: { decline_inverse_offers: { inverse_offer_ids: [{ value: 'x' }] } },
      REVIVE: {},
      SUPPRESS: {},
      KILL: { kill: { task_id: { value: 'b-root' } } },
      SHUTDOWN: { shutdown: { executor_id: { value: 'e' }, agent_id: bAgent } },
      ACKNOWLEDGE: { acknowledge: { agent_id: bAgent, task_id: { value: 'b-root' }, uuid } },
      ACKNOWLEDGE_OPERATION_STATUS: {
        acknowledge_operation_status: { agent_id: bAgent, uuid, operation_id: { value: 'o' } },
      },
      RECONCILE: { reconcile: { tasks: [] } },
      RECONCILE_OPERATIONS: { reconcile_operations: { operations: [] } },
      MESSAGE: { message: { agent_id: bAgent, executor_id: { value: 'e' }, data: 'aGk=' } },
      REQUEST: { request: { requests: [] } },
      UPDATE_FRAMEWORK: {
        update_framework: { framework_info: { ...FRAMEWORK, role: 'b', id: { value: b.frameworkId } } },
      },
    };
    const before = await tm.master.registrar.frameworks.get(b.frameworkId);
    for (const [type, payload] of Object.entries(calls)) {
      const response = await post(
        tm.url,
        { framework_id: { value: b.frameworkId }, type, ...payload },
        { ...basic('team-a'), 'Mesos-Stream-Id': b.streamId },
      );
      expect([type, response.status, response.body]).toEqual([
        type,
        400,
        expect.stringMatching(/does not match principal 'team-b'/),
      ]);
    }
    // Only the stream's liveness mark may move (B's stream is alive).
    const { streamSeenAt: _seen, ...after } = (await tm.master.registrar.frameworks.get(b.frameworkId)) ?? {};
    const { streamSeenAt: _before, ...unchanged } = before ?? {};
    expect(after).toEqual(unchanged);
    expect(await commands(tm, agent(1), 0)).toEqual([]);
  });

  it("leaves B's offers and tasks alone when A names them under its own id", async () => {
    const bOffer = await offer(tm, b, agent(1), 'cpus:1;mem:64', 'b');
    await a.call('ACCEPT', launch([bOffer.offerId], [commandTask('stolen', agent(1), 'cpus:0.1;mem:16')]));
    expect((await a.update('stolen', 'TASK_DROPPED')).reason).toBe('REASON_INVALID_OFFERS');
    await a.call('DECLINE', { decline: { offer_ids: [{ value: bOffer.offerId }] } });
    expect((await tm.master.registrar.agents.get(agent(1).agentId))?.offers[bOffer.offerId]).toBeDefined();
    await a.call('KILL', { kill: { task_id: { value: 'b-root' }, agent_id: { value: agent(1).agentId } } });
    expect((await a.update('b-root', 'TASK_GONE')).reason).toBe('REASON_RECONCILIATION');
    expect(await commands(tm, agent(1), 0)).toEqual([]);
    expect((await tm.master.registrar.tasks.get(b.frameworkId, 'b-root'))?.state).toBe('TASK_STAGING');
  });
});

describe('bounds', () => {
  it('refuses a REQUEST beyond the quota limits of its roles, or malformed, and takes one within them', async () => {
    await tm.master.registrar.roles.setQuota('a', { guarantees: {}, limits: { cpus: 64, gpus: 4 } });
    const request = (resources: string) =>
      a.call('REQUEST', {
        request: { requests: [{ agent_id: { value: agent(0).agentId }, resources: JSON.parse(resources) }] },
      });
    const gpus = (value: number) => JSON.stringify([{ name: 'gpus', type: 'SCALAR', scalar: { value } }]);
    const huge = await request(gpus(1e6));
    expect(huge.status).toBe(400);
    expect(huge.body).toMatch(
      /^REQUEST asks for gpus:1000000, more than the quota limits of the framework's roles allow \(a: 4\)/,
    );
    expect((await request(gpus(-1))).status).toBe(400);
    const many = await a.call('REQUEST', { request: { requests: Array.from({ length: 101 }, () => ({})) } });
    expect([many.status, many.body]).toEqual([400, 'A REQUEST may carry at most 100 requests, not 101']);
    expect((await request(gpus(2))).status).toBe(202);
    // Mantle's `count` (tasks of one request's resources) weighs in the quota check, and is bounded.
    const counted = (count: number) =>
      a.call('REQUEST', { request: { requests: [{ resources: JSON.parse(gpus(1)) as unknown, count }] } });
    expect((await counted(4)).status).toBe(202);
    expect((await tm.master.registrar.frameworks.get(a.frameworkId))?.requests?.requests[0]?.count).toBe(4);
    const overQuota = await counted(5);
    expect([overQuota.status, overQuota.body]).toEqual([
      400,
      "REQUEST asks for gpus:5, more than the quota limits of the framework's roles allow (a: 4)",
    ]);
    const zero = await counted(0);
    expect([zero.status, zero.body]).toEqual([400, 'Request 0: count must be between 1 and 1000000, not 0']);
    expect((await counted(2_000_000)).status).toBe(400);
  });

  it(`refuses a RECONCILE of more than ${MAX_RECONCILE_TASKS} tasks with a 400 naming the limit, and answers one within it (Mesos-maximum ids)`, async () => {
    const id = (i: number) => `${String(i).padStart(6, '0')}${'x'.repeat(249)}`;
    const tasks = Array.from({ length: MAX_RECONCILE_TASKS + 1 }, (_, i) => ({ task_id: { value: id(i) } }));
    const refused = await a.call('RECONCILE', { reconcile: { tasks } });
    expect(refused.status).toBe(400);
    expect(refused.body).toBe(
      `RECONCILE names ${MAX_RECONCILE_TASKS + 1} tasks; at most ${MAX_RECONCILE_TASKS} per call: reconcile in batches, or implicitly (no tasks)`,
    );
    // Within it, each naming an agent: answered in order, one agent read for all.
    const agentId = { value: agent(0).agentId };
    const some = tasks.slice(0, 200).map((task) => ({ ...task, agent_id: agentId }));
    expect((await a.call('RECONCILE', { reconcile: { tasks: some } })).status).toBe(202);
    expect((await a.update(id(199), 'TASK_GONE')).reason).toBe('REASON_RECONCILIATION');
  });

  it('refuses a body over the limit on every route with 413, before authenticating', async () => {
    const big = 'x'.repeat(tm.master.config.maxBodyBytes + 1);
    for (const path of ['/api/v1/scheduler', '/internal/v1/agents/register', '/health']) {
      expect([path, await statusOfPost(`${tm.url}${path}`, big, basic('team-a'))]).toEqual([path, 413]);
    }
  });
});

describe('operators and principals', () => {
  it('shows /metrics/snapshot only to operators', async () => {
    const metrics = (headers: Record<string, string> = {}) => fetch(`${tm.url}/metrics/snapshot`, { headers });
    expect((await metrics()).status).toBe(401);
    expect((await metrics(basic('team-a'))).status).toBe(403);
    expect((await metrics(basic('agents'))).status).toBe(403);
    const ok = await metrics(basic('ops'));
    expect(ok.status).toBe(200);
    const figures = (await ok.json()) as Record<string, number>;
    expect(Object.keys(figures).filter((name) => name.startsWith('master/')).length).toBeGreaterThan(0);
  });

  it('stops a rotated secret and a deleted principal at their next request', async () => {
    const principals = tm.master.registrar.principals;
    await principals.create({ principal: 'team-c', secret: SECRET, kind: 'framework', roles: ['c'] });
    const subscribeC = (secret: string) =>
      post(
        tm.url,
        { type: 'SUBSCRIBE', subscribe: { framework_info: { ...FRAMEWORK, role: 'zzz' } } },
        basic('team-c', secret),
      );
    // Authenticated (and cached), then refused on its role: 200 with an ERROR event on the stream.
    expect((await subscribeC(SECRET)).status).toBe(200);
    const rotated = 'a-brand-new-secret-of-team-c';
    expect((await principals.rotate('team-c', rotated)).ok).toBe(true);
    expect((await subscribeC(SECRET)).status).toBe(401);
    expect((await subscribeC(rotated)).status).toBe(200);
    expect(await principals.delete('team-c')).toBe(true);
    expect((await subscribeC(rotated)).status).toBe(401);
    expect((await principals.list()).map((p) => p.principal)).toEqual(['agents', 'ops', 'team-a', 'team-b']);
  });
});
