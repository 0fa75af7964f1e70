/**
 * Task isolation on a real agent (root, switching users), the real Docker engine and real processes:
 * the launch grant enforced again on the agent, root in Docker images (the image's USER, and names that
 * are uid 0 in the image), `no-new-privileges`, sandboxes handed to non-root users and closed to
 * others, the paths no task may mount whatever its grant, and the agent's /state.
 */
import { chmod, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import { LABELS } from '../../agent/containerizer/docker-spec.js';
import type { AwsClients } from '#shared/aws/clients.js';
import { SAFE_GRANT, type LaunchGrant } from '#shared/protocol/internal.js';
import type { TaskInfo } from '#shared/protocol/mesos.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import {
  commandTask,
  dockerTask,
  launch,
  removeContainers,
  removeWorkDir,
  ROOT_GRANT,
  startTestAgent,
  taskId,
  tempWorkDir,
  TEST_IMAGE,
} from '../support/agent.js';
import { sandboxes, sandboxFile } from '../support/agent-sandbox.js';

const docker = new Docker();
/** Images of the test image with an /etc/passwd: USER app (uid 0 there), USER worker (uid 1234). */
const IMAGES = {
  rootByName: `mantle/busybox:isolation-${process.pid}-app`,
  worker: `mantle/busybox:isolation-${process.pid}-worker`,
};

let clients: AwsClients;
let master: FakeMaster;
let agent: RunningAgent;
let agentId: string;
let workDir: string;
let hostDir: string;

async function buildImages(): Promise<void> {
  const passwd = 'app:x:0:0::/:/bin/sh\\nworker:x:1234:1234::/:/bin/sh\\n';
  const container = await docker.createContainer({
    Image: TEST_IMAGE,
    Cmd: ['sh', '-c', `busybox mkdir -p /etc && printf '${passwd}' > /etc/passwd`],
    HostConfig: { NetworkMode: 'none' },
  });
  await container.start();
  await container.wait();
  for (const [image, user] of [
    [IMAGES.rootByName, 'app'],
    [IMAGES.worker, 'worker'],
  ] as const) {
    const [repo, tag] = image.split(':') as [string, string];
    await container.commit({ repo, tag, changes: `USER ${user}` });
  }
  await container.remove({ force: true });
}

beforeAll(async () => {
  await buildImages();
  clients = standInClients();
  master = await new FakeMaster({ sqs: clients.sqs }).start();
  workDir = await tempWorkDir();
  // mkdtemp makes it 0700; a non-root task must be able to pass through to its sandbox.
  await chmod(workDir, 0o711);
  hostDir = await mkdtemp(join(tmpdir(), 'mantle-hostpaths-'));
  await chmod(hostDir, 0o755);
  await writeFile(join(hostDir, 'shared.txt'), 'from the host\n');
  await symlink('/var/run/docker.sock', join(hostDir, 'engine'));
  agent = await startTestAgent(master, {
    sqsEndpoint: inject('sqsEndpoint'),
    workDir,
    containerizers: ['docker', 'mesos'],
    switchUser: true,
    port: 0,
  });
  agentId = await agent.registered;
});

afterAll(async () => {
  await agent?.shutdown();
  await master?.close();
  clients?.destroy();
  if (workDir) {
    await removeContainers([workDir]);
    await removeWorkDir(workDir);
  }
  if (hostDir) await rm(hostDir, { recursive: true, force: true });
  for (const image of Object.values(IMAGES))
    await docker
      .getImage(image)
      .remove({ force: true })
      .catch(() => undefined);
});

async function containersOf(id: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.workDir}=${workDir}`, `${LABELS.taskId}=${id}`] },
  });
}

function image(name: string, extra: Partial<TaskInfo> = {}): (id: string, shell: string) => TaskInfo {
  return (id, shell) =>
    dockerTask(id, shell, { container: { type: 'DOCKER', docker: { image: name, network: 'NONE' } }, ...extra });
}

async function runs(task: TaskInfo, grant: LaunchGrant | null) {
  await master.send(agentId, launch(task, { grant }));
  const id = task.task_id.value;
  return master.until(
    () =>
      master.of(id).find((received) => ['TASK_FINISHED', 'TASK_FAILED', 'TASK_ERROR'].includes(received.status.state)),
    30_000,
    `${id} to end`,
  );
}

describe('root in Docker images', () => {
  it('refuses an image whose USER is empty (root) without a root grant, naming run_as_users; nothing is created', async () => {
    const id = taskId('root-image');
    const ended = await runs(dockerTask(id, 'echo ran'), SAFE_GRANT);
    expect(ended.status).toMatchObject({ state: 'TASK_FAILED', reason: 'REASON_CONTAINER_LAUNCH_FAILED' });
    expect(ended.status.message).toMatch(
      /would run as root \(image 'mantle\/busybox:test' has no USER\).*\(acl: run_as_users\).*set a non-root user/,
    );
    expect(await containersOf(id)).toEqual([]);
  });

  it('applies the safe defaults to a LAUNCH without a grant (a master from before grants)', async () => {
    const id = taskId('no-grant');
    expect((await runs(dockerTask(id, 'echo ran'), null)).status.message).toMatch(/acl: run_as_users/);
  });

  it('refuses a USER that is uid 0 in the image, and removes the container it created to look', async () => {
    const id = taskId('root-by-name');
    const ended = await runs(image(IMAGES.rootByName)(id, 'echo ran'), SAFE_GRANT);
    expect(ended.status).toMatchObject({ state: 'TASK_FAILED', reason: 'REASON_CONTAINER_LAUNCH_FAILED' });
    expect(ended.status.message).toMatch(/runs as USER 'app', uid 0 in the image/);
    await master.until(async () => (await containersOf(id)).length === 0, 10_000, 'the container to go');
  });

  it('runs a root image as root when the grant allows root', async () => {
    const id = taskId('root-granted');
    expect((await runs(dockerTask(id, 'busybox id -u'), ROOT_GRANT)).status.state).toBe('TASK_FINISHED');
    expect(await sandboxFile(workDir, id, 'stdout')).toBe('0\n');
  });

  it.each([
    [
      'a numeric task user',
      (id: string, shell: string) => dockerTask(id, shell, { command: { value: shell, user: '1000' } }),
      1000,
    ],
    ["the image's named USER", image(IMAGES.worker), 1234],
  ])('runs %s without root, with no-new-privileges, in a sandbox it owns and can write', async (_what, make, uid) => {
    const id = taskId('nonroot');
    const shell =
      'busybox id -u; busybox grep NoNewPrivs /proc/self/status; echo written > "$MESOS_SANDBOX/out"; cat "$MESOS_SANDBOX/out"';
    const ended = await runs(make(id, shell), SAFE_GRANT);
    expect(ended.status.state).toBe('TASK_FINISHED');
    expect(await sandboxFile(workDir, id, 'stdout')).toMatch(new RegExp(`^${uid}\\nNoNewPrivs:\\s+1\\nwritten\\n$`));
    const [sandbox] = await sandboxes(workDir, id);
    expect((await stat(sandbox as string)).uid).toBe(uid);
  });
});

describe('the grant, enforced again on the agent', () => {
  it.each([
    [
      'a privileged container',
      { docker: { image: TEST_IMAGE, network: 'NONE' as const, privileged: true } },
      'privileged',
    ],
    [
      'a Docker parameter not granted',
      { docker: { image: TEST_IMAGE, network: 'NONE' as const, parameters: [{ key: 'pid', value: 'host' }] } },
      'docker_parameters',
    ],
    [
      'a host path not granted',
      {
        docker: { image: TEST_IMAGE, network: 'NONE' as const },
        volumes: [{ mode: 'RO' as const, container_path: '/host', host_path: '/etc' }],
      },
      'host_paths',
    ],
  ])('answers %s with TASK_ERROR, REASON_TASK_UNAUTHORIZED, before anything starts', async (_what, container, acl) => {
    const id = taskId('unauthorized');
    const ended = await runs(dockerTask(id, 'true', { container: { type: 'DOCKER', ...container } }), ROOT_GRANT);
    expect(ended.status).toMatchObject({
      state: 'TASK_ERROR',
      reason: 'REASON_TASK_UNAUTHORIZED',
      source: 'SOURCE_AGENT',
    });
    expect(ended.status.message).toMatch(new RegExp(`^Not authorized: .*\\(acl: ${acl}\\)$`));
    expect(master.updates(id).map((received) => received.status.state)).toEqual(['TASK_ERROR']);
  });

  it('refuses a network mode the grant leaves out', async () => {
    const id = taskId('network');
    const grant = { ...ROOT_GRANT, network_modes: ['NONE' as const] };
    const task = dockerTask(id, 'true', {
      container: { type: 'DOCKER', docker: { image: TEST_IMAGE, network: 'HOST' } },
    });
    expect((await runs(task, grant)).status.message).toMatch(/network mode HOST \(acl: network_modes\)/);
  });

  it('mounts a granted host path', async () => {
    const id = taskId('host-path');
    const task = dockerTask(id, 'cat /host/shared.txt', {
      container: {
        type: 'DOCKER',
        docker: { image: TEST_IMAGE, network: 'NONE' },
        volumes: [{ mode: 'RO', container_path: '/host', host_path: hostDir }],
      },
    });
    expect((await runs(task, { ...ROOT_GRANT, host_paths: [hostDir] })).status.state).toBe('TASK_FINISHED');
    expect(await sandboxFile(workDir, id, 'stdout')).toBe('from the host\n');
  });

  it.each([
    ['the Docker socket through a symlink in a granted path', () => join(hostDir, 'engine'), /container engine socket/],
    ["the agent's work dir", () => workDir, /checkpoint/],
    ["other tasks' sandboxes", () => join(workDir, 'frameworks'), /work dir/],
    ['/, which holds both', () => '/', /container engine socket/],
  ])('never mounts %s, even with every host path granted', async (_what, path, message) => {
    const id = taskId('protected');
    const task = dockerTask(id, 'true', {
      container: {
        type: 'DOCKER',
        docker: { image: TEST_IMAGE, network: 'NONE' },
        volumes: [{ mode: 'RW', container_path: '/host', host_path: path() }],
      },
    });
    const ended = await runs(task, { ...ROOT_GRANT, host_paths: ['/'] });
    expect(ended.status).toMatchObject({ state: 'TASK_ERROR', reason: 'REASON_TASK_UNAUTHORIZED' });
    expect(ended.status.message).toMatch(message);
    expect(await containersOf(id)).toEqual([]);
  });
});

describe('process tasks', () => {
  it('refuses a root user without a root grant, naming run_as_users', async () => {
    const id = taskId('root-process');
    const ended = await runs(commandTask(id, 'echo ran'), SAFE_GRANT);
    expect(ended.status).toMatchObject({ state: 'TASK_FAILED', reason: 'REASON_CONTAINER_LAUNCH_FAILED' });
    expect(ended.status.message).toMatch(/user 'root' is uid 0.*\(acl: run_as_users\)/);
  });

  it("runs a non-root user in a sandbox it owns, closed to other users, and out of the agent's checkpoint", async () => {
    const other = taskId('private');
    const secret = `s3cret-${other}`;
    await master.send(
      agentId,
      launch(
        commandTask(other, `echo ${secret}; sleep 30`, {
          command: {
            value: `echo ${secret}; sleep 30`,
            environment: { variables: [{ name: 'TOKEN', value: secret }] },
          },
        }),
      ),
    );
    await master.waitFor(other, 'TASK_RUNNING');
    const [otherSandbox] = await sandboxes(workDir, other);
    const id = taskId('nobody');
    const shell = [
      'id -u',
      `cat ${workDir}/meta/tasks/*/*/task.json >/dev/null 2>&1 && echo read-records || echo no-records`,
      `cat ${otherSandbox}/stdout >/dev/null 2>&1 && echo read-other || echo no-other`,
      `ls ${workDir}/frameworks >/dev/null 2>&1 && echo listed || echo no-list`,
      // Its own run dir, where the supervisor (root) writes its exit status: a link there would be written through.
      `ln -s /etc/mantle-clobbered ${workDir}/meta/runs/$MESOS_CONTAINER_ID/probe 2>/dev/null && echo linked || echo no-link`,
      'echo mine > own && cat own',
    ].join('; ');
    const task = commandTask(id, shell, { command: { value: shell, user: 'nobody' } });
    expect((await runs(task, SAFE_GRANT)).status.state).toBe('TASK_FINISHED');
    expect(await sandboxFile(workDir, id, 'stdout')).toBe('65534\nno-records\nno-other\nno-list\nno-link\nmine\n');
    expect((await stat(join(workDir, 'meta'))).mode & 0o777).toBe(0o711);
    expect((await stat(join(workDir, 'meta', 'tasks'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(workDir, 'meta', 'runs'))).mode & 0o777).toBe(0o700);
  });

  it('refuses root on an agent that runs process tasks as itself (--no-switch_user) unless granted', async () => {
    const dir = await tempWorkDir();
    const asItself = await startTestAgent(master, {
      sqsEndpoint: inject('sqsEndpoint'),
      workDir: dir,
      containerizers: ['mesos'],
    });
    try {
      const id2 = await asItself.registered;
      const refused = taskId('as-agent');
      await master.send(id2, launch(commandTask(refused, 'true'), { grant: SAFE_GRANT }));
      expect((await master.waitFor(refused, 'TASK_FAILED')).status.message).toMatch(
        /--no-switch_user.*\(acl: run_as_users\)/,
      );
      const granted = taskId('as-agent');
      await master.send(id2, launch(commandTask(granted, 'true'), { grant: ROOT_GRANT }));
      await master.waitFor(granted, 'TASK_FINISHED');
    } finally {
      await asItself.shutdown();
      await removeWorkDir(dir);
    }
  });
});

describe("the agent's /state", () => {
  it("names each task's ids, state and resources, and nothing the tenant put in it", async () => {
    const id = taskId('state');
    const secret = `hidden-${id}`;
    const shell = `sleep 30 # ${secret}-command`;
    await master.send(
      agentId,
      launch(
        commandTask(id, shell, {
          command: { value: shell, environment: { variables: [{ name: 'TOKEN', value: `${secret}-env` }] } },
          labels: { labels: [{ key: 'owner', value: `${secret}-label` }] },
        }),
      ),
    );
    await master.waitFor(id, 'TASK_RUNNING');
    const text = await (await fetch(`${agent.endpoint?.url}/state`)).text();
    expect(text).not.toContain(secret);
    const state = JSON.parse(text) as { tasks: Array<Record<string, unknown>> };
    const task = state.tasks.find((entry) => entry.taskId === id);
    expect(Object.keys(task ?? {}).sort()).toEqual([
      'containerId',
      'frameworkId',
      'phase',
      'resources',
      'state',
      'taskId',
    ]);
    expect(task).toMatchObject({
      state: 'TASK_RUNNING',
      resources: [{ name: 'cpus', scalar: { value: 0.1 } }, { name: 'mem' }],
    });
  });
});

describe('mount targets for process tasks', () => {
  it('links a granted host path into the sandbox, and refuses the credential file even so', async () => {
    const dir = await tempWorkDir();
    const credential = join(dir, 'credential');
    await mkdir(dir, { recursive: true });
    await writeFile(credential, 'agent secret');
    const linked = await startTestAgent(master, {
      sqsEndpoint: inject('sqsEndpoint'),
      workDir: join(dir, 'work'),
      containerizers: ['mesos'],
      credential,
    });
    try {
      const id2 = await linked.registered;
      const grant = { ...ROOT_GRANT, host_paths: ['/'] };
      const refused = taskId('credential');
      const volume = (path: string) => ({
        container: {
          type: 'MESOS' as const,
          volumes: [{ mode: 'RO' as const, container_path: 'host', host_path: path }],
        },
      });
      await master.send(id2, launch(commandTask(refused, 'cat host', volume(credential)), { grant }));
      expect((await master.waitFor(refused, 'TASK_ERROR')).status.message).toMatch(/agent's credential/);
      const allowed = taskId('linked');
      await master.send(id2, launch(commandTask(allowed, 'cat host/shared.txt', volume(hostDir)), { grant }));
      await master.waitFor(allowed, 'TASK_FINISHED');
      expect(await sandboxFile(join(dir, 'work'), allowed, 'stdout')).toBe('from the host\n');
    } finally {
      await linked.shutdown();
      await removeWorkDir(dir);
    }
  });
});
