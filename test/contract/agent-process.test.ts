/**
 * The process containerizer with real processes, real cgroups (asserted where they are writable) and
 * the SQS stand-in: launch, environment, exit codes, kill with grace, OOM, limits, redelivery, health
 * checks, launch failures, and the commands around tasks (KILL before LAUNCH, RECONCILE, SHUTDOWN,
 * task groups).
 */
import { readFileSync } from 'node:fs';
import { access, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import { detectCgroups } from '../../agent/isolation/cgroups.js';
import type { AwsClients } from '#shared/aws/clients.js';
import type { AgentCommand, LaunchGrant } from '#shared/protocol/internal.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import {
  commandTask,
  FRAMEWORK_ID,
  kill,
  launch,
  removeWorkDir,
  resources,
  ROOT_GRANT,
  startTestAgent,
  taskId,
  tempWorkDir,
} from '../support/agent.js';
import { sandboxes, sandboxFile } from '../support/agent-sandbox.js';
import { eventually } from '../support/cluster.js';

const CGROUPS = '/sys/fs/cgroup';
const cgroups = await detectCgroups(CGROUPS, 'mantle');
const writable = cgroups.version !== 'none';

let clients: AwsClients;
let master: FakeMaster;
let agent: RunningAgent;
let agentId: string;
let workDir: string;
const extraWorkDirs: string[] = [];

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
  for (const dir of [workDir, ...extraWorkDirs]) if (dir) await removeWorkDir(dir);
});

/** Waits until the task's shell says it has set its trap: a kill before that would end it at once (seen under load). */
async function trapped(id: string): Promise<void> {
  await eventually(
    async () => ((await sandboxFile(workDir, id, 'stdout').catch(() => '')).includes('trapped') ? true : undefined),
    10_000,
    `${id} to set its trap`,
  );
}

describe('registration', () => {
  it('registers with its resources, containerizers and the isolation it found', () => {
    const request = master.registrations[0];
    expect(request?.agent_id).toBeUndefined();
    expect(request?.containerizers).toEqual(['mesos']);
    expect(request?.isolation.cgroups).toBe(cgroups.version);
    expect(request?.capabilities?.map((c) => c.type)).toEqual(
      expect.arrayContaining(['MULTI_ROLE', 'AGENT_DRAINING', 'TASK_RESOURCE_LIMITS']),
    );
    expect(request?.resources.map((r) => r.name).sort()).toEqual(['cpus', 'disk', 'mem', 'ports']);
    expect(agent.isolation).toEqual(request?.isolation);
  });
});

describe('running a command', () => {
  it('sends STARTING, RUNNING, FINISHED; runs in its sandbox with its environment', async () => {
    const id = taskId('hello');
    await master.send(
      agentId,
      launch(
        commandTask(id, 'echo "hello $GREETING"; echo "task=$MESOS_TASK_ID"; pwd', {
          command: {
            value: 'echo "hello $GREETING"; echo "task=$MESOS_TASK_ID"; pwd',
            environment: { variables: [{ name: 'GREETING', value: 'world' }] },
          },
        }),
      ),
    );
    await master.waitFor(id, 'TASK_FINISHED');
    const statuses = master.updates(id).map((received) => received.status);
    expect(statuses.map((status) => status.state)).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
    expect(new Set(statuses.map((status) => status.uuid)).size).toBe(3);
    for (const status of statuses) {
      expect(status).toMatchObject({
        source: 'SOURCE_EXECUTOR',
        executor_id: { value: id },
        agent_id: { value: agentId },
      });
      expect(status.timestamp).toBeGreaterThan(Date.now() / 1000 - 60);
    }
    expect(statuses[1]?.container_status?.container_id?.value).toMatch(/^[0-9a-f-]{36}$/);
    expect(statuses[2]?.message).toBe('Command exited with status 0');
    const [sandbox] = await sandboxes(workDir, id);
    expect(await sandboxFile(workDir, id, 'stdout')).toBe(`hello world\ntask=${id}\n${sandbox}\n`);
  });

  it('reports a non-zero exit as TASK_FAILED, with stderr in the sandbox', async () => {
    const id = taskId('fail');
    await master.send(agentId, launch(commandTask(id, 'echo oops >&2; exit 3')));
    const failed = await master.waitFor(id, 'TASK_FAILED');
    expect(failed.status.message).toBe('Command exited with status 3');
    expect(failed.status.reason).toBeUndefined();
    expect(await sandboxFile(workDir, id, 'stderr')).toBe('oops\n');
    // The output's tail rides on the terminal update (TaskStatus.data) for mantle execute.
    expect(Buffer.from(failed.status.data ?? '', 'base64').toString()).toBe('oops\n');
  });

  it('starts the task with no signal ignored (a shell would ignore SIGINT and SIGQUIT in it)', async () => {
    const id = taskId('signals');
    await master.send(agentId, launch(commandTask(id, 'grep SigIgn /proc/self/status')));
    await master.waitFor(id, 'TASK_FINISHED');
    expect(await sandboxFile(workDir, id, 'stdout')).toBe('SigIgn:\t0000000000000000\n');
  });

  it('runs shell: false commands as argv', async () => {
    const id = taskId('argv');
    await master.send(
      agentId,
      launch(
        commandTask(id, '', { command: { shell: false, value: '/bin/echo', arguments: ['echo', 'a b', '$HOME'] } }),
      ),
    );
    await master.waitFor(id, 'TASK_FINISHED');
    expect(await sandboxFile(workDir, id, 'stdout')).toBe('a b $HOME\n');
  });
});

describe('killing', () => {
  it('sends SIGTERM and lets a task that handles it finish within the grace period', async () => {
    const id = taskId('graceful');
    await master.send(
      agentId,
      launch(commandTask(id, "trap 'echo got-term; exit 0' TERM; echo trapped; while :; do sleep 0.05; done")),
    );
    await master.waitFor(id, 'TASK_RUNNING');
    await trapped(id);
    const started = Date.now();
    await master.send(agentId, kill(id, 10));
    const killed = await master.waitFor(id, 'TASK_KILLED');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(killed.status.message).toMatch(/^Task killed by the framework/);
    expect(await sandboxFile(workDir, id, 'stdout')).toBe('trapped\ngot-term\n');
  });

  it('sends SIGKILL after the grace period to a task that ignores SIGTERM; TASK_KILLING first when the framework asks', async () => {
    const id = taskId('stubborn');
    await master.send(
      agentId,
      launch(commandTask(id, "trap '' TERM; echo trapped; while :; do sleep 0.05; done"), {
        capabilities: ['TASK_KILLING_STATE'],
      }),
    );
    await master.waitFor(id, 'TASK_RUNNING');
    await trapped(id);
    const started = Date.now();
    await master.send(agentId, kill(id, 1));
    const killing = await master.waitFor(id, 'TASK_KILLING');
    const killed = await master.waitFor(id, 'TASK_KILLED');
    // Measured by the agent's own stamps: their arrivals here differ by their queueing too, which load stretches.
    expect((killed.status.timestamp as number) - (killing.status.timestamp as number)).toBeGreaterThanOrEqual(0.9);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(killed.status.message).toMatch(/signal SIGKILL/);
  });

  it('answers a KILL that arrives before its LAUNCH, and never runs that launch', async () => {
    const id = taskId('early-kill');
    await master.send(agentId, kill(id));
    const killed = await master.waitFor(id, 'TASK_KILLED');
    expect(killed.status).toMatchObject({ source: 'SOURCE_AGENT', reason: 'REASON_TASK_KILLED_DURING_LAUNCH' });
    await master.send(agentId, launch(commandTask(id, 'echo should-not-run')));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(master.updates(id).map((received) => received.status.state)).toEqual(['TASK_KILLED']);
    expect(await sandboxes(workDir, id)).toEqual([]);
  });
});

describe('redelivered commands', () => {
  it('starts nothing new for a LAUNCH delivered twice, before and after the task ended', async () => {
    const id = taskId('twice');
    const command = launch(commandTask(id, 'sleep 0.3; echo once'));
    await master.send(agentId, command, command);
    await master.waitFor(id, 'TASK_FINISHED');
    await master.send(agentId, command);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(master.updates(id).map((received) => received.status.state)).toEqual([
      'TASK_STARTING',
      'TASK_RUNNING',
      'TASK_FINISHED',
    ]);
    expect(await sandboxes(workDir, id)).toHaveLength(1);
    expect(await sandboxFile(workDir, id, 'stdout')).toBe('once\n');
  });
});

/** Whether this process may lower an OOM score (CAP_SYS_RESOURCE, bit 24 of the effective set). */
const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
const capSysResource = capEff !== undefined && ((BigInt(`0x${capEff}`) >> 24n) & 1n) === 1n;

describe.runIf(writable)(`cgroups (${cgroups.version} at ${CGROUPS})`, () => {
  it('puts the task in its own cgroups with cpu, memory and pids limits', async () => {
    const id = taskId('limits');
    await master.send(agentId, launch(commandTask(id, 'sleep 30', { resources: resources('cpus:0.5;mem:64') })));
    const running = await master.waitFor(id, 'TASK_RUNNING');
    const containerId = running.status.container_status?.container_id?.value as string;
    const read = (controller: string, file: string) =>
      readFile(
        join(CGROUPS, ...(cgroups.version === 'v1' ? [controller] : []), 'mantle', containerId, file),
        'utf8',
      ).then((text) => text.trim());
    if (cgroups.version === 'v1') {
      expect(await read('cpu', 'cpu.shares')).toBe('512');
      expect(await read('cpu', 'cpu.cfs_quota_us')).toBe('50000');
      expect(await read('memory', 'memory.limit_in_bytes')).toBe(String(64 * 1024 * 1024));
      expect(await read('pids', 'pids.max')).toBe('4096');
    } else {
      expect(await read('cpu', 'cpu.max')).toBe('50000 100000');
      expect(await read('memory', 'memory.max')).toBe(String(64 * 1024 * 1024));
    }
    const procs = (await read('memory', 'cgroup.procs')).split('\n').map(Number);
    expect(procs.length).toBeGreaterThanOrEqual(2); // the supervisor and the task
    await master.send(agentId, kill(id, 0));
    await master.waitFor(id, 'TASK_KILLED');
    // The container's cgroups go with it.
    await master.until(
      async () =>
        !(await readdir(join(CGROUPS, ...(cgroups.version === 'v1' ? ['memory'] : []), 'mantle')).then((dirs) =>
          dirs.includes(containerId),
        )),
    );
  });

  it('reports an OOM kill as TASK_FAILED with REASON_CONTAINER_LIMITATION_MEMORY, from the agent', async () => {
    const id = taskId('oom');
    await master.send(
      agentId,
      launch(commandTask(id, 'x=a; while :; do x=$x$x; done', { resources: resources('cpus:0.1;mem:32') })),
    );
    const failed = await master.waitFor(id, 'TASK_FAILED', 30_000);
    // The limit is the executor container's (the command executor's and its task's), as in Mesos, whose
    // agent tells a container destroyed for its limitation (`Slave::executorTerminated`).
    expect(failed.status).toMatchObject({ reason: 'REASON_CONTAINER_LIMITATION_MEMORY', source: 'SOURCE_AGENT' });
    expect(failed.status.message).toMatch(/Memory limit exceeded/);
    expect(failed.status.limitation?.resources?.[0]).toMatchObject({ name: 'mem', scalar: { value: 32 } });
  });

  it('keeps the supervisor from the OOM killer where it may (silently where not); the task keeps its own score', async () => {
    const id = taskId('oomadj');
    // Lowering a score takes CAP_SYS_RESOURCE, which an EC2 agent (root) has and some sandboxes' root does not.
    const supervisorScore = capSysResource ? '-1000' : '0';
    // Once the supervisor has its score, the task prints its own: it does not inherit the supervisor's.
    const script = `until [ "$(cat /proc/$PPID/oom_score_adj)" = ${supervisorScore} ]; do sleep 0.05; done; cat /proc/self/oom_score_adj; sleep 30`;
    await master.send(agentId, launch(commandTask(id, script, { resources: resources('cpus:0.1;mem:32') })));
    await master.waitFor(id, 'TASK_RUNNING');
    await eventually(
      async () => ((await sandboxFile(workDir, id, 'stdout').catch(() => '')) === '0\n' ? true : undefined),
      10_000,
      `${id} to print its score`,
    );
    await master.send(agentId, kill(id, 0));
    await master.waitFor(id, 'TASK_KILLED');
    // The supervisor is long past its attempt: a refused one (`echo: I/O error` here) left no trace in the stderr.
    expect(await sandboxFile(workDir, id, 'stderr')).not.toMatch(/error|denied|oom_score_adj/i);
  });

  it("tells an OOM kill as the memory limit's even when the supervisor is gone without an exit status", async () => {
    const id = taskId('oomsup');
    // A subshell is the OOM killer's victim; then the supervisor goes without writing an exit status, as one the
    // agent could not shield would when the OOM killer took it.
    const script = '(x=a; while :; do x=$x$x; done); kill -9 $PPID; sleep 30';
    await master.send(agentId, launch(commandTask(id, script, { resources: resources('cpus:0.1;mem:32') })));
    const failed = await master.waitFor(id, 'TASK_FAILED', 30_000);
    expect(failed.status).toMatchObject({ reason: 'REASON_CONTAINER_LIMITATION_MEMORY', source: 'SOURCE_AGENT' });
    expect(failed.status.message).toMatch(/OOM killer ended the task's supervisor/);
  });

  it('fails a task whose supervisor is gone without an exit status with REASON_EXECUTOR_TERMINATED', async () => {
    const id = taskId('lostsup');
    await master.send(agentId, launch(commandTask(id, 'kill -9 $PPID; sleep 30')));
    const failed = await master.waitFor(id, 'TASK_FAILED', 30_000);
    expect(failed.status).toMatchObject({ reason: 'REASON_EXECUTOR_TERMINATED', source: 'SOURCE_EXECUTOR' });
    expect(failed.status.message).toMatch(/supervisor terminated without recording/);
  });
});

describe('health checks', () => {
  let server: Server;
  let port = 0;
  let healthy = true;
  beforeAll(async () => {
    server = createServer((_request, response) => response.writeHead(healthy ? 200 : 503).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  const fast = {
    delay_seconds: 0,
    interval_seconds: 0.1,
    timeout_seconds: 1,
    grace_period_seconds: 0,
    consecutive_failures: 2,
  };

  it('reports healthy on the first passing HTTP check', async () => {
    healthy = true;
    const id = taskId('healthy');
    await master.send(
      agentId,
      launch(commandTask(id, 'sleep 30', { health_check: { type: 'HTTP', http: { port, path: '/' }, ...fast } })),
    );
    const update = await master.waitFor(id, 'TASK_RUNNING', 10_000, (status) => status.healthy === true);
    expect(update.status.reason).toBe('REASON_TASK_HEALTH_CHECK_STATUS_UPDATED');
    await master.send(agentId, kill(id, 0));
    await master.waitFor(id, 'TASK_KILLED');
  });

  it('kills a task whose HTTP check fails, reporting each failure', async () => {
    healthy = false;
    const id = taskId('unhealthy');
    await master.send(
      agentId,
      launch(commandTask(id, 'sleep 30', { health_check: { type: 'HTTP', http: { port, path: '/' }, ...fast } })),
    );
    const killed = await master.waitFor(id, 'TASK_KILLED');
    expect(killed.status.healthy).toBe(false);
    expect(killed.status.message).toMatch(/2 consecutive health check failures/);
    // By uuid: the agent resends its head at once, with the end as latest_state, when the kill queues behind it.
    const unhealthy = new Set(
      master
        .of(id)
        .filter((received) => received.status.healthy === false && received.status.state === 'TASK_RUNNING')
        .map((received) => received.status.uuid),
    );
    expect(unhealthy.size).toBe(2);
  });

  it('kills a task whose TCP or COMMAND check fails', async () => {
    const tcp = taskId('tcp');
    const command = taskId('command');
    await master.send(
      agentId,
      launch(commandTask(tcp, 'sleep 30', { health_check: { type: 'TCP', tcp: { port: 1 }, ...fast } })),
      launch(
        commandTask(command, 'sleep 30', {
          health_check: { type: 'COMMAND', command: { value: 'test -f never-there' }, ...fast },
        }),
      ),
    );
    expect((await master.waitFor(tcp, 'TASK_KILLED')).status.healthy).toBe(false);
    expect((await master.waitFor(command, 'TASK_KILLED')).status.healthy).toBe(false);
  });
});

describe('launch failures', () => {
  it.each([
    [
      'a Docker task on an agent without the docker containerizer',
      { container: { type: 'DOCKER' as const, docker: { image: 'x' } } },
      /docker containerizer/,
    ],
    ['more GPUs than the agent has', { resources: resources('cpus:0.1;mem:32;gpus:1') }, /needs 1 GPU/],
    [
      'a volume outside the sandbox',
      {
        container: {
          type: 'MESOS' as const,
          volumes: [{ mode: 'RW' as const, container_path: '/etc/x', host_path: '/usr/share' }],
        },
      },
      /mount namespace/,
      { ...ROOT_GRANT, host_paths: ['/usr/share'] },
    ],
    [
      'a custom executor on an agent without an HTTP endpoint',
      {
        command: undefined,
        executor: { type: 'CUSTOM' as const, executor_id: { value: 'e' }, command: { value: 'run' } },
      },
      /serves no HTTP endpoint/,
    ],
  ])('fails %s with REASON_CONTAINER_LAUNCH_FAILED', async (_what, extra, message, grant?: LaunchGrant) => {
    const id = taskId('bad');
    await master.send(agentId, launch(commandTask(id, 'true', extra), grant ? { grant } : {}));
    const failed = await master.waitFor(id, 'TASK_FAILED');
    expect(failed.status.reason).toBe('REASON_CONTAINER_LAUNCH_FAILED');
    expect(failed.status.message).toMatch(message);
  });

  it('fails a task whose user does not exist when switching users', async () => {
    const dir = await tempWorkDir();
    extraWorkDirs.push(dir);
    const switching = await startTestAgent(master, {
      sqsEndpoint: inject('sqsEndpoint'),
      workDir: dir,
      containerizers: ['mesos'],
      switchUser: true,
    });
    const id2 = await switching.registered;
    const id = taskId('nouser');
    await master.send(
      id2,
      launch(commandTask(id, 'true', { command: { value: 'true', user: 'mantle-no-such-user' } })),
    );
    const failed = await master.waitFor(id, 'TASK_FAILED');
    expect(failed.status).toMatchObject({ reason: 'REASON_CONTAINER_LAUNCH_FAILED', message: /no such user/ });
    await switching.shutdown();
  });
});

describe('agent-wide commands', () => {
  it('answers RECONCILE for tasks it does not know with TASK_DROPPED', async () => {
    const id = taskId('unknown');
    await master.send(agentId, {
      type: 'RECONCILE',
      tasks: [{ framework_id: { value: 'other-framework' }, task_id: { value: id } }],
    });
    const dropped = await master.waitFor(id, 'TASK_DROPPED');
    expect(dropped.status).toMatchObject({ reason: 'REASON_RECONCILIATION', source: 'SOURCE_AGENT' });
    expect(dropped.frameworkId).toBe('other-framework');
  });

  it('kills every task of a framework on SHUTDOWN_FRAMEWORK', async () => {
    const ids = [taskId('shut'), taskId('shut')];
    await master.send(agentId, ...ids.map((id) => launch(commandTask(id, 'sleep 30'))));
    for (const id of ids) await master.waitFor(id, 'TASK_RUNNING');
    await master.send(agentId, { type: 'SHUTDOWN_FRAMEWORK', framework_id: { value: FRAMEWORK_ID } });
    for (const id of ids)
      expect((await master.waitFor(id, 'TASK_KILLED')).status.message).toMatch(/framework was shut down/);
  });

  it('launches a task group, and kills the rest of the group when one task fails', async () => {
    const [good, bad] = [taskId('group'), taskId('group')];
    const command: AgentCommand = {
      type: 'LAUNCH_GROUP',
      framework_id: { value: FRAMEWORK_ID },
      framework_info: { user: 'root', name: 'agent-tests', capabilities: [{ type: 'PARTITION_AWARE' }] },
      executor: {
        type: 'DEFAULT',
        executor_id: { value: `executor-${good}` },
        resources: resources('cpus:0.1;mem:32'),
      },
      task_group: { tasks: [commandTask(good as string, 'sleep 30'), commandTask(bad as string, 'sleep 0.5; exit 1')] },
      launch_id: `launch-${good}`,
      grant: ROOT_GRANT,
    };
    await master.send(agentId, command);
    await master.waitFor(bad as string, 'TASK_FAILED');
    const killed = await master.waitFor(good as string, 'TASK_KILLED');
    expect(killed.status.executor_id?.value).toBe(`executor-${good}`);
    expect(killed.status.message).toMatch(/of its group ended in TASK_FAILED/);
  });

  it("wipes a destroyed volume's data, but not a volume a running task still uses", async () => {
    const volumeDir = (id: string) => join(workDir, 'volumes', 'roles', 'ml', id);
    const volume = (id: string) =>
      resources('disk(ml):8').map((r) => ({
        ...r,
        reservations: [{ type: 'DYNAMIC' as const, role: 'ml' }],
        disk: { persistence: { id }, volume: { mode: 'RW' as const, container_path: 'data' } },
      }));
    for (const id of ['gone', 'held']) {
      await mkdir(volumeDir(id), { recursive: true });
      await writeFile(join(volumeDir(id), 'model.bin'), 'weights');
    }
    const holder = taskId('holder');
    await master.send(
      agentId,
      launch(commandTask(holder, 'sleep 30', { resources: [...resources('cpus:0.1;mem:32'), ...volume('held')] })),
    );
    await master.waitFor(holder, 'TASK_RUNNING');
    const destroyed = ['gone', 'held'].map((id) => ({ role: 'ml', persistence_id: id }));
    await master.send(agentId, { type: 'DESTROY_VOLUMES', volumes: destroyed });
    const exists = (path: string) =>
      access(path).then(
        () => true,
        () => false,
      );
    await master.until(async () => !(await exists(volumeDir('gone'))), 10_000, 'the destroyed volume removed');
    expect(await readFile(join(volumeDir('held'), 'model.bin'), 'utf8')).toBe('weights');
    await master.send(agentId, kill(holder, 0));
    await master.waitFor(holder, 'TASK_KILLED');
  });

  it('drains: refuses launches and kills its tasks; after DRAINED the drain is over and launches run (Mesos)', async () => {
    const dir = await tempWorkDir();
    extraWorkDirs.push(dir);
    const draining = await startTestAgent(master, {
      sqsEndpoint: inject('sqsEndpoint'),
      workDir: dir,
      containerizers: ['mesos'],
    });
    const id2 = await draining.registered;
    const stateFile = join(dir, 'meta', 'state.json');
    // meta/state.json is first written when something is remembered.
    const drainState = async () =>
      (JSON.parse(await readFile(stateFile, 'utf8').catch(() => '{}')) as { draining?: unknown }).draining;
    const running = taskId('drain');
    // Deaf to SIGTERM: the drain lasts its whole grace, and a launch meanwhile meets a draining agent.
    await master.send(id2, launch(commandTask(running, 'trap "" TERM; sleep 30')));
    await master.waitFor(running, 'TASK_RUNNING');
    await master.send(id2, { type: 'DRAIN', max_grace_period_seconds: 2 });
    await eventually(async () => ((await drainState()) ? true : undefined), 10_000, 'the drain to be checkpointed');
    const early = taskId('early');
    await master.send(id2, launch(commandTask(early, 'true')));
    expect((await master.waitFor(early, 'TASK_DROPPED')).status.reason).toBe('REASON_AGENT_DRAINING');
    expect(master.drained).not.toContain(id2);
    expect((await master.waitFor(running, 'TASK_KILLED')).status.reason).toBe('REASON_AGENT_DRAINING');
    await master.until(() => master.drained.includes(id2), 10_000, 'DRAINED');
    await eventually(async () => ((await drainState()) === undefined ? true : undefined), 5_000, 'the drain forgotten');
    // The master holds launches back until REACTIVATE_AGENT; the agent runs what it is given.
    const late = taskId('late');
    await master.send(id2, launch(commandTask(late, 'true')));
    await master.waitFor(late, 'TASK_FINISHED');
    expect(master.drained.filter((agent) => agent === id2)).toHaveLength(1);
    await draining.shutdown();
  });
});
