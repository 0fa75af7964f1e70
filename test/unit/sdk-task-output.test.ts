/**
 * The SDK's task output client on its own: paths, offsets and the follow loop, against a files endpoint
 * played by the test (a file that grows, then a task that ends). The master's real endpoint is tested
 * with the SDK end to end in test/e2e/task-output.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { CallError, type Fetch } from '../../sdk/calls.js';
import {
  followTaskOutput,
  readTaskOutput,
  taskOutputSize,
  taskSandboxPath,
  TASK_STATE_HEADER,
} from '../../sdk/task-output.js';

/** A files endpoint over one growing file, with Mesos's read rules; `state` rides on every answer. */
function filesEndpoint(): { fetch: Fetch; file: { text: string | undefined; state?: string }; asked: string[] } {
  const file: { text: string | undefined; state?: string } = { text: undefined };
  const asked: string[] = [];
  const fetch: Fetch = async (url) => {
    const query = new URL(url).searchParams;
    asked.push(`${query.get('path')}@${query.get('offset')}`);
    const headers = file.state ? { [TASK_STATE_HEADER]: file.state } : undefined;
    if (file.text === undefined) return new Response('', { status: 404, headers });
    const bytes = Buffer.from(file.text);
    const offset = Number(query.get('offset'));
    if (offset === -1) return Response.json({ data: '', offset: bytes.length }, { headers });
    const length = query.has('length') ? Number(query.get('length')) : bytes.length;
    const data = bytes.subarray(offset, offset + length).toString();
    return Response.json({ data, offset }, { headers });
  };
  return { fetch, file, asked };
}

const target = { master: 'http://127.0.0.1:5050', frameworkId: 'fw-1', taskId: 'task-1' };

describe('the task output client', () => {
  it('names Mesos sandbox paths: a command task by its own executor, a group task under its executor', () => {
    expect(taskSandboxPath(target)).toBe('/frameworks/fw-1/executors/task-1/runs/latest/stdout');
    expect(taskSandboxPath({ ...target, file: 'stderr', run: 'c-9' })).toBe(
      '/frameworks/fw-1/executors/task-1/runs/c-9/stderr',
    );
    expect(taskSandboxPath({ ...target, executorId: 'group' })).toBe(
      '/frameworks/fw-1/executors/group/runs/latest/tasks/task-1/stdout',
    );
  });

  it('reads by byte offset and length, counting multi-byte characters as bytes', async () => {
    const files = filesEndpoint();
    files.file.text = 'héllo\nworld\n';
    const head = await readTaskOutput({ ...target, fetch: files.fetch, offset: 0, length: 7 });
    expect(head).toEqual({ data: 'héllo\n', offset: 0, next: 7 });
    const rest = await readTaskOutput({ ...target, fetch: files.fetch, offset: head.next });
    expect(rest).toEqual({ data: 'world\n', offset: 7, next: 13 });
    expect(await taskOutputSize({ ...target, fetch: files.fetch })).toBe(13);
  });

  it('throws a CallError with the status for a refusal', async () => {
    const fetch: Fetch = async () => new Response('Forbidden\n', { status: 403 });
    const refused = readTaskOutput({ ...target, fetch }).catch((error: unknown) => error);
    expect(await refused).toBeInstanceOf(CallError);
    expect(((await refused) as CallError).status).toBe(403);
  });

  it('follows: waits for the file, yields each new stretch once, and ends when the task has ended', async () => {
    const files = filesEndpoint();
    const seen: string[] = [];
    const follow = (async () => {
      for await (const chunk of followTaskOutput({ ...target, fetch: files.fetch, pollMs: 5 })) seen.push(chunk.data);
    })();
    await new Promise((resolve) => setTimeout(resolve, 30));
    files.file.text = 'one\n';
    await expect.poll(() => seen.join('')).toBe('one\n');
    files.file.text = 'one\ntwo\n';
    await expect.poll(() => seen.join('')).toBe('one\ntwo\n');
    files.file.text = 'one\ntwo\nlast\n';
    files.file.state = 'TASK_FINISHED';
    await follow;
    expect(seen).toEqual(['one\n', 'two\n', 'last\n']);
  });

  it('follows from the end: only what is written afterwards; an abort ends it', async () => {
    const files = filesEndpoint();
    files.file.text = 'before\n';
    const abort = new AbortController();
    const seen: string[] = [];
    const follow = (async () => {
      for await (const chunk of followTaskOutput({
        ...target,
        fetch: files.fetch,
        pollMs: 5,
        from: 'end',
        signal: abort.signal,
      })) {
        seen.push(chunk.data);
      }
    })();
    await expect.poll(() => files.asked.length).toBeGreaterThan(2);
    files.file.text = 'before\nafter\n';
    await expect.poll(() => seen).toEqual(['after\n']);
    abort.abort();
    await follow;
  });

  it('ends a follow of a task that ended without writing anything', async () => {
    const files = filesEndpoint();
    files.file.state = 'TASK_FAILED';
    const seen: string[] = [];
    for await (const chunk of followTaskOutput({ ...target, fetch: files.fetch, pollMs: 5 })) seen.push(chunk.data);
    expect(seen).toEqual([]);
  });
});
