/**
 * The Jobs REST API's contract (docs/jobs.md "The REST API"): every route and every error path, through the
 * master's own app with authentication on, over the real Jobs service and store on DynamoDB Local. No
 * framework runs here: jobs stay PENDING unless a test writes an outcome through the store, as the
 * framework would (the end-to-end tests run them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/handlers/app.js';
import { bearerToken } from '../../functions/master/auth.js';
import { createJobsTable } from '../../frameworks/jobs/bootstrap.js';
import type { Job } from '../../frameworks/jobs/model.js';
import { createJobsService, type JobsService } from '../../frameworks/jobs/service.js';
import { JobsStore } from '../../frameworks/jobs/store.js';
import { jobsTableName } from '../../frameworks/jobs/tables.js';
import { serveMaster } from '../../local/master.js';
import { run } from '../support/cli.js';
import { startTestMaster, type TestMaster } from '../support/master.js';

const SECRET = 'correct-horse-battery-staple';
const MAX_BODY = 256 * 1024;
const basic = (principal: string, secret = SECRET) => ({
  Authorization: `Basic ${Buffer.from(`${principal}:${secret}`).toString('base64')}`,
});
const OPS = basic('ops');
const A = basic('team-a');
const B = basic('team-b');

let tm: TestMaster;
let store: JobsStore;
let jobs: JobsService;
let app: ReturnType<typeof createApp>;

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function call(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown; on?: ReturnType<typeof createApp> } = {},
): Promise<Answer> {
  const json = options.body !== undefined && typeof options.body !== 'string';
  const response = await (options.on ?? app).request(`/api/jobs/v1${path}`, {
    method,
    headers: { ...(json ? { 'Content-Type': 'application/json' } : {}), ...options.headers },
    ...(options.body !== undefined ? { body: json ? JSON.stringify(options.body) : (options.body as string) } : {}),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

async function submit(spec: Record<string, unknown>, headers = OPS): Promise<Job> {
  const answer = await call('POST', '/jobs', { headers, body: { command: 'true', ...spec } });
  expect(answer.status, answer.text).toBe(201);
  return answer.json() as Job;
}

/** Ends a job as the framework would record it (the service and the API read what the store holds). */
async function finish(id: string, state: 'SUCCEEDED' | 'FAILED', output?: string): Promise<void> {
  const stored = await store.get(id);
  if (!stored) throw new Error(`no job ${id}`);
  const taskId = `${id}-1`;
  const ended = new Date().toISOString();
  const task = {
    attempt: 1,
    gang_index: null,
    task_id: taskId,
    agent_id: 'S0',
    hostname: 'host-1',
    state: state === 'SUCCEEDED' ? 'TASK_FINISHED' : 'TASK_FAILED',
    started_at: ended,
    ended_at: ended,
    exit_code: state === 'SUCCEEDED' ? 0 : 1,
    message: null,
  } as const;
  const job = { ...stored.job, state, pending_reason: null, version: stored.job.version + 1 };
  const written = await store.transact([
    { kind: 'job', stored: { ...stored, job, wait: null, attemptCount: 1 }, expected: stored.job.version },
    {
      kind: 'attempt',
      record: {
        jobId: id,
        attempt: 1,
        tasks: [task],
        output: output ? { [taskId]: output } : {},
        offerIds: [],
        version: 0,
      },
      expected: 'absent',
    },
  ]);
  expect(written).toBe(true);
}

beforeAll(async () => {
  tm = await startTestMaster({ authenticate: true, maxBodyBytes: MAX_BODY });
  const principals = tm.master.registrar.principals;
  await principals.create({ principal: 'ops', secret: SECRET, kind: 'operator', roles: ['*'] });
  await principals.create({ principal: 'team-a', secret: SECRET, kind: 'framework', roles: ['a'] });
  await principals.create({ principal: 'team-b', secret: SECRET, kind: 'framework', roles: ['b', 'shared/gpu'] });
  await principals.create({ principal: 'agent-1', secret: SECRET, kind: 'agent', roles: [] });
  const table = jobsTableName(tm.cluster);
  await createJobsTable(tm.clients.dynamodb, table);
  store = new JobsStore({ documents: tm.clients.documents, table });
  jobs = createJobsService({ store, roles: tm.master.registrar.roles });
  app = createApp(tm.master, { jobs: () => jobs });
}, 60_000);

afterAll(async () => {
  await tm.close();
});

describe('where Jobs does not run', () => {
  it('every route answers 503 in JSON', async () => {
    const bare = createApp(tm.master);
    for (const [method, path] of [
      ['GET', '/jobs'],
      ['POST', '/jobs'],
      ['GET', '/queues'],
    ] as const) {
      const answer = await call(method, path, { headers: OPS, on: bare });
      expect(answer.status).toBe(503);
      expect(answer.json()).toEqual({ message: 'Mantle Jobs is not running here' });
    }
  });
});

describe('authentication', () => {
  it('answers 401 with a Basic challenge without valid credentials', async () => {
    for (const headers of [
      {},
      basic('team-a', 'wrong-secret-wrong-secret'),
      basic('nobody'),
      { Authorization: 'Digest x' },
    ]) {
      const answer = await call('GET', '/jobs', { headers });
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe('Basic realm="mantle-jobs"');
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      expect(answer.json().message).toMatch(/credentials|Authentication failed/);
    }
  });

  it('accepts Bearer tokens, and refuses agent principals (403)', async () => {
    const bearer = { Authorization: `Bearer ${bearerToken({ principal: 'team-a', secret: SECRET })}` };
    expect((await call('GET', '/jobs', { headers: bearer })).status).toBe(200);
    const agent = await call('GET', '/jobs', { headers: basic('agent-1') });
    expect(agent.status).toBe(403);
    expect(agent.json().message).toBe('A agent principal may not call this API');
  });
});

describe('POST /jobs', () => {
  it('answers 201 with the job, normalized, and its Location', async () => {
    const answer = await call('POST', '/jobs', {
      headers: A,
      body: { name: 'train', queue: 'a', command: 'python train.py', resources: 'cpus:2;mem:256;gpus:1', priority: 7 },
    });
    expect(answer.status).toBe(201);
    const job = answer.json() as Job;
    expect(answer.headers.get('location')).toBe(`/api/jobs/v1/jobs/${encodeURIComponent(job.id)}`);
    expect(job).toMatchObject({
      name: 'train',
      queue: 'a',
      priority: 7,
      state: 'PENDING',
      retries: 0,
      env: {},
      depends_on: [],
      attempts: [],
      parent: null,
    });
    expect(job.resources.map((r) => [r.name, r.scalar?.value])).toEqual([
      ['cpus', 2],
      ['mem', 256],
      ['gpus', 1],
    ]);
    const shown = await call('GET', `/jobs/${job.id}`, { headers: A });
    expect(shown.status).toBe(200);
    expect(shown.json()).toMatchObject({ id: job.id, name: 'train', created_at: job.created_at });
  });

  it('refuses what is not a JSON job spec: 415, 400 with the fields named', async () => {
    const plain = await call('POST', '/jobs', { headers: { ...A, 'Content-Type': 'text/plain' }, body: '{}' });
    expect(plain.status).toBe(415);
    expect(plain.json().message).toBe("Expecting Content-Type application/json (got 'text/plain')");
    expect((await call('POST', '/jobs', { headers: A, body: '{}' })).status).toBe(415);
    const bad = await call('POST', '/jobs', { headers: { ...A, 'Content-Type': 'application/json' }, body: '{"x' });
    expect(bad.status).toBe(400);
    expect(bad.json().message).toMatch(/^Invalid JSON: /);
    const misspelt = await call('POST', '/jobs', {
      headers: A,
      body: { name: 'x', queue: 'a', command: 'y', retires: 3 },
    });
    expect(misspelt.status).toBe(400);
    expect(misspelt.json().message).toBe("Invalid job: unknown field 'retires'");
    const fields = await call('POST', '/jobs', { headers: A, body: { name: 'x', queue: 'a', retries: 101 } });
    expect(fields.status).toBe(400);
    expect(fields.json().message).toMatch(/field 'retries'.*field 'command': is required/);
    for (const body of [[], 'null', 42]) {
      const answer = await call('POST', '/jobs', {
        headers: { ...A, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(answer.status).toBe(400);
    }
    const query = await call('POST', '/jobs?dry_run=1', { headers: A, body: { name: 'x', queue: 'a', command: 'y' } });
    expect(query.status).toBe(400);
    expect(query.json().message).toBe("Unknown query parameter 'dry_run'");
  });

  it('refuses a queue that is not one of the principal roles (403, naming it), and writes nothing', async () => {
    const before = (await call('GET', '/jobs?queue=b', { headers: OPS })).json().jobs.length;
    const answer = await call('POST', '/jobs', { headers: A, body: { name: 'x', queue: 'b', command: 'y' } });
    expect(answer.status).toBe(403);
    expect(answer.json().message).toBe("Principal 'team-a' may not use queue 'b': it is not one of its roles");
    const defaulted = await call('POST', '/jobs', { headers: A, body: { name: 'x', command: 'y' } });
    expect(defaulted.status).toBe(403);
    expect(defaulted.json().message).toMatch(/queue 'default'/);
    expect((await call('GET', '/jobs?queue=b', { headers: OPS })).json().jobs.length).toBe(before);
  });

  it('answers 413 in JSON for a body over the limit, 405 with Allow for other methods', async () => {
    const big = await call('POST', '/jobs', {
      headers: A,
      body: { name: 'x', queue: 'a', command: 'y'.repeat(MAX_BODY + 1) },
    });
    expect(big.status).toBe(413);
    expect(big.json().message).toBe(`Request body over ${MAX_BODY} bytes`);
    const patch = await call('PATCH', '/jobs', { headers: A });
    expect(patch.status).toBe(405);
    expect(patch.headers.get('allow')).toBe('GET, POST');
    expect((await call('PUT', '/jobs/abc', { headers: A })).headers.get('allow')).toBe('GET, DELETE');
    expect((await call('POST', '/jobs/abc/logs', { headers: A })).headers.get('allow')).toBe('GET');
    expect((await call('DELETE', '/queues/a', { headers: OPS })).headers.get('allow')).toBe('GET, PUT');
    const unknown = await call('GET', '/nothing-here', { headers: A });
    expect(unknown.status).toBe(404);
    expect(unknown.json().message).toBe('No such resource: GET /api/jobs/v1/nothing-here');
  });
});

describe('GET /jobs', () => {
  let listed: Job[];
  beforeAll(async () => {
    listed = [];
    for (let i = 0; i < 5; i++) listed.push(await submit({ name: `page-${i}`, queue: 'pages' }));
  });

  it('pages with limit and next, newest first, every job once', async () => {
    const seen: string[] = [];
    let next: string | null = null;
    let pages = 0;
    do {
      const query: string = next === null ? '' : `&next=${encodeURIComponent(next)}`;
      const answer = await call('GET', `/jobs?queue=pages&limit=2${query}`, { headers: OPS });
      expect(answer.status).toBe(200);
      const page = answer.json() as { jobs: Job[]; next: string | null };
      expect(page.jobs.length).toBeLessThanOrEqual(2);
      seen.push(...page.jobs.map((job) => job.id));
      next = page.next;
      pages++;
    } while (next !== null && pages < 10);
    expect(seen).toEqual(listed.map((job) => job.id).reverse());
    expect(pages).toBe(3);
  });

  it('filters by state and parent', async () => {
    const [first] = listed as [Job];
    await finish(first.id, 'SUCCEEDED');
    const succeeded = (await call('GET', '/jobs?queue=pages&state=SUCCEEDED', { headers: OPS })).json();
    expect(succeeded.jobs.map((job: Job) => job.id)).toEqual([first.id]);
    const array = await submit({ name: 'arr', queue: 'pages', array: 3 });
    const children = (await call('GET', `/jobs?parent=${array.id}`, { headers: OPS })).json();
    expect(children.jobs.map((job: Job) => job.id).sort()).toEqual([0, 1, 2].map((i) => `${array.id}:${i}`).sort());
  });

  it('answers 400 naming the parameter for a bad value', async () => {
    const cases: Array<[string, RegExp]> = [
      ['limit=0', /'limit' must be an integer from 1 to 1000/],
      ['limit=1001', /'limit'/],
      ['limit=ten', /'limit'/],
      ['state=DONE', /'state' must be one of PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED/],
      ['queue=*', /'queue': Queue '\*'/],
      ['queue=.', /'queue'/],
      ['parent=not%20an%20id', /'parent' must be a job id/],
      ['next=garbage', /'next' must be the 'next' of a previous page/],
      ['status=RUNNING', /Unknown query parameter 'status'/],
      ['queue=a&queue=b', /'queue' is given more than once/],
    ];
    for (const [query, message] of cases) {
      const answer = await call('GET', `/jobs?${query}`, { headers: OPS });
      expect(answer.status, query).toBe(400);
      expect(answer.json().message, query).toMatch(message);
    }
  });

  it("lists only the principal's queues; a queue named that is not its own is 403", async () => {
    const mine = await submit({ name: 'mine', queue: 'a' }, A);
    const theirs = await submit({ name: 'theirs', queue: 'b' }, B);
    const gpu = await submit({ name: 'gpu', queue: 'shared/gpu' }, B);
    const listA = (await call('GET', '/jobs?limit=1000', { headers: A })).json().jobs as Job[];
    expect(new Set(listA.map((job) => job.queue))).toEqual(new Set(['a']));
    expect(listA.map((job) => job.id)).toContain(mine.id);
    const listB = (await call('GET', '/jobs?limit=1000', { headers: B })).json().jobs as Job[];
    expect(listB.map((job) => job.id)).toEqual(expect.arrayContaining([theirs.id, gpu.id]));
    expect(listB.every((job) => ['b', 'shared/gpu'].includes(job.queue))).toBe(true);
    const all = (await call('GET', '/jobs?limit=1000', { headers: OPS })).json().jobs as Job[];
    expect(all.map((job) => job.id)).toEqual(
      expect.arrayContaining([mine.id, theirs.id, gpu.id, ...listed.map((job) => job.id)]),
    );
    const refused = await call('GET', '/jobs?queue=b', { headers: A });
    expect(refused.status).toBe(403);
    expect(refused.json().message).toMatch(/may not use queue 'b'/);
  });
});

describe('GET, DELETE /jobs/{id} and its logs', () => {
  it("answers 404 alike for an unknown id, another queue's job and a malformed id", async () => {
    const theirs = await submit({ name: 'secret', queue: 'b' }, B);
    const unknownId = `${theirs.id.slice(0, -4)}ffff`;
    for (const path of [
      `/jobs/${unknownId}`,
      `/jobs/${theirs.id}`,
      `/jobs/${unknownId}/logs`,
      `/jobs/${theirs.id}/logs`,
    ]) {
      const answer = await call('GET', path, { headers: A });
      expect(answer.status, path).toBe(404);
      expect(answer.json().message).toMatch(/^Job '.+' does not exist$/);
    }
    expect((await call('DELETE', `/jobs/${theirs.id}`, { headers: A })).status).toBe(404);
    expect((await call('GET', `/jobs/${theirs.id}`, { headers: B })).status).toBe(200);
    expect((await call('GET', `/jobs/${encodeURIComponent('a/b')}`, { headers: A })).status).toBe(404);
    expect((await call('GET', `/jobs/${'x'.repeat(300)}`, { headers: A })).status).toBe(404);
    expect((await call('GET', `/jobs/${theirs.id}`, { headers: B })).json().state).toBe('PENDING');
  });

  it('cancels: 200 with the job CANCELLED and its reason; again is a no-op; an ended job is 409', async () => {
    const job = await submit({ name: 'to-cancel', queue: 'a' }, A);
    const cancelled = await call('DELETE', `/jobs/${job.id}`, { headers: A });
    expect(cancelled.status).toBe(200);
    expect(cancelled.json()).toMatchObject({ id: job.id, state: 'CANCELLED', status_reason: 'cancelled by team-a' });
    const again = await call('DELETE', `/jobs/${job.id}?reason=twice`, { headers: A });
    expect(again.status).toBe(200);
    expect(again.json()).toMatchObject({ state: 'CANCELLED', status_reason: 'cancelled by team-a' });
    const reasoned = await submit({ name: 'reasoned', queue: 'a' }, A);
    const withReason = await call('DELETE', `/jobs/${reasoned.id}?reason=${encodeURIComponent('superseded by v2')}`, {
      headers: A,
    });
    expect(withReason.json().status_reason).toBe('superseded by v2');
    for (const reason of ['', '%0A', 'x'.repeat(1025)]) {
      expect((await call('DELETE', `/jobs/${reasoned.id}?reason=${reason}`, { headers: A })).status).toBe(400);
    }
    const done = await submit({ name: 'done', queue: 'a' }, A);
    await finish(done.id, 'SUCCEEDED');
    const conflict = await call('DELETE', `/jobs/${done.id}`, { headers: A });
    expect(conflict.status).toBe(409);
    expect(conflict.json().message).toMatch(/SUCCEEDED/);
    const failed = await submit({ name: 'failed', queue: 'a' }, A);
    await finish(failed.id, 'FAILED');
    expect((await call('DELETE', `/jobs/${failed.id}`, { headers: A })).status).toBe(409);
    expect((await call('GET', `/jobs/${done.id}`, { headers: A })).json().state).toBe('SUCCEEDED');
  });

  it('cancelling an array job cancels its children', async () => {
    const array = await submit({ name: 'arr', queue: 'a', array: 2 }, A);
    expect((await call('DELETE', `/jobs/${array.id}`, { headers: A })).status).toBe(200);
    const children = (await call('GET', `/jobs?parent=${array.id}`, { headers: A })).json().jobs as Job[];
    expect(children.map((child) => child.state)).toEqual(['CANCELLED', 'CANCELLED']);
  });

  it("logs: the latest ended attempt's output as text/plain; empty before any", async () => {
    const job = await submit({ name: 'talks', queue: 'a' }, A);
    const before = await call('GET', `/jobs/${job.id}/logs`, { headers: A });
    expect(before.status).toBe(200);
    expect(before.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(before.text).toBe('');
    await finish(job.id, 'SUCCEEDED', 'epoch 1 loss 0.3\n');
    const after = await call('GET', `/jobs/${job.id}/logs`, { headers: A });
    expect(after.text).toBe('epoch 1 loss 0.3\n');
    expect((await call('GET', `/jobs/${job.id}/logs?tail=5`, { headers: A })).status).toBe(400);
  });
});

describe('queues', () => {
  it('PUT is an operator call: it sets the role weight and quota', async () => {
    const spec = { weight: 2.5, quota: { guarantees: { gpus: 2 }, limits: { gpus: 8, cpus: 64 } } };
    const answer = await call('PUT', '/queues/b', { headers: OPS, body: spec });
    expect(answer.status).toBe(200);
    expect(answer.json()).toMatchObject({ name: 'b', ...spec, counts: expect.any(Object) });
    const role = await tm.master.registrar.roles.get('b');
    expect(role).toMatchObject({ weight: 2.5, quota: { guarantees: { gpus: 2 }, limits: { gpus: 8, cpus: 64 } } });
    const framework = await call('PUT', '/queues/b', { headers: B, body: { weight: 100 } });
    expect(framework.status).toBe(403);
    expect(framework.json().message).toMatch(/only an operator principal may/);
    expect((await tm.master.registrar.roles.get('b'))?.weight).toBe(2.5);
  });

  it('PUT refuses bad specs and names (400) and non-JSON (415)', async () => {
    const above = await call('PUT', '/queues/b', {
      headers: OPS,
      body: { quota: { guarantees: { gpus: 9 }, limits: { gpus: 8 } } },
    });
    expect(above.status).toBe(400);
    expect(above.json().message).toMatch(/guarantee 9 is above the limit 8/);
    expect((await call('PUT', '/queues/b', { headers: OPS, body: { weight: -1 } })).status).toBe(400);
    expect((await call('PUT', '/queues/b', { headers: OPS, body: { wieght: 1 } })).json().message).toMatch(
      /unknown field 'wieght'/,
    );
    const star = await call('PUT', `/queues/${encodeURIComponent('*')}`, { headers: OPS, body: {} });
    expect(star.status).toBe(400);
    expect(star.json().message).toMatch(/^Invalid queue: Queue '\*'/);
    expect(
      (await call('PUT', '/queues/b', { headers: { ...OPS, 'Content-Type': 'text/yaml' }, body: 'weight: 1' })).status,
    ).toBe(415);
  });

  it('GET shows a queue the principal may use (403 otherwise, 404 unknown); the list is filtered', async () => {
    await submit({ name: 'q', queue: 'shared/gpu' }, B);
    const hierarchical = await call('GET', `/queues/${encodeURIComponent('shared/gpu')}`, { headers: B });
    expect(hierarchical.status).toBe(200);
    expect(hierarchical.json()).toMatchObject({ name: 'shared/gpu', weight: 1 });
    expect(hierarchical.json().counts.PENDING).toBeGreaterThanOrEqual(1);
    const refused = await call('GET', '/queues/b', { headers: A });
    expect(refused.status).toBe(403);
    const unknown = await call('GET', '/queues/never-used', { headers: OPS });
    expect(unknown.status).toBe(404);
    expect(unknown.json().message).toBe("Queue 'never-used' does not exist");
    const listB = (await call('GET', '/queues', { headers: B })).json().queues as Array<{ name: string }>;
    expect(listB.map((queue) => queue.name).sort()).toEqual(['b', 'shared/gpu']);
    const listOps = (await call('GET', '/queues', { headers: OPS })).json().queues as Array<{ name: string }>;
    expect(listOps.map((queue) => queue.name)).toEqual(expect.arrayContaining(['a', 'b', 'pages', 'shared/gpu']));
  });
});

describe('with authentication off', () => {
  it('anyone may use every queue and set quota', async () => {
    const open = await startTestMaster({ authenticate: false });
    try {
      const table = jobsTableName(open.cluster);
      await createJobsTable(open.clients.dynamodb, table);
      const service = createJobsService({
        store: new JobsStore({ documents: open.clients.documents, table }),
        roles: open.master.registrar.roles,
      });
      const openApp = createApp(open.master, { jobs: () => service });
      const job = await call('POST', '/jobs', { on: openApp, body: { name: 'x', queue: 'anything', command: 'y' } });
      expect(job.status).toBe(201);
      const cancelled = await call('DELETE', `/jobs/${job.json().id}`, { on: openApp });
      expect(cancelled.json().status_reason).toBe('cancelled by request');
      expect((await call('PUT', '/queues/anything', { on: openApp, body: { weight: 3 } })).status).toBe(200);
      expect(
        (await call('GET', '/queues', { on: openApp })).json().queues.map((q: { name: string }) => q.name),
      ).toContain('anything');
    } finally {
      await open.close();
    }
  });
});

describe('the CLI with authentication on', () => {
  it('sends --principal/--secret (or MANTLE_PRINCIPAL/MANTLE_SECRET) as HTTP Basic', async () => {
    const server = await serveMaster(tm.master, 0, '127.0.0.1', { jobs: () => jobs });
    try {
      const mine = await submit({ name: 'cli-visible', queue: 'a' }, A);
      const flags = ['job', 'list', '--master', server.url, '--json'];
      const listed = await run([...flags, '--principal', 'team-a', '--secret', SECRET]);
      expect(listed.code, listed.output).toBe(0);
      const page = JSON.parse(listed.output) as { jobs: Job[] };
      expect(page.jobs.map((job) => job.id)).toContain(mine.id);
      expect(new Set(page.jobs.map((job) => job.queue))).toEqual(new Set(['a']));
      const fromEnv = await run(['job', 'show', mine.id, '--master', server.url], {
        MANTLE_PRINCIPAL: 'team-a',
        MANTLE_SECRET: SECRET,
      });
      expect(fromEnv.output).toMatch(/^state: +PENDING$/m);
      const none = await run(flags);
      expect(none.code).toBe(1);
      expect(none.output).toContain('mantle job list: Missing or malformed credentials (HTTP 401)');
      const refused = await run(['queue', 'set', 'a', '--weight', '9', '--master', server.url], {
        MANTLE_PRINCIPAL: 'team-a',
        MANTLE_SECRET: SECRET,
      });
      expect(refused.code).toBe(1);
      expect(refused.output).toMatch(/only an operator principal may \(HTTP 403\)/);
      const half = await run([...flags, '--principal', 'team-a']);
      expect(half.code).toBe(2);
      expect(half.output).toContain('--principal and --secret go together');
    } finally {
      await server.close();
    }
  }, 60_000);
});
