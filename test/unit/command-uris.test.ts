import { describe, expect, it } from 'vitest';
import {
  archiveKind,
  commandUriError,
  parseUriSource,
  redactedUri,
  sandboxName,
} from '#shared/protocol/command-uris.js';
import { resources } from '../support/resources.js';
import { validateTask } from '../../functions/scheduler/task-validation.js';
import type { TaskInfo } from '#shared/protocol/mesos.js';

describe('CommandInfo.URI sources', () => {
  it('reads http(s), s3, file URLs and absolute paths', () => {
    expect(parseUriSource('https://example.com/a/b.tgz?x=1')).toEqual({
      ok: true,
      value: { scheme: 'https', url: 'https://example.com/a/b.tgz?x=1' },
    });
    expect(parseUriSource('s3://bucket/dir/key.tar.gz')).toEqual({
      ok: true,
      value: { scheme: 's3', bucket: 'bucket', key: 'dir/key.tar.gz' },
    });
    expect(parseUriSource('file:///opt/a%20b/c')).toEqual({ ok: true, value: { scheme: 'file', path: '/opt/a b/c' } });
    expect(parseUriSource('/opt/x/../y')).toEqual({ ok: true, value: { scheme: 'file', path: '/opt/y' } });
  });

  it('refuses empty values, relative paths, other schemes and remote file hosts', () => {
    expect(parseUriSource('')).toMatchObject({ ok: false, error: 'the URI is empty' });
    expect(parseUriSource('relative/path')).toMatchObject({ ok: false });
    expect(parseUriSource('hdfs://nn/file')).toMatchObject({
      ok: false,
      error: "the scheme 'hdfs' is not supported (http, https, s3, file)",
    });
    expect(parseUriSource('file://other-host/etc/x')).toMatchObject({ ok: false });
    expect(parseUriSource('s3://bucket-only')).toMatchObject({ ok: false });
  });
});

describe('sandbox names', () => {
  const name = (value: string, output_file?: string) => {
    const source = parseUriSource(value);
    if (!source.ok) throw new Error(source.error);
    return sandboxName({ value, ...(output_file !== undefined ? { output_file } : {}) }, source.value);
  };

  it('takes the last path segment, or output_file (subfolders allowed)', () => {
    expect(name('http://h/a/app.tar.gz?sig=1')).toEqual({ ok: true, value: 'app.tar.gz' });
    expect(name('/opt/tool')).toEqual({ ok: true, value: 'tool' });
    expect(name('http://h/a/app', 'bin/run.sh')).toEqual({ ok: true, value: 'bin/run.sh' });
  });

  it('refuses output files outside the sandbox and URIs that name no file', () => {
    expect(name('http://h/a', '/etc/passwd')).toMatchObject({ ok: false });
    expect(name('http://h/a', '../x')).toMatchObject({ ok: false });
    expect(name('http://h/a', 'a/../../x')).toMatchObject({ ok: false });
    expect(name('http://h/a', '')).toMatchObject({ ok: false });
    expect(name('http://h/')).toMatchObject({ ok: false, error: "the URI's path names no file: set 'output_file'" });
  });

  it('knows the archives the fetcher extracts', () => {
    for (const file of ['a.tar', 'a.tar.gz', 'a.TGZ', 'a.tar.bz2', 'a.tar.xz', 'a.txz', 'a.tbz2']) {
      expect(archiveKind(file), file).toBe('tar');
    }
    expect(archiveKind('a.zip')).toBe('zip');
    expect(archiveKind('a.gz')).toBeUndefined();
    expect(archiveKind('script.sh')).toBeUndefined();
  });

  it('shows URIs without credentials or query strings', () => {
    expect(redactedUri('https://user:pw@h/a?X-Amz-Signature=s')).toBe('https://h/a?…');
    expect(redactedUri('/opt/x')).toBe('/opt/x');
    expect(commandUriError({ value: '' })).toBe("URI '': the URI is empty");
  });
});

describe('master validation of uris and checks (TASK_ERROR)', () => {
  const task = (extra: Partial<TaskInfo>): TaskInfo => ({
    name: 't',
    task_id: { value: 't' },
    agent_id: { value: 'a' },
    resources: resources('cpus:0.1;mem:32'),
    command: { value: 'true' },
    ...extra,
  });
  const validate = (extra: Partial<TaskInfo>) => validateTask(task(extra), { agentId: 'a', role: '*', inGroup: false });

  it('accepts fetchable uris', () => {
    const uris = [
      { value: 'http://127.0.0.1/a.tgz', extract: true, cache: true },
      { value: '/opt/x', executable: true },
    ];
    expect(validate({ command: { value: 'true', uris } }).ok).toBe(true);
  });

  it('refuses an empty uri, an unsupported scheme and an output_file outside the sandbox', () => {
    expect(validate({ command: { value: 'true', uris: [{ value: '' }] } })).toMatchObject({
      ok: false,
      error: { message: "CommandInfo: URI '': the URI is empty" },
    });
    expect(validate({ command: { value: 'true', uris: [{ value: 'ftp://h/a' }] } })).toMatchObject({ ok: false });
    expect(
      validate({ command: { value: 'true', uris: [{ value: 'http://h/a', output_file: '../../x' }] } }),
    ).toMatchObject({ ok: false });
  });

  it('refuses a check without a type, without its sub-message, or with a bad path or command', () => {
    expect(validate({ check: {} })).toMatchObject({ error: { message: "CheckInfo 'type' must be set" } });
    expect(validate({ check: { type: 'TCP' } })).toMatchObject({
      error: { message: "Expecting 'tcp' to be set for TCP check" },
    });
    expect(validate({ check: { type: 'HTTP', http: { port: 80, path: 'x' } } })).toMatchObject({
      error: { message: "The path of an HTTP check must start with '/'" },
    });
    expect(validate({ check: { type: 'COMMAND', command: { command: { shell: true } } } })).toMatchObject({
      error: { message: "CheckInfo: a shell command needs 'value'" },
    });
    expect(validate({ check: { type: 'TCP', tcp: { port: 1 }, interval_seconds: -1 } })).toMatchObject({ ok: false });
    expect(validate({ max_completion_time: { nanoseconds: -1 } })).toMatchObject({
      error: { message: "'max_completion_time' must be non-negative" },
    });
  });
});
