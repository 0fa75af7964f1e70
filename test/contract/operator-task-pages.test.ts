/**
 * The paged read of tasks against DynamoDB Local: the registrar's page (cursor round trip, a
 * framework's pages, bad cursors and limits refused), and where clients reach it — GET_TASKS with
 * Mantle's `get_tasks` extension, `/master/tasks?cursor=`, and SUBSCRIBE's `omit_tasks` (docs/operator.md).
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- responses are read as the JSON a Mesos client sees */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSubscription } from '../support/http.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { legacyGet, operatorGet, operatorPost } from '../support/operator.js';

let tm: TestMaster;
const ALL = new Set<string>();

async function seed(frameworkId: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const taskId = `${frameworkId}-task-${i}`;
    const result = await tm.master.registrar.tasks.add({
      frameworkId,
      agentId: 'agent-1',
      role: '*',
      resources: [],
      info: {
        name: `task ${i}`,
        task_id: { value: taskId },
        agent_id: { value: 'agent-1' },
        resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 0.1 } }],
        command: { value: 'true' },
      },
      launchId: `launch-${taskId}`,
    });
    if (!result.ok) throw new Error(result.error.message);
    ALL.add(taskId);
  }
}

beforeAll(async () => {
  tm = await startTestMaster();
  await seed('fw-a', 25);
  await seed('fw-b', 5);
});
afterAll(async () => {
  await tm.close();
});

type Page = { ids: string[]; next?: string };

/** Follows pages from `first` until one has no cursor; every page's ids, in order. */
async function follow(read: (cursor?: string) => Promise<Page>): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | undefined;
  do {
    const page = await read(cursor);
    pages.push(page);
    cursor = page.next;
  } while (cursor && pages.length < 100);
  return pages;
}

function expectAllOnce(pages: Page[], expected: Set<string>, limit: number): void {
  const ids = pages.flatMap((page) => page.ids);
  expect(new Set(ids).size).toBe(ids.length);
  expect(new Set(ids)).toEqual(expected);
  for (const page of pages) expect(page.ids.length).toBeLessThanOrEqual(limit);
  expect(pages.at(-1)?.next).toBeUndefined();
}

const BAD_CURSORS = ['!!!', Buffer.from('nope').toString('base64url'), Buffer.from('{"f":1}').toString('base64url')];

describe('the registrar reads tasks a page at a time', () => {
  const registrarPage = async (limit: number, cursor?: string, frameworkId?: string): Promise<Page> => {
    const page = await tm.master.registrar.tasks.page({
      limit,
      ...(cursor ? { cursor } : {}),
      ...(frameworkId ? { frameworkId } : {}),
    });
    if (!page.ok) throw new Error(page.error.message);
    return {
      ids: page.value.tasks.map(({ task }) => task.taskId),
      ...(page.value.next ? { next: page.value.next } : {}),
    };
  };

  it('hands every task exactly once through its cursors, with its TaskInfo', async () => {
    const pages = await follow((cursor) => registrarPage(7, cursor));
    expect(pages.length).toBeGreaterThanOrEqual(5);
    expectAllOnce(pages, ALL, 7);
    const first = await tm.master.registrar.tasks.page({ limit: 1 });
    expect(first.ok && first.value.tasks[0]?.info?.command?.value).toBe('true');
  });

  it("reads one framework's tasks by its own cursors, and refuses another framework's cursor", async () => {
    const pages = await follow((cursor) => registrarPage(2, cursor, 'fw-b'));
    expectAllOnce(pages, new Set([...ALL].filter((id) => id.startsWith('fw-b'))), 2);
    const fromA = (await registrarPage(3, undefined, 'fw-a')).next;
    const mixed = await tm.master.registrar.tasks.page({ limit: 2, cursor: fromA ?? '', frameworkId: 'fw-b' });
    expect(mixed).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
  });

  it('refuses bad cursors and limits outside 1 to 1000', async () => {
    for (const cursor of BAD_CURSORS) {
      expect(await tm.master.registrar.tasks.page({ limit: 5, cursor })).toMatchObject({
        ok: false,
        error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('Invalid cursor') },
      });
    }
    for (const limit of [0, -1, 1.5, 1001]) {
      expect(await tm.master.registrar.tasks.page({ limit })).toMatchObject({
        ok: false,
        error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('Invalid limit') },
      });
    }
  });
});

describe('GET_TASKS with get_tasks (Mantle extension)', () => {
  const getPage = async (payload: Record<string, unknown>): Promise<Page> => {
    const json = await operatorGet<any>(tm.url, { type: 'GET_TASKS', get_tasks: payload });
    const tasks = [...json.get_tasks.tasks, ...json.get_tasks.completed_tasks, ...json.get_tasks.unreachable_tasks];
    return {
      ids: tasks.map((task: any) => task.task_id.value),
      ...(json.get_tasks.next_cursor ? { next: json.get_tasks.next_cursor } : {}),
    };
  };

  it('pages the tasks in the Response shape, and without get_tasks answers them all as Mesos does', async () => {
    const pages = await follow((cursor) => getPage({ limit: 10, ...(cursor ? { cursor } : {}) }));
    expectAllOnce(pages, ALL, 10);
    const whole = await operatorGet<any>(tm.url, { type: 'GET_TASKS' });
    expect(whole.get_tasks.tasks).toHaveLength(ALL.size);
    expect(whole.get_tasks.next_cursor).toBeUndefined();
    const page = await operatorGet<any>(tm.url, { type: 'GET_TASKS', get_tasks: { limit: 1 } });
    expect(page.get_tasks.tasks[0]).toMatchObject({ state: 'TASK_STAGING', agent_id: { value: 'agent-1' } });
    const fwB = await follow((cursor) =>
      getPage({ limit: 3, framework_id: { value: 'fw-b' }, ...(cursor ? { cursor } : {}) }),
    );
    expectAllOnce(fwB, new Set([...ALL].filter((id) => id.startsWith('fw-b'))), 3);
  });

  it('answers 400 to a bad cursor or limit', async () => {
    for (const cursor of BAD_CURSORS) {
      const response = await operatorPost(tm.url, { type: 'GET_TASKS', get_tasks: { cursor } });
      expect(response.status).toBe(400);
      expect(response.body).toContain('Invalid cursor');
    }
    for (const limit of [0, 1001, 2.5, '10']) {
      expect((await operatorPost(tm.url, { type: 'GET_TASKS', get_tasks: { limit } })).status).toBe(400);
    }
    expect((await operatorPost(tm.url, { type: 'GET_TASKS', get_tasks: { cursor: '' } })).status).toBe(400);
  });
});

describe('/master/tasks?cursor= (Mantle extension)', () => {
  const legacyPage = async (limit: number, cursor = '', extra = ''): Promise<Page> => {
    const response = await legacyGet(tm.url, `/master/tasks?limit=${limit}&cursor=${cursor}${extra}`);
    expect(response.status).toBe(200);
    const json = response.json as any;
    return { ids: json.tasks.map((task: any) => task.id), ...(json.next_cursor ? { next: json.next_cursor } : {}) };
  };

  it('pages the tasks in the legacy shape from an empty cursor; without one, Mesos offsets still apply', async () => {
    expectAllOnce(await follow((cursor) => legacyPage(8, cursor)), ALL, 8);
    expectAllOnce(
      await follow((cursor) => legacyPage(4, cursor, '&framework_id=fw-b')),
      new Set([...ALL].filter((id) => id.startsWith('fw-b'))),
      4,
    );
    const offsets = (await legacyGet(tm.url, '/tasks?limit=10&offset=25')).json as any;
    expect(offsets.tasks).toHaveLength(5);
    expect(offsets.next_cursor).toBeUndefined();
  });

  it('answers 400 to a bad cursor, a bad limit, or offsets mixed with a cursor', async () => {
    for (const query of [
      ...BAD_CURSORS.map((cursor) => `cursor=${cursor}`),
      'cursor=&limit=0',
      'cursor=&limit=1001',
      'cursor=&limit=ten',
      'cursor=&offset=5',
      'cursor=&order=asc',
    ]) {
      const response = await legacyGet(tm.url, `/master/tasks?${query}`);
      expect(response.status, query).toBe(400);
    }
  });
});

describe('SUBSCRIBE with omit_tasks (Mantle extension)', () => {
  const subscribed = async (call: Record<string, unknown>): Promise<any> => {
    const abort = new AbortController();
    const response = await fetch(`${tm.url}/api/v1`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(call),
      signal: abort.signal,
    });
    const stream = new RawSubscription(response, abort);
    try {
      return await stream.next((event) => (event as { type: string }).type === 'SUBSCRIBED', 15_000);
    } finally {
      stream.close();
    }
  };

  it('leaves the tasks out of SUBSCRIBED for a client that pages them; a plain SUBSCRIBE has them all', async () => {
    const without = await subscribed({ type: 'SUBSCRIBE', subscribe: { omit_tasks: true } });
    expect(without.subscribed.get_state.get_tasks.tasks).toEqual([]);
    expect(without.subscribed.heartbeat_interval_seconds).toBeGreaterThan(0);
    const plain = await subscribed({ type: 'SUBSCRIBE' });
    expect(plain.subscribed.get_state.get_tasks.tasks).toHaveLength(ALL.size);
  });

  it('answers 400 to a malformed subscribe', async () => {
    const response = await operatorPost(tm.url, { type: 'SUBSCRIBE', subscribe: { omit_tasks: 'yes' } });
    expect(response.status).toBe(400);
  });
});
