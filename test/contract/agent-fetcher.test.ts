/**
 * The fetcher end to end: one agent with both containerizers, a loopback HTTP server serving files and
 * archives made here (tar, zip), and local files. Fetched into the sandbox before the task starts (a
 * process task and a Docker task see them), extracted, made executable, renamed, cached (a second
 * fetch does not reach the server); every failure ends the task in TASK_FAILED with
 * REASON_CONTAINER_LAUNCH_FAILED, naming the URI, before the task ran.
 */
import { execFile } from 'node:child_process';
import { access, chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import type { AwsClients } from '#shared/aws/clients.js';
import type { CommandInfo } from '#shared/protocol/mesos.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import {
  commandTask,
  dockerTask,
  kill,
  launch,
  removeContainers,
  removeWorkDir,
  ROOT_GRANT,
  startTestAgent,
  taskId,
  tempWorkDir,
} from '../support/agent.js';
import { SAFE_GRANT } from '#shared/protocol/internal.js';
import { sandboxes, sandboxFile } from '../support/agent-sandbox.js';
import { eventually } from '../support/cluster.js';

const run = promisify(execFile);

let clients: AwsClients;
let master: FakeMaster;
let agent: RunningAgent;
let agentId: string;
let workDir: string;
let files: string;
let server: Server;
let base: string;
/** An S3 stand-in (path-style GetObject): `models/<file>` serves the files, `locked/*` is AccessDenied, `silent/*` never answers. */
let s3: Server;
/** Authorization headers the S3 stand-in saw. */
const s3Signatures: string[] = [];
const credentials = { AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test-secret' };
/** Requests the server saw, by path. */
const hits = new Map<string, number>();
/** Responses of /slow held open until the test ends. */
const held: Array<() => void> = [];

beforeAll(async () => {
  files = await mkdtemp(join(tmpdir(), 'mantle-fetch-files-'));
  await mkdir(join(files, 'app', 'bin'), { recursive: true });
  await writeFile(join(files, 'app', 'data.txt'), 'from the archive\n');
  await writeFile(join(files, 'app', 'bin', 'run.sh'), '#!/bin/sh\necho archived script\n', { mode: 0o755 });
  await run('tar', ['-czf', join(files, 'app.tar.gz'), '-C', files, 'app']);
  await run('tar', ['-cJf', join(files, 'app.tar.xz'), '-C', files, 'app']);
  await run('zip', ['-qr', join(files, 'app.zip'), 'app'], { cwd: files });
  await mkdir(join(files, 'privileged'));
  await writeFile(join(files, 'privileged', 'su'), '#!/bin/sh\nid -u\n');
  await chmod(join(files, 'privileged', 'su'), 0o4755);
  await run('tar', ['-cf', join(files, 'privileged.tar'), '-C', files, 'privileged']);
  await mkdir(join(files, 'evil'));
  await symlink('/etc/hostname', join(files, 'evil', 'stdout'));
  await run('tar', ['-cf', join(files, 'evil.tar'), '-C', join(files, 'evil'), 'stdout']);
  await writeFile(join(files, 'hello.sh'), '#!/bin/sh\necho "hello from $0"\n');
  await writeFile(join(files, 'cached.txt'), 'cached content\n');
  await writeFile(join(files, 'broken.tar.gz'), 'this is not a tarball');
  server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === '/slow') {
      response.writeHead(200, { 'content-length': '1000' });
      response.write('x');
      held.push(() => response.destroy());
      return;
    }
    readFile(join(files, path.slice(1))).then(
      (body) => response.writeHead(200).end(body),
      () => response.writeHead(404, 'Not Found').end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  s3 = createServer((request, response) => {
    s3Signatures.push(request.headers.authorization ?? '');
    const [bucket, ...key] = new URL(request.url ?? '/', 'http://x').pathname.slice(1).split('/');
    const error = (status: number, code: string) =>
      response
        .writeHead(status, { 'content-type': 'application/xml' })
        .end(`<?xml version="1.0"?><Error><Code>${code}</Code><Message>${code} here</Message></Error>`);
    if (bucket === 'locked') return error(403, 'AccessDenied');
    if (bucket === 'silent') return void held.push(() => response.destroy());
    readFile(join(files, key.join('/'))).then(
      (body) => response.writeHead(200, { 'content-length': String(body.length) }).end(body),
      () => error(404, 'NoSuchKey'),
    );
  });
  await new Promise<void>((resolve) => s3.listen(0, '127.0.0.1', resolve));
  Object.assign(process.env, credentials);
  clients = standInClients();
  master = await new FakeMaster({ sqs: clients.sqs }).start();
  workDir = await tempWorkDir();
  agent = await startTestAgent(master, {
    sqsEndpoint: inject('sqsEndpoint'),
    workDir,
    containerizers: ['mesos', 'docker'],
    fetcherStallTimeoutMs: 3_000,
    region: 'eu-west-1',
    s3Endpoint: `http://127.0.0.1:${(s3.address() as AddressInfo).port}`,
  });
  agentId = await agent.registered;
});

afterAll(async () => {
  for (const release of held) release();
  await agent?.shutdown();
  await master?.close();
  clients?.destroy();
  await new Promise((resolve) => server?.close(resolve));
  await new Promise((resolve) => s3?.close(resolve));
  Reflect.deleteProperty(process.env, 'AWS_ACCESS_KEY_ID');
  Reflect.deleteProperty(process.env, 'AWS_SECRET_ACCESS_KEY');
  if (workDir) {
    await removeContainers([workDir]);
    await removeWorkDir(workDir);
  }
  if (files) await rm(files, { recursive: true, force: true });
});

function withUris(shell: string, uris: CommandInfo['uris']): Partial<ReturnType<typeof commandTask>> {
  return { command: { value: shell, uris } };
}

async function sandboxOf(id: string): Promise<string> {
  const [sandbox] = await sandboxes(workDir, id);
  if (!sandbox) throw new Error(`no sandbox for ${id}`);
  return sandbox;
}

/** Launches a task that must fail in its fetch; returns the failure, having checked the task never ran. */
async function fetchFailure(uris: CommandInfo['uris'], grant = ROOT_GRANT): Promise<string> {
  const id = taskId('fetch-fail');
  await master.send(agentId, launch(commandTask(id, 'touch ran', withUris('touch ran', uris)), { grant }));
  const failed = await master.waitFor(id, 'TASK_FAILED', 20_000);
  expect(failed.status.reason).toBe('REASON_CONTAINER_LAUNCH_FAILED');
  expect(master.updates(id).map((received) => received.status.state)).toEqual(['TASK_STARTING', 'TASK_FAILED']);
  await expect(access(join(await sandboxOf(id), 'ran'))).rejects.toThrow();
  return failed.status.message ?? '';
}

describe('fetching into the sandbox (process tasks)', () => {
  it('extracts archives, makes executables, renames with output_file, before the task starts', async () => {
    const id = taskId('fetch');
    const shell = 'cat app/data.txt; ./hello.sh; ./tool; app/bin/run.sh; ls zipped/app';
    const uris = [
      { value: `${base}/app.tar.gz`, extract: true },
      { value: `${base}/hello.sh`, executable: true },
      { value: `${base}/hello.sh`, executable: true, output_file: 'tool' },
      { value: `${base}/app.zip`, extract: true, output_file: 'zipped/app.zip' },
      { value: `${base}/app.tar.xz`, extract: false },
    ];
    await master.send(agentId, launch(commandTask(id, shell, withUris(shell, uris))));
    const finished = await master.waitFor(id, 'TASK_FINISHED', 20_000);
    expect(finished.status.message).toBe('Command exited with status 0');
    const sandbox = await sandboxOf(id);
    expect(await sandboxFile(workDir, id, 'stdout')).toBe(
      ['from the archive', `hello from ./hello.sh`, `hello from ./tool`, 'archived script', 'bin', 'data.txt', ''].join(
        '\n',
      ),
    );
    // The archive stays beside what it held; extract: false leaves it packed.
    await access(join(sandbox, 'app.tar.gz'));
    await access(join(sandbox, 'app.tar.xz'));
    expect(agent.metrics.snapshot()['containerizer/fetcher/task_fetches_succeeded']).toBeGreaterThanOrEqual(1);
  });

  it('serves cache: true from the agent cache the second time', async () => {
    const before = hits.get('/cached.txt') ?? 0;
    for (const name of ['first', 'second']) {
      const id = taskId(`cache-${name}`);
      const uris = [{ value: `${base}/cached.txt`, cache: true }];
      await master.send(agentId, launch(commandTask(id, 'cat cached.txt', withUris('cat cached.txt', uris))));
      await master.waitFor(id, 'TASK_FINISHED', 20_000);
      expect(await sandboxFile(workDir, id, 'stdout')).toBe('cached content\n');
    }
    expect((hits.get('/cached.txt') ?? 0) - before).toBe(1);
    expect(agent.metrics.snapshot()['containerizer/fetcher/cache_size_used_bytes']).toBeGreaterThanOrEqual(15);
  });

  it('reads s3:// objects of the granted buckets, signed with the agent credentials, extracted and cached', async () => {
    const grant = { ...ROOT_GRANT, s3_buckets: ['models'] };
    const uris = [{ value: 's3://models/app.tar.gz', cache: true }, { value: 's3://models/cached.txt' }];
    const asked = s3Signatures.length;
    for (const name of ['first', 'second']) {
      const id = taskId(`s3-${name}`);
      const shell = 'cat app/data.txt cached.txt';
      await master.send(agentId, launch(commandTask(id, shell, withUris(shell, uris)), { grant }));
      await master.waitFor(id, 'TASK_FINISHED', 20_000);
      expect(await sandboxFile(workDir, id, 'stdout')).toBe('from the archive\ncached content\n');
    }
    // Three GetObjects: the cached archive once, the other object each time; SigV4 for S3 in the agent's region.
    const signatures = s3Signatures.slice(asked);
    expect(signatures).toHaveLength(3);
    for (const signature of signatures)
      expect(signature).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d+\/eu-west-1\/s3\//);
    // A cached object is not for a task whose grant lacks the bucket.
    expect(await fetchFailure(uris)).toContain("may not read the S3 bucket 'models'");
  });

  it('copies local files the grant allows, and refuses those it does not', async () => {
    const id = taskId('local');
    const grant = { ...ROOT_GRANT, host_paths: [files] };
    const uris = [
      { value: `file://${join(files, 'cached.txt')}` },
      { value: join(files, 'hello.sh'), executable: true },
    ];
    await master.send(agentId, launch(commandTask(id, 'cat cached.txt', withUris('cat cached.txt', uris)), { grant }));
    await master.waitFor(id, 'TASK_FINISHED', 20_000);
    expect(await sandboxFile(workDir, id, 'stdout')).toBe('cached content\n');

    const refused = await fetchFailure([{ value: join(files, 'cached.txt') }]);
    expect(refused).toContain(`Failed to fetch '${join(files, 'cached.txt')}'`);
    expect(refused).toContain('outside the granted host paths (acl: host_paths)');
    const credential = await fetchFailure([{ value: join(workDir, 'meta', 'agent.json') }], {
      ...ROOT_GRANT,
      host_paths: ['/'],
    });
    expect(credential).toContain("the agent's checkpoint");

    // A local file is never served from the cache: the next task's grant is checked again.
    const cachedId = taskId('local-cached');
    const cachedUris = [{ value: join(files, 'hello.sh'), cache: true }];
    await master.send(agentId, launch(commandTask(cachedId, 'true', withUris('true', cachedUris)), { grant }));
    await master.waitFor(cachedId, 'TASK_FINISHED', 20_000);
    expect(await fetchFailure(cachedUris)).toContain('outside the granted host paths');
  });
});

describe('fetching for a task that runs as another user', () => {
  it('gives what was fetched to the task user, and clears setuid bits of what was unpacked', async () => {
    const dir = await tempWorkDir();
    // mkdtemp makes it 0700; the task's user must pass through to its sandbox.
    await chmod(dir, 0o711);
    const switching = await startTestAgent(master, {
      sqsEndpoint: inject('sqsEndpoint'),
      workDir: dir,
      containerizers: ['mesos'],
      switchUser: true,
    });
    try {
      const id2 = await switching.registered;
      const id = taskId('fetch-nobody');
      const shell = 'echo more >> app/data.txt && cat app/data.txt && stat -c %U app/bin/run.sh privileged/su';
      const uris = [{ value: `${base}/app.tar.gz` }, { value: `${base}/privileged.tar` }];
      const task = commandTask(id, shell, { command: { value: shell, user: 'nobody', uris } });
      await master.send(id2, launch(task, { grant: SAFE_GRANT }));
      await master.waitFor(id, 'TASK_FINISHED', 20_000);
      expect(await sandboxFile(dir, id, 'stdout')).toBe('from the archive\nmore\nnobody\nnobody\n');
      const [sandbox] = await sandboxes(dir, id);
      expect((await stat(join(sandbox as string, 'privileged', 'su'))).mode & 0o7777).toBe(0o755);
    } finally {
      await switching.shutdown();
      await removeWorkDir(dir);
    }
  });
});

describe('fetch failures (TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED; the task never runs)', () => {
  it('a 404', async () => {
    expect(await fetchFailure([{ value: `${base}/missing.tgz` }])).toBe(
      `Failed to fetch '${base}/missing.tgz': the server answered 404 Not Found`,
    );
  });

  it('an unreachable server', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const uri = `http://127.0.0.1:${port}/app.tar.gz`;
    expect(await fetchFailure([{ value: uri }])).toBe(`Failed to fetch '${uri}': fetch failed: ECONNREFUSED`);
  });

  it('a bad archive, after an earlier URI was fetched', async () => {
    const message = await fetchFailure([
      { value: `${base}/hello.sh` },
      { value: `${base}/broken.tar.gz`, extract: true },
    ]);
    expect(message).toMatch(/^Failed to fetch '.*\/broken\.tar\.gz': extracting it failed \(tar\): /);
  });

  it("an archive that would put a link at the sandbox's stdout", async () => {
    expect(await fetchFailure([{ value: `${base}/evil.tar` }])).toBe(
      `Failed to fetch '${base}/evil.tar': it put a link or folder at the sandbox's 'stdout', which is the task's output`,
    );
  });

  it('a download that stalls', async () => {
    expect(await fetchFailure([{ value: `${base}/slow` }])).toBe(
      `Failed to fetch '${base}/slow': the download stalled: nothing received for 3s`,
    );
    expect(agent.metrics.snapshot()['containerizer/fetcher/task_fetches_failed']).toBeGreaterThanOrEqual(1);
  });

  it("S3: a bucket the grant does not name (before any request), S3's AccessDenied and NoSuchKey", async () => {
    const asked = s3Signatures.length;
    expect(await fetchFailure([{ value: 's3://models/app.tar.gz' }])).toBe(
      "Failed to fetch 's3://models/app.tar.gz': refused: the task may not read the S3 bucket 'models' (acl: s3_buckets)",
    );
    expect(s3Signatures.length).toBe(asked);
    const grant = { ...ROOT_GRANT, s3_buckets: ['*'] };
    expect(await fetchFailure([{ value: 's3://locked/a.tgz' }], grant)).toBe(
      "Failed to fetch 's3://locked/a.tgz': S3 answered 403 AccessDenied: AccessDenied here",
    );
    expect(await fetchFailure([{ value: 's3://models/none.tgz' }], grant)).toBe(
      "Failed to fetch 's3://models/none.tgz': S3 answered 404 NoSuchKey: NoSuchKey here",
    );
    expect(await fetchFailure([{ value: 's3://silent/a.tgz' }], grant)).toBe(
      "Failed to fetch 's3://silent/a.tgz': the download stalled: nothing received for 3s",
    );
  });

  it('a kill while fetching ends the task TASK_KILLED without starting it', async () => {
    const id = taskId('fetch-kill');
    const before = hits.get('/slow') ?? 0;
    await master.send(
      agentId,
      launch(commandTask(id, 'touch ran', withUris('touch ran', [{ value: `${base}/slow` }]))),
    );
    await eventually(async () => ((hits.get('/slow') ?? 0) > before ? true : undefined), 10_000, 'the fetch to start');
    await master.send(agentId, kill(id));
    const killed = await master.waitFor(id, 'TASK_KILLED', 10_000);
    expect(killed.status.message).toContain('while its URIs were fetched');
    await expect(access(join(await sandboxOf(id), 'ran'))).rejects.toThrow();
  });
});

describe('fetching for Docker tasks', () => {
  it('puts the URIs in the sandbox the container sees', async () => {
    const id = taskId('docker-fetch');
    const shell = 'cat $MESOS_SANDBOX/app/data.txt && $MESOS_SANDBOX/hello.sh';
    const uris = [
      { value: `${base}/app.tar.gz`, extract: true, cache: true },
      { value: `${base}/hello.sh`, executable: true },
    ];
    await master.send(agentId, launch(dockerTask(id, shell, withUris(shell, uris))));
    await master.waitFor(id, 'TASK_FINISHED', 60_000);
    expect(await sandboxFile(workDir, id, 'stdout')).toBe('from the archive\nhello from /mnt/mesos/sandbox/hello.sh\n');
  });
});
