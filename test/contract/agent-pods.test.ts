/**
 * Task groups as pods, with real processes, real cgroups and real network namespaces: the group's tasks
 * share a network namespace (127.0.0.1 between them, unreachable from the host) unless the group asks
 * for the host's, share PARENT sandbox volumes, live under one cgroup with the group's memory, and go
 * down together; the pod is removed with its last task, and survives an agent restart with its tasks.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import { detectCgroups } from '../../agent/isolation/cgroups.js';
import { podSpec } from '../../agent/isolation/pods.js';
import type { AwsClients } from '#shared/aws/clients.js';
import type { AgentCommand } from '#shared/protocol/internal.js';
import type { ContainerInfo, TaskInfo } from '#shared/protocol/mesos.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import {
  commandTask,
  FRAMEWORK_ID,
  kill,
  removeWorkDir,
  resources,
  ROOT_GRANT,
  startTestAgent,
  taskId,
  tempWorkDir,
} from '../support/agent.js';
import { sandboxes } from '../support/agent-sandbox.js';

const cgroups = await detectCgroups('/sys/fs/cgroup', 'mantle');

let clients: AwsClients;
let master: FakeMaster;
let agent: RunningAgent;
let agentId: string;
let workDir: string;

beforeAll(async () => {
  clients = standInClients();
  master = await new FakeMaster({ sqs: clients.sqs }).start();
  workDir = await tempWorkDir();
  agent = await startTestAgent(master, { sqsEndpoint: inject('sqsEndpoint'), workDir, containerizers: ['mesos'] });
  agentId = await agent.registered;
});

afterAll(async () => {
  await agent?.shutdown();
  await master?.close();
  clients?.destroy();
  if (workDir) await removeWorkDir(workDir);
});

/** A volume at `shared` in every task: the executor's sandbox's `shared` folder (Mesos's PARENT sandbox path). */
const SHARED: ContainerInfo = {
  type: 'MESOS',
  volumes: [
    {
      container_path: 'shared',
      mode: 'RW',
      source: { type: 'SANDBOX_PATH', sandbox_path: { type: 'PARENT', path: 'shared' } },
    },
  ],
};

function group(
  executorId: string,
  tasks: TaskInfo[],
  container?: ContainerInfo,
  launchId = `launch-${executorId}`,
): AgentCommand {
  return {
    type: 'LAUNCH_GROUP',
    framework_id: { value: FRAMEWORK_ID },
    framework_info: { user: 'root', name: 'pod-tests', capabilities: [{ type: 'PARTITION_AWARE' }] },
    executor: {
      type: 'DEFAULT',
      executor_id: { value: executorId },
      resources: resources('cpus:0.1;mem:32'),
      ...(container ? { container } : {}),
    },
    task_group: { tasks },
    launch_id: launchId,
    grant: ROOT_GRANT,
  };
}

const port = () => 40_000 + Math.floor(Math.random() * 9_000);

/** A task serving `pod` on 127.0.0.1:<port>, and one that fetches it into the shared volume. */
function serverAndClient(port: number): [TaskInfo, TaskInfo] {
  const server = commandTask(
    taskId('server'),
    `exec node -e "require('http').createServer((q, r) => r.end('pod')).listen(${port}, '127.0.0.1')"`,
    { container: SHARED },
  );
  const client = commandTask(
    taskId('client'),
    `for i in $(seq 100); do curl -sf http://127.0.0.1:${port}/ > shared/answer && break; sleep 0.1; done; sleep 60`,
    { container: SHARED },
  );
  return [server, client];
}

async function reachable(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2_000) }).then(
    () => true,
    () => false,
  );
}

async function sharedAnswer(executorId: string, dir = workDir): Promise<string | undefined> {
  const [run] = await sandboxes(dir, executorId);
  return run ? readFile(join(run, 'shared', 'answer'), 'utf8').catch(() => undefined) : undefined;
}

const pods = (dir = workDir) => readdir(join(dir, 'meta', 'pods')).catch(() => [] as string[]);

/** The pod's hard memory limit in MB on cgroup v1 (where these tests read it); undefined elsewhere. */
async function podMemoryMb(pod: string): Promise<number | undefined> {
  const memory = cgroups.bases.get('memory');
  if (!memory || cgroups.version !== 'v1') return undefined;
  return Number(await readFile(join(memory, pod, 'memory.limit_in_bytes'), 'utf8')) / (1024 * 1024);
}

/** The pod a group of `executorId` made when it started the executor with launch `launchId`. */
const podOf = (executorId: string, launchId: string) =>
  podSpec(FRAMEWORK_ID, { type: 'DEFAULT', executor_id: { value: executorId } }, launchId, []).id;

const v1 = cgroups.version === 'v1' && cgroups.bases.has('memory');

describe('task groups as pods', () => {
  it('gives the group one network namespace of its own and a shared PARENT volume; the host cannot reach it', async () => {
    const executorId = taskId('pod');
    const listen = port();
    const [server, client] = serverAndClient(listen);
    await master.send(agentId, group(executorId, [server, client]));
    for (const task of [server, client]) await master.waitFor(task.task_id.value, 'TASK_RUNNING');
    await master.until(
      async () => (await sharedAnswer(executorId)) === 'pod',
      15_000,
      'the client to reach the server',
    );
    expect(await reachable(listen)).toBe(false);
    expect(await pods()).toHaveLength(1);

    await master.send(agentId, kill(server.task_id.value, 0));
    await master.waitFor(server.task_id.value, 'TASK_KILLED');
    const killed = await master.waitFor(client.task_id.value, 'TASK_KILLED');
    expect(killed.status.message).toMatch(/of its group ended in TASK_KILLED/);
    await master.until(async () => (await pods()).length === 0, 10_000, 'the pod removed with its last task');
  });

  it("runs HTTP and TCP checks and health checks inside the pod's network namespace", async () => {
    const executorId = taskId('checkpod');
    const listen = port();
    const closed = port();
    const timing = { delay_seconds: 0, interval_seconds: 0.3, timeout_seconds: 5 };
    const server = commandTask(
      taskId('served'),
      `exec node -e "require('http').createServer((q, r) => r.end('pod')).listen(${listen}, '127.0.0.1')"`,
      { health_check: { type: 'HTTP', http: { port: listen, path: '/' }, ...timing, grace_period_seconds: 20 } },
    );
    // The other task's check reaches the server across the shared namespace; one to a closed port fails.
    const neighbour = commandTask(taskId('neighbour'), 'sleep 60', {
      check: { type: 'TCP', tcp: { port: listen }, ...timing },
    });
    const lonely = commandTask(taskId('lonely'), 'sleep 60', {
      check: { type: 'TCP', tcp: { port: closed }, ...timing },
    });
    await master.send(agentId, group(executorId, [server, neighbour, lonely]));
    const healthy = await master.waitFor(server.task_id.value, 'TASK_RUNNING', 20_000, (s) => s.healthy === true);
    expect(healthy.status.healthy).toBe(true);
    await master.waitFor(
      neighbour.task_id.value,
      'TASK_RUNNING',
      20_000,
      (s) => s.check_status?.tcp?.succeeded === true,
    );
    await master.waitFor(lonely.task_id.value, 'TASK_RUNNING', 20_000, (s) => s.check_status?.tcp?.succeeded === false);
    // The host does not reach the server: the checks ran in the pod.
    expect(await reachable(listen)).toBe(false);
    await master.send(agentId, kill(server.task_id.value, 0));
    for (const task of [neighbour, lonely]) await master.waitFor(task.task_id.value, 'TASK_KILLED');
  });

  it("keeps the host's network when the group's ContainerInfo names the host network", async () => {
    const executorId = taskId('hostpod');
    const listen = port();
    const [server, client] = serverAndClient(listen);
    await master.send(
      agentId,
      group(executorId, [server, client], { type: 'MESOS', network_infos: [{ name: 'host' }] }),
    );
    await master.until(
      async () => (await sharedAnswer(executorId)) === 'pod',
      15_000,
      'the client to reach the server',
    );
    expect(await reachable(listen)).toBe(true);
    await master.send(agentId, kill(client.task_id.value, 0));
    await master.waitFor(server.task_id.value, 'TASK_KILLED');
  });

  it.runIf(cgroups.version !== 'none')(
    "nests the tasks' cgroups in the group's, which holds the group's memory: over it, the group goes down",
    async () => {
      const executorId = taskId('oompod');
      const idle = commandTask(taskId('idle'), 'sleep 60');
      // 32 MB each and the executor's 32 MB: the group has 96 MB; the task alone has no limit of its own.
      const hog = commandTask(taskId('hog'), 'sleep 0.5; head -c 400m /dev/zero | tail');
      await master.send(agentId, group(executorId, [idle, hog]));
      await master.waitFor(idle.task_id.value, 'TASK_RUNNING');
      const [pod] = await pods();
      const memory = cgroups.bases.get('memory');
      if (memory && cgroups.version === 'v1') {
        const limit = await readFile(join(memory, pod as string, 'memory.limit_in_bytes'), 'utf8');
        expect(Number(limit)).toBe(96 * 1024 * 1024);
        expect(
          (await readdir(join(memory, pod as string), { withFileTypes: true })).filter((e) => e.isDirectory()),
        ).toHaveLength(2);
      }
      const failed = await master.waitFor(hog.task_id.value, 'TASK_FAILED', 30_000);
      // The group's limit, not the task's: the whole group fails with it, told by the agent, as Mesos's
      // agent tells the tasks of an executor container destroyed for its limit.
      expect(failed.status).toMatchObject({ reason: 'REASON_CONTAINER_LIMITATION_MEMORY', source: 'SOURCE_AGENT' });
      const also = await master.waitFor(idle.task_id.value, 'TASK_FAILED', 10_000);
      expect(also.status).toMatchObject({ reason: 'REASON_CONTAINER_LIMITATION_MEMORY', source: 'SOURCE_AGENT' });
      expect(also.status.message).toMatch(/task group's memory limit was exceeded/);
      await master.until(async () => (await pods()).length === 0, 10_000, 'the pod removed');
    },
  );

  it.runIf(cgroups.version !== 'none')(
    'fails only a task over a memory limit of its own (share_cgroups: false); its executor kills the others',
    async () => {
      const executorId = taskId('ownlimit');
      const idle = commandTask(taskId('idle'), 'sleep 60');
      // Its own 32 MB, in a group of 96 MB: its own limit is the one hit.
      const hog = commandTask(taskId('hog'), 'sleep 0.5; head -c 400m /dev/zero | tail', {
        container: { type: 'MESOS', linux_info: { share_cgroups: false } },
      });
      await master.send(agentId, group(executorId, [idle, hog]));
      const failed = await master.waitFor(hog.task_id.value, 'TASK_FAILED', 30_000);
      expect(failed.status).toMatchObject({
        reason: 'REASON_CONTAINER_LIMITATION_MEMORY',
        source: 'SOURCE_EXECUTOR',
      });
      const killed = await master.waitFor(idle.task_id.value, 'TASK_KILLED', 10_000);
      expect(killed.status).toMatchObject({ source: 'SOURCE_EXECUTOR' });
      expect(killed.status.reason).toBeUndefined();
      expect(killed.status.message).toMatch(/of its group ended in TASK_FAILED/);
    },
  );

  it('one task failing kills the others with TASK_KILLED', async () => {
    const executorId = taskId('failpod');
    const long = commandTask(taskId('long'), 'sleep 60');
    const bad = commandTask(taskId('bad'), 'sleep 0.5; exit 3');
    await master.send(agentId, group(executorId, [long, bad]));
    const failed = await master.waitFor(bad.task_id.value, 'TASK_FAILED');
    expect(failed.status.message).toMatch(/status 3/);
    const killed = await master.waitFor(long.task_id.value, 'TASK_KILLED');
    expect(killed.status.message).toMatch(/of its group ended in TASK_FAILED/);
  });

  it("kills only the failing task's own group, not another group of the same executor id", async () => {
    const executorId = taskId('twogroups');
    const [first, second] = [taskId('first'), taskId('second')];
    await master.send(agentId, group(executorId, [commandTask(first, 'sleep 60')], undefined, `${executorId}-1`));
    await master.waitFor(first, 'TASK_RUNNING');
    const bad = commandTask(taskId('bad'), 'sleep 0.5; exit 3');
    await master.send(agentId, group(executorId, [commandTask(second, 'sleep 60'), bad], undefined, `${executorId}-2`));
    await master.waitFor(bad.task_id.value, 'TASK_FAILED');
    await master.waitFor(second, 'TASK_KILLED');
    expect(master.of(first).map((update) => update.status.state)).not.toContain('TASK_KILLED');
    expect(agent.tasks().find((task) => task.taskId === first)).toMatchObject({ state: 'TASK_RUNNING' });
    await master.send(agentId, kill(first, 0));
    await master.waitFor(first, 'TASK_KILLED');
  });

  it('runs two groups of one ACCEPT for one executor in one pod, grown by both; a failure kills only its group', async () => {
    const executorId = taskId('samepod');
    const launchId = `${executorId}-accept`;
    const listen = port();
    const [server, client] = serverAndClient(listen);
    const bad = commandTask(taskId('bad'), 'sleep 3; exit 3');
    // Two LAUNCH_GROUP operations of one ACCEPT: one launch id, the same executor.
    await master.send(agentId, group(executorId, [server], undefined, launchId));
    await master.send(agentId, group(executorId, [client, bad], undefined, launchId));
    for (const task of [server, client, bad]) await master.waitFor(task.task_id.value, 'TASK_RUNNING');
    // One pod: the client of the second group reaches the server of the first on the pod's loopback.
    await master.until(async () => (await sharedAnswer(executorId)) === 'pod', 15_000, 'the client served');
    const pod = podSpec(FRAMEWORK_ID, { type: 'DEFAULT', executor_id: { value: executorId } }, launchId, []).id;
    expect(await pods()).toContain(pod);
    const memory = cgroups.bases.get('memory');
    if (memory && cgroups.version === 'v1') {
      // The executor's 32 MB and the three tasks' 32 MB each.
      const limit = await readFile(join(memory, pod, 'memory.limit_in_bytes'), 'utf8');
      expect(Number(limit)).toBe(128 * 1024 * 1024);
    }
    await master.waitFor(bad.task_id.value, 'TASK_FAILED', 10_000);
    const killed = await master.waitFor(client.task_id.value, 'TASK_KILLED', 10_000);
    expect(killed.status.message).toMatch(/of its group ended in TASK_FAILED/);
    expect(master.of(server.task_id.value).map((update) => update.status.state)).not.toContain('TASK_KILLED');
    expect(agent.tasks().find((task) => task.taskId === server.task_id.value)).toMatchObject({
      state: 'TASK_RUNNING',
    });
    await master.send(agentId, kill(server.task_id.value, 0));
    await master.waitFor(server.task_id.value, 'TASK_KILLED');
    await master.until(async () => !(await pods()).includes(pod), 10_000, 'the pod removed');
  });

  it("runs a later ACCEPT's group for a running executor in its pod and sandbox, grown by its tasks only, and shrinks back when it ends", async () => {
    const executorId = taskId('joinpod');
    const listen = port();
    const [server, client] = serverAndClient(listen);
    const bad = commandTask(taskId('bad'), 'sleep 3; exit 3', { container: SHARED });
    await master.send(agentId, group(executorId, [server], undefined, `${executorId}-1`));
    await master.waitFor(server.task_id.value, 'TASK_RUNNING');
    // A second ACCEPT for the running executor: another launch id.
    await master.send(agentId, group(executorId, [client, bad], undefined, `${executorId}-2`));
    for (const task of [client, bad]) await master.waitFor(task.task_id.value, 'TASK_RUNNING');
    await master.until(async () => (await sharedAnswer(executorId)) === 'pod', 15_000, 'the client served');
    // One executor: one sandbox, one pod (the first launch's), the host still shut out.
    expect(await sandboxes(workDir, executorId)).toHaveLength(1);
    const pod = podOf(executorId, `${executorId}-1`);
    expect(await pods()).toContain(pod);
    expect(await pods()).not.toContain(podOf(executorId, `${executorId}-2`));
    expect(await reachable(listen)).toBe(false);
    // The executor's 32 MB once, and the three tasks' 32 MB each.
    if (v1) expect(await podMemoryMb(pod)).toBe(128);

    await master.waitFor(bad.task_id.value, 'TASK_FAILED', 10_000);
    const killed = await master.waitFor(client.task_id.value, 'TASK_KILLED', 10_000);
    expect(killed.status.message).toMatch(/of its group ended in TASK_FAILED/);
    expect(master.of(server.task_id.value).map((update) => update.status.state)).not.toContain('TASK_KILLED');
    // The second group gone, the pod holds the executor and the first group again.
    if (v1) await master.until(async () => (await podMemoryMb(pod)) === 64, 10_000, 'the pod shrunk back');
    expect(agent.tasks().find((task) => task.taskId === server.task_id.value)).toMatchObject({
      state: 'TASK_RUNNING',
    });
    await master.send(agentId, kill(server.task_id.value, 0));
    await master.waitFor(server.task_id.value, 'TASK_KILLED');
    await master.until(async () => !(await pods()).includes(pod), 10_000, 'the pod removed with its last task');
  });

  it.runIf(cgroups.version !== 'none')(
    "fails the tasks of every group in the pod when the pod's memory limit is hit, a later ACCEPT's too",
    async () => {
      const executorId = taskId('oomjoin');
      const idle = commandTask(taskId('idle'), 'sleep 60');
      await master.send(agentId, group(executorId, [idle], undefined, `${executorId}-1`));
      await master.waitFor(idle.task_id.value, 'TASK_RUNNING');
      const hog = commandTask(taskId('hog'), 'sleep 0.5; head -c 400m /dev/zero | tail');
      await master.send(agentId, group(executorId, [hog], undefined, `${executorId}-2`));
      const failed = await master.waitFor(hog.task_id.value, 'TASK_FAILED', 30_000);
      expect(failed.status).toMatchObject({ reason: 'REASON_CONTAINER_LIMITATION_MEMORY', source: 'SOURCE_AGENT' });
      // The other group shared the limit: it fails with it, as Mesos's executor container takes all its groups.
      const also = await master.waitFor(idle.task_id.value, 'TASK_FAILED', 10_000);
      expect(also.status).toMatchObject({ reason: 'REASON_CONTAINER_LIMITATION_MEMORY', source: 'SOURCE_AGENT' });
      expect(also.status.message).toMatch(/task group's memory limit was exceeded/);
      const pod = podOf(executorId, `${executorId}-1`);
      await master.until(async () => !(await pods()).includes(pod), 10_000, 'the pod removed');
    },
  );

  it('keeps a pod and its tasks across an agent restart, and removes it with them', async () => {
    const dir = await tempWorkDir();
    try {
      const first = await startTestAgent(master, {
        sqsEndpoint: inject('sqsEndpoint'),
        workDir: dir,
        containerizers: ['mesos'],
      });
      const id = await first.registered;
      const executorId = taskId('restartpod');
      const listen = port();
      const [server, client] = serverAndClient(listen);
      await master.send(id, group(executorId, [server, client]));
      for (const task of [server, client]) await master.waitFor(task.task_id.value, 'TASK_RUNNING');
      await master.until(async () => (await sharedAnswer(executorId, dir)) === 'pod', 15_000, 'the client served');
      await first.stop();
      const second = await startTestAgent(master, {
        sqsEndpoint: inject('sqsEndpoint'),
        workDir: dir,
        containerizers: ['mesos'],
      });
      expect(await second.registered).toBe(id);
      expect(await readdir(join(dir, 'meta', 'pods'))).toHaveLength(1);
      expect(await reachable(listen)).toBe(false);
      await master.send(id, kill(client.task_id.value, 0));
      await master.waitFor(server.task_id.value, 'TASK_KILLED');
      await master.until(async () => (await pods(dir)).length === 0, 10_000, 'the pod removed');
      await second.shutdown();
    } finally {
      await removeWorkDir(dir);
    }
  });

  it("joins a group to a pod recovered after an agent restart, which knows its groups' resources again", async () => {
    const dir = await tempWorkDir();
    const options = { sqsEndpoint: inject('sqsEndpoint'), workDir: dir, containerizers: ['mesos' as const] };
    try {
      const first = await startTestAgent(master, options);
      const id = await first.registered;
      const executorId = taskId('rejoin');
      const listen = port();
      const [server, client] = serverAndClient(listen);
      await master.send(id, group(executorId, [server], undefined, `${executorId}-1`));
      await master.waitFor(server.task_id.value, 'TASK_RUNNING');
      await first.stop();
      const second = await startTestAgent(master, options);
      expect(await second.registered).toBe(id);
      await master.send(id, group(executorId, [client], undefined, `${executorId}-2`));
      await master.waitFor(client.task_id.value, 'TASK_RUNNING');
      await master.until(async () => (await sharedAnswer(executorId, dir)) === 'pod', 15_000, 'the client served');
      const pod = podOf(executorId, `${executorId}-1`);
      expect(await readdir(join(dir, 'meta', 'pods'))).toEqual([pod]);
      // The executor's 32 MB, the recovered group's and the new one's.
      if (v1) expect(await podMemoryMb(pod)).toBe(96);
      await master.send(id, kill(client.task_id.value, 0));
      await master.waitFor(client.task_id.value, 'TASK_KILLED');
      if (v1) await master.until(async () => (await podMemoryMb(pod)) === 64, 10_000, 'the pod shrunk back');
      expect(master.of(server.task_id.value).map((update) => update.status.state)).not.toContain('TASK_KILLED');
      await master.send(id, kill(server.task_id.value, 0));
      await master.waitFor(server.task_id.value, 'TASK_KILLED');
      await master.until(async () => (await pods(dir)).length === 0, 10_000, 'the pod removed');
      await second.shutdown();
    } finally {
      await removeWorkDir(dir);
    }
  });
});
