/**
 * The Docker containerizer against the real engine (image `mantle/busybox:test`, built when missing by
 * the global setup, test/support/base-image.ts; network NONE, as this engine has no bridge): launch,
 * environment, exit codes, kill with grace, OOM, the limits in the container's inspect, redelivery,
 * health checks, launch failures. Every container is labelled with the test agent's work dir and
 * removed in teardown.
 */
import Docker from 'dockerode';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import { LABELS } from '../../agent/containerizer/docker-spec.js';
import type { AwsClients } from '#shared/aws/clients.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import {
  dockerTask,
  kill,
  launch,
  removeContainers,
  removeWorkDir,
  resources,
  startTestAgent,
  taskId,
  tempWorkDir,
  TEST_IMAGE,
} from '../support/agent.js';
import { sandboxFile } from '../support/agent-sandbox.js';

const docker = new Docker();
let clients: AwsClients;
let master: FakeMaster;
let agent: RunningAgent;
let agentId: string;
let workDir: string;

beforeAll(async () => {
  clients = standInClients();
  master = await new FakeMaster({ sqs: clients.sqs }).start();
  workDir = await tempWorkDir();
  agent = await startTestAgent(master, { sqsEndpoint: inject('sqsEndpoint'), workDir, containerizers: ['docker'] });
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
});

async function containersOf(id: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.workDir}=${workDir}`, `${LABELS.taskId}=${id}`] },
  });
}

describe('running a container', () => {
  it('sends STARTING, RUNNING, FINISHED; the command sees its environment and sandbox; the container goes', async () => {
    const id = taskId('hello');
    const shell = 'echo "hello $GREETING"; echo "task=$MESOS_TASK_ID"; pwd; echo to-stderr >&2';
    await master.send(
      agentId,
      launch(
        dockerTask(id, shell, {
          command: { value: shell, environment: { variables: [{ name: 'GREETING', value: 'world' }] } },
        }),
      ),
    );
    await master.waitFor(id, 'TASK_FINISHED');
    expect(master.updates(id).map((received) => received.status.state)).toEqual([
      'TASK_STARTING',
      'TASK_RUNNING',
      'TASK_FINISHED',
    ]);
    expect(master.updates(id)[1]?.status.container_status?.container_id?.value).toBeDefined();
    expect(await sandboxFile(workDir, id, 'stdout')).toBe(`hello world\ntask=${id}\n/mnt/mesos/sandbox\n`);
    expect(await sandboxFile(workDir, id, 'stderr')).toBe('to-stderr\n');
    await master.until(async () => (await containersOf(id)).length === 0, 10_000, 'the container to be removed');
  });

  it('reports the exit code of a failing container', async () => {
    const id = taskId('fail');
    await master.send(agentId, launch(dockerTask(id, 'echo out; echo err >&2; exit 3')));
    const failed = await master.waitFor(id, 'TASK_FAILED');
    expect(failed.status).toMatchObject({ message: 'Command exited with status 3', source: 'SOURCE_EXECUTOR' });
    expect(Buffer.from(failed.status.data ?? '', 'base64').toString()).toBe('out\nerr\n');
  });

  it('applies the limits from the task resources, visible in inspect and inside the container', async () => {
    const id = taskId('limits');
    // The container's own view of its limits, on a cgroup v1 or v2 host.
    const shell =
      'if [ -f /sys/fs/cgroup/memory.max ]; then cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max; ' +
      'else cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us; fi; sleep 30';
    await master.send(agentId, launch(dockerTask(id, shell, { resources: resources('cpus:0.5;mem:64') })));
    await master.waitFor(id, 'TASK_RUNNING');
    const [listed] = await containersOf(id);
    const info = await docker.getContainer(listed?.Id as string).inspect();
    expect(info.HostConfig).toMatchObject({
      CpuShares: 512,
      CpuPeriod: 100_000,
      CpuQuota: 50_000,
      Memory: 64 * 1024 * 1024,
      MemorySwap: 64 * 1024 * 1024,
      PidsLimit: 4096,
      NetworkMode: 'none',
    });
    expect(info.HostConfig.Binds?.[0]).toMatch(new RegExp(`^${workDir}/frameworks/.*:/mnt/mesos/sandbox:rw$`));
    expect(info.Config.Labels).toMatchObject({ [LABELS.taskId]: id, [LABELS.frameworkId]: 'test-framework' });
    await master.until(async () => (await sandboxFile(workDir, id, 'stdout').catch(() => '')).split('\n').length >= 3);
    const [memory, quota] = (await sandboxFile(workDir, id, 'stdout')).split('\n');
    expect(memory).toBe(String(64 * 1024 * 1024));
    expect(quota).toMatch(/^50000( 100000)?$/);
    await master.send(agentId, kill(id, 0));
    await master.waitFor(id, 'TASK_KILLED');
  });

  it('reports an OOM kill as TASK_FAILED with REASON_CONTAINER_LIMITATION_MEMORY, from the agent', async () => {
    const id = taskId('oom');
    await master.send(
      agentId,
      launch(dockerTask(id, 'x=a; while true; do x=$x$x; done', { resources: resources('cpus:0.2;mem:32') })),
    );
    const failed = await master.waitFor(id, 'TASK_FAILED', 30_000);
    expect(failed.status).toMatchObject({ reason: 'REASON_CONTAINER_LIMITATION_MEMORY', source: 'SOURCE_AGENT' });
    expect(failed.status.limitation?.resources?.[0]?.name).toBe('mem');
  });
});

/** What a shell script prints in a container `docker run --network none` starts: stdout, then stderr. */
async function dockerRunNone(shell: string): Promise<string> {
  const streams = [new PassThrough(), new PassThrough()];
  const text = streams.map(async (stream) => {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString();
  });
  const [, container] = (await docker.run(TEST_IMAGE, ['/bin/sh', '-c', shell], streams, {
    Tty: false,
    HostConfig: { NetworkMode: 'none' },
    Labels: { [LABELS.workDir]: workDir },
  })) as [unknown, Docker.Container];
  await container.remove({ force: true });
  for (const stream of streams) stream.end();
  return (await Promise.all(text)).join('');
}

describe('network NONE', () => {
  it("shows the task what Docker's none mode shows: loopback only, IPv6 off, its /etc/hosts and resolv.conf, writable", async () => {
    const id = taskId('none');
    const shell =
      'tail -n +3 /proc/net/dev | cut -d: -f1; ip -o addr; cat /proc/sys/net/ipv6/conf/all/disable_ipv6; ' +
      "cat /etc/hosts /etc/resolv.conf; grep -E ' /etc/(hosts|resolv.conf) ' /proc/mounts | cut -d' ' -f2,4 | cut -d, -f1; " +
      'echo 10.0.0.1 extra >> /etc/hosts && echo hosts-writable';
    await master.send(agentId, launch(dockerTask(id, shell)));
    await master.waitFor(id, 'TASK_FINISHED');
    const seen = (await sandboxFile(workDir, id, 'stdout')) + (await sandboxFile(workDir, id, 'stderr'));
    expect(seen).toContain('127.0.0.1\tlocalhost');
    expect(seen).toContain('hosts-writable');
    expect(seen).toBe(await dockerRunNone(shell));
    // The agent's copies of the files go with the container.
    expect(await readdir(join(workDir, 'meta', 'docker')).catch(() => [])).toEqual([]);
  });
});

describe('killing', () => {
  it('lets a container that handles SIGTERM finish within the grace period', async () => {
    const id = taskId('graceful');
    await master.send(
      agentId,
      launch(dockerTask(id, "trap 'echo got-term; exit 0' TERM; echo trapped; while true; do sleep 0.05; done")),
    );
    await master.waitFor(id, 'TASK_RUNNING');
    // PID 1 ignores a SIGTERM that arrives before its trap is set; under load that is a real window.
    await master.until(async () => (await sandboxFile(workDir, id, 'stdout').catch(() => '')).includes('trapped'));
    const started = Date.now();
    await master.send(agentId, kill(id, 10));
    await master.waitFor(id, 'TASK_KILLED');
    expect(Date.now() - started).toBeLessThan(5_000);
    await master.until(
      async () => (await sandboxFile(workDir, id, 'stdout').catch(() => '')) === 'trapped\ngot-term\n',
    );
  });

  it('kills a container that ignores SIGTERM (PID 1 without a handler) after the grace period', async () => {
    const id = taskId('stubborn');
    await master.send(agentId, launch(dockerTask(id, 'sleep 30'), { capabilities: ['TASK_KILLING_STATE'] }));
    await master.waitFor(id, 'TASK_RUNNING');
    await master.send(agentId, kill(id, 1));
    const killing = await master.waitFor(id, 'TASK_KILLING');
    const killed = await master.waitFor(id, 'TASK_KILLED');
    // Measured by the agent's own stamps: their arrivals here differ by their queueing too, which load stretches.
    expect((killed.status.timestamp as number) - (killing.status.timestamp as number)).toBeGreaterThanOrEqual(0.9);
    expect(killed.status.message).toMatch(/status 137/);
  });
});

describe('redelivered commands', () => {
  it('starts one container for a LAUNCH delivered twice', async () => {
    const id = taskId('twice');
    const command = launch(dockerTask(id, 'sleep 30'));
    await master.send(agentId, command, command);
    await master.waitFor(id, 'TASK_RUNNING');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await containersOf(id)).toHaveLength(1);
    expect(master.of(id).filter((received) => received.status.state === 'TASK_STARTING')).toHaveLength(1);
    await master.send(agentId, kill(id, 0));
    await master.waitFor(id, 'TASK_KILLED');
  });
});

describe('health checks', () => {
  const fast = {
    delay_seconds: 0,
    interval_seconds: 0.2,
    timeout_seconds: 5,
    grace_period_seconds: 0,
    consecutive_failures: 2,
  };

  it('runs COMMAND checks in the container: healthy reported, failing killed', async () => {
    const good = taskId('healthy');
    const bad = taskId('unhealthy');
    await master.send(
      agentId,
      launch(dockerTask(good, 'sleep 30', { health_check: { type: 'COMMAND', command: { value: 'true' }, ...fast } })),
      launch(
        dockerTask(bad, 'sleep 30', {
          health_check: { type: 'COMMAND', command: { value: 'ls /not-there' }, ...fast },
        }),
      ),
    );
    const healthy = await master.waitFor(good, 'TASK_RUNNING', 15_000, (status) => status.healthy === true);
    expect(healthy.status.reason).toBe('REASON_TASK_HEALTH_CHECK_STATUS_UPDATED');
    const killed = await master.waitFor(bad, 'TASK_KILLED', 15_000);
    expect(killed.status.healthy).toBe(false);
    await master.send(agentId, kill(good, 0));
    await master.waitFor(good, 'TASK_KILLED');
  });

  it('refuses an HTTP check on a network the agent cannot reach', async () => {
    const id = taskId('unreachable');
    await master.send(
      agentId,
      launch(dockerTask(id, 'sleep 30', { health_check: { type: 'HTTP', http: { port: 80 }, ...fast } })),
    );
    const error = await master.waitFor(id, 'TASK_ERROR');
    expect(error.status).toMatchObject({ reason: 'REASON_TASK_INVALID', message: /NONE has none/ });
  });
});

describe('launch failures', () => {
  it('fails with REASON_CONTAINER_LAUNCH_FAILED when the image is absent and cannot be pulled', async () => {
    const id = taskId('noimage');
    // A registry on loopback that is not there: the pull fails at once, and no traffic leaves the host.
    await master.send(
      agentId,
      launch(
        dockerTask(id, 'true', {
          container: { type: 'DOCKER', docker: { image: '127.0.0.1:1/mantle/absent:1', network: 'NONE' } },
        }),
      ),
    );
    const failed = await master.waitFor(id, 'TASK_FAILED', 30_000);
    expect(failed.status.reason).toBe('REASON_CONTAINER_LAUNCH_FAILED');
    expect(failed.status.message).toMatch(/Failed to pull image '127.0.0.1:1\/mantle\/absent:1'/);
    expect(await containersOf(id)).toHaveLength(0);
  });

  it('fails a container the engine refuses to create', async () => {
    const id = taskId('badname');
    await master.send(
      agentId,
      launch(
        dockerTask(id, 'true', {
          container: {
            type: 'DOCKER',
            docker: { image: 'mantle/busybox:test', network: 'USER' },
            network_infos: [{ name: 'no-such-network' }],
          },
        }),
      ),
    );
    const failed = await master.waitFor(id, 'TASK_FAILED', 30_000);
    expect(failed.status).toMatchObject({
      reason: 'REASON_CONTAINER_LAUNCH_FAILED',
      message: /Failed to (create|start) container/,
    });
  });
});
