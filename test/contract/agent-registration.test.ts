/**
 * The agent and the master's registration protocol (a stand-in master on loopback): authentication as
 * an agent principal, re-registration on 409, a fresh start on 410, refusal, and recovery after an
 * in-process crash (the unacknowledged head is resent; a launch that never started is dropped), and an
 * upgrade over an earlier state.json.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import { runAgentCli } from '../../agent/main.js';
import { Checkpoint } from '../../agent/checkpoint.js';
import type { TaskRecord } from '../../agent/executor.js';
import { Lifecycle } from '../../agent/lifecycle.js';
import { taskStatus } from '../../agent/statuses.js';
import type { AwsClients } from '#shared/aws/clients.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import {
  commandTask,
  FRAMEWORK_ID,
  launch,
  removeWorkDir,
  startTestAgent,
  taskId,
  tempWorkDir,
} from '../support/agent.js';

let clients: AwsClients;
const masters: FakeMaster[] = [];
const agents: RunningAgent[] = [];
const workDirs: string[] = [];

beforeAll(() => {
  clients = standInClients();
});

afterAll(async () => {
  for (const agent of agents) await agent.shutdown().catch(() => undefined);
  for (const master of masters) await master.close();
  clients?.destroy();
  for (const dir of workDirs) await removeWorkDir(dir);
});

/** Whether a process exists and is not a zombie. */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat !== undefined && !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

async function fakeMaster(options: Partial<ConstructorParameters<typeof FakeMaster>[0]> = {}): Promise<FakeMaster> {
  const master = await new FakeMaster({ sqs: clients.sqs, heartbeatIntervalSeconds: 0.2, ...options }).start();
  masters.push(master);
  return master;
}

async function agentOn(
  master: FakeMaster,
  extra: Parameters<typeof startTestAgent>[1] | object = {},
): Promise<RunningAgent> {
  const workDir = (extra as { workDir?: string }).workDir ?? (await tempWorkDir());
  workDirs.push(workDir);
  const agent = await startTestAgent(master, {
    sqsEndpoint: inject('sqsEndpoint'),
    containerizers: ['mesos'],
    workDir,
    ...extra,
  });
  agents.push(agent);
  return agent;
}

/** IMDSv2 as a fetch: on EC2, in an Auto Scaling group whose target lifecycle state `target` gives. */
function instanceMetadata(target: () => string): typeof fetch {
  const items: Record<string, () => string> = {
    'instance-type': () => 'g6.xlarge',
    'placement/availability-zone': () => 'eu-west-1a',
    'placement/region': () => 'eu-west-1',
    'autoscaling/target-lifecycle-state': target,
  };
  return (async (input: string | URL | Request) => {
    const url = new URL(String(input));
    if (url.pathname === '/latest/api/token') return new Response('token');
    const item = items[url.pathname.replace('/latest/meta-data/', '')];
    return item ? new Response(item()) : new Response('', { status: 404 });
  }) as typeof fetch;
}

describe('mantle agent', () => {
  it('registers, heartbeats, and stops on SIGTERM with status 0', async () => {
    const master = await fakeMaster();
    const workDir = await tempWorkDir();
    workDirs.push(workDir);
    const exit = runAgentCli(
      [
        `--master=${master.url}`,
        `--work_dir=${workDir}`,
        '--containerizers=mesos',
        '--port=0',
        '--ec2_metadata=off',
        '--nvidia_smi=none',
        '--command_poll_wait=1',
      ],
      { AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint') },
    );
    await master.until(() => master.heartbeats > 0, 10_000, 'a heartbeat');
    expect(master.registrations[0]?.port).toBeGreaterThan(0);
    process.emit('SIGTERM');
    expect(await exit).toBe(0);
  });

  it('exits 1 when the master refuses it', async () => {
    const master = await fakeMaster({ credentials: { principal: 'p', secret: 's' } });
    const workDir = await tempWorkDir();
    workDirs.push(workDir);
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const argv = [
      `--master=${master.url}`,
      `--work_dir=${workDir}`,
      '--port=-1',
      '--ec2_metadata=off',
      '--nvidia_smi=none',
    ];
    expect(await runAgentCli(argv, { AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint') })).toBe(1);
    expect(String(error.mock.calls[0]?.[0])).toMatch(/refused the registration \(401\)/);
    error.mockRestore();
  });
});

describe('authentication', () => {
  const credentials = { principal: 'agent-principal', secret: 'agent-secret' };

  it('authenticates as an agent principal from MANTLE_AGENT_PRINCIPAL / MANTLE_AGENT_SECRET', async () => {
    const master = await fakeMaster({ credentials });
    const agent = await agentOn(master, {
      options: { env: { MANTLE_AGENT_PRINCIPAL: credentials.principal, MANTLE_AGENT_SECRET: credentials.secret } },
    });
    await expect(agent.registered).resolves.toMatch(/-S\d+$/);
    await master.until(() => master.heartbeats > 0, 5_000, 'a heartbeat');
  });

  it('gives up when the master refuses the registration', async () => {
    const master = await fakeMaster({ credentials });
    const agent = await agentOn(master);
    await expect(agent.registered).rejects.toThrow(/refused the registration \(401\)/);
  });
});

describe('the master asks again', () => {
  it('re-registers as itself, with its tasks, when the master sends REREGISTER', async () => {
    const master = await fakeMaster();
    const agent = await agentOn(master);
    const agentId = await agent.registered;
    const id = taskId('kept');
    await master.send(agentId, launch(commandTask(id, 'sleep 30')));
    await master.waitFor(id, 'TASK_RUNNING');
    await master.askToReregister(agentId);
    await master.until(() => master.registrations.length >= 2, 5_000, 're-registration');
    expect(master.registrations[1]?.agent_id?.value).toBe(agentId);
    expect(master.registrations[1]?.tasks).toEqual([
      { framework_id: { value: FRAMEWORK_ID }, task_id: { value: id }, state: 'TASK_RUNNING' },
    ]);
  });

  it('starts afresh as a new agent when the master has marked it gone (its queue deleted, 410), killing what it ran', async () => {
    const master = await fakeMaster();
    const workDir = await tempWorkDir();
    const agent = await agentOn(master, { workDir });
    const agentId = await agent.registered;
    const id = taskId('written-off');
    await master.send(agentId, launch(commandTask(id, 'sleep 30')));
    await master.waitFor(id, 'TASK_RUNNING');
    const containerId = (await master.waitFor(id, 'TASK_RUNNING')).status.container_status?.container_id
      ?.value as string;
    const checkpoint = new Checkpoint(workDir, new Lifecycle());
    const pid = Number(await readFile(join(checkpoint.runDir(containerId), 'pid'), 'utf8'));
    expect(await alive(pid)).toBe(true);
    await master.markGone(agentId);
    await master.until(
      () => master.registrations.some((request, i) => i > 0 && request.agent_id === undefined),
      5_000,
      'a fresh registration',
    );
    await master.until(() => agent.agentId !== undefined && agent.agentId !== agentId, 5_000, 'a new agent id');
    expect(agent.tasks()).toEqual([]);
    await master.until(async () => !(await alive(pid)), 5_000, 'the task to be killed');
  });

  it('registers no new agent once marked gone while its instance is being terminated, and stops', async () => {
    const master = await fakeMaster();
    const workDir = await tempWorkDir();
    let target = 'InService';
    const agent = await agentOn(master, {
      workDir,
      ec2Metadata: 'auto',
      ec2MetadataEndpoint: 'http://imds.invalid',
      options: { fetchMetadata: instanceMetadata(() => target) },
    });
    const agentId = await agent.registered;
    const id = taskId('leaving');
    await master.send(agentId, launch(commandTask(id, 'sleep 30')));
    const containerId = (await master.waitFor(id, 'TASK_RUNNING')).status.container_status?.container_id
      ?.value as string;
    const pid = Number(
      await readFile(join(new Checkpoint(workDir, new Lifecycle()).runDir(containerId), 'pid'), 'utf8'),
    );

    target = 'Terminated';
    await master.markGone(agentId);
    const error = await agent.failed;
    expect(error.message).toBe('No new agent registers: its Auto Scaling group is terminating it (Terminated)');
    await expect(agent.registered).resolves.toBe(agentId);
    expect(master.registrations.filter((request) => request.agent_id === undefined)).toHaveLength(1);
    // Its tasks were written off: killed, as on any fresh start.
    await master.until(async () => !(await alive(pid)), 5_000, 'the task to be killed');
  });
});

describe('recovery after a crash', () => {
  it('resends the unacknowledged head with its uuid, and carries on', async () => {
    const master = await fakeMaster({ autoAcknowledge: false });
    const workDir = await tempWorkDir();
    const first = await agentOn(master, { workDir });
    const agentId = await first.registered;
    const id = taskId('unacked');
    await master.send(agentId, launch(commandTask(id, 'sleep 30')));
    const starting = await master.waitFor(id, 'TASK_STARTING');
    await new Promise((resolve) => setTimeout(resolve, 300));
    first.crash();
    // The dead agent's last long-poll may still be open at the stand-in, which would hand it (and hide
    // for the visibility timeout) the next command; it ends after --command_poll_wait (2 s).
    await new Promise((resolve) => setTimeout(resolve, 2_500));

    const second = await agentOn(master, { workDir });
    expect(await second.registered).toBe(agentId);
    const again = await master.until(
      () => master.of(id).filter((received) => received.status.uuid === starting.status.uuid)[1],
      10_000,
      'the head to be resent',
    );
    expect(again.status.state).toBe('TASK_STARTING');
    await master.acknowledge(agentId, again);
    const running = await master.waitFor(id, 'TASK_RUNNING');
    await master.acknowledge(agentId, running);
    expect(second.tasks().map((task) => task.taskId)).toEqual([id]);
  });

  it('drops tasks whose launch the crash interrupted (REASON_AGENT_RESTARTED)', async () => {
    const master = await fakeMaster();
    const workDir = await tempWorkDir();
    const first = await agentOn(master, { workDir });
    const agentId = await first.registered;
    await first.stop();
    // What a crash between checkpointing a LAUNCH and starting its container leaves behind.
    const id = taskId('never-started');
    const checkpoint = new Checkpoint(workDir, new Lifecycle());
    const record: TaskRecord = {
      frameworkId: FRAMEWORK_ID,
      frameworkInfo: { user: 'root', name: 'agent-tests', capabilities: [{ type: 'PARTITION_AWARE' }] },
      executorId: id,
      task: commandTask(id, 'true'),
      launchId: `launch-${id}`,
      containerId: randomUUID(),
      containerizer: 'mesos',
      sandbox: `${workDir}/sandbox-${id}`,
      gpus: [],
      group: false,
      createdAt: Date.now(),
    };
    await checkpoint.writeJson(checkpoint.taskFile(FRAMEWORK_ID, id), record);
    // ...and a crash even before the record was written, after TASK_STARTING was journalled.
    const unrecorded = taskId('unrecorded');
    await checkpoint.append(checkpoint.updatesFile(FRAMEWORK_ID, unrecorded), {
      type: 'UPDATE',
      status: taskStatus({ taskId: unrecorded, state: 'TASK_STARTING' }),
    });

    const second = await agentOn(master, { workDir });
    expect(await second.registered).toBe(agentId);
    const dropped = await master.waitFor(id, 'TASK_DROPPED');
    expect(dropped.status).toMatchObject({ reason: 'REASON_AGENT_RESTARTED', source: 'SOURCE_EXECUTOR' });
    await master.waitFor(unrecorded, 'TASK_STARTING');
    const ended = await master.waitFor(unrecorded, 'TASK_DROPPED');
    expect(ended.status).toMatchObject({ reason: 'REASON_AGENT_RESTARTED', source: 'SOURCE_AGENT' });
  });
});

describe('upgrading the agent', () => {
  it('keeps the refusals and finished launches that an agent of the earlier state.json format remembered', async () => {
    const master = await fakeMaster();
    const workDir = await tempWorkDir();
    const first = await agentOn(master, { workDir });
    const agentId = await first.registered;
    await first.stop();
    // Earlier agents joined the ids in meta/state.json with a NUL.
    const refused = taskId('refused-earlier');
    const done = taskId('done-earlier');
    const until = Date.now() + 60_000;
    const checkpoint = new Checkpoint(workDir, new Lifecycle());
    await checkpoint.writeJson(checkpoint.stateFile, {
      refused: { [`${FRAMEWORK_ID}\u0000${refused}`]: until },
      completedLaunches: { [`launch-${done}\u0000${FRAMEWORK_ID}\u0000${done}`]: until },
    });

    const second = await agentOn(master, { workDir });
    expect(await second.registered).toBe(agentId);
    const control = taskId('launched-after');
    await master.send(
      agentId,
      launch(commandTask(refused, 'true')),
      launch(commandTask(done, 'true')),
      launch(commandTask(control, 'true')),
    );
    await master.waitFor(control, 'TASK_FINISHED');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(master.of(refused)).toEqual([]);
    expect(master.of(done)).toEqual([]);
  });
});
