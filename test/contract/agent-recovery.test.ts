/**
 * Checkpoint and recovery with a real `kill -9`: an agent process runs a task in each containerizer
 * that ends while the agent is dead and one that outlives the restart; the restarted agent re-registers
 * as itself with its tasks, reattaches to the container and the supervised process, reports what ended
 * while it was down, and can still kill what runs. Every status reaches the status queue exactly once
 * per uuid (resends are set far apart here, and each update is acknowledged as the master would).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { Checkpoint } from '../../agent/checkpoint.js';
import { LABELS } from '../../agent/containerizer/docker-spec.js';
import { Lifecycle } from '../../agent/lifecycle.js';
import type { AwsClients } from '#shared/aws/clients.js';
import type { TaskState } from '#shared/protocol/mesos.js';
import { isTerminal } from '#shared/tasks/state-machine.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import { spawnAgentProcess, type AgentProcess } from '../support/agent-process.js';
import {
  commandTask,
  dockerTask,
  FRAMEWORK_ID,
  kill,
  launch,
  removeContainers,
  removeWorkDir,
  taskId,
  tempWorkDir,
} from '../support/agent.js';
import { sandboxes, sandboxFile } from '../support/agent-sandbox.js';
import { untilFile } from '../support/gates.js';

let clients: AwsClients;
let master: FakeMaster;
let workDir: string;
const agents: AgentProcess[] = [];

beforeAll(async () => {
  clients = standInClients();
  master = await new FakeMaster({ sqs: clients.sqs }).start();
  workDir = await tempWorkDir();
});

afterAll(async () => {
  for (const agent of agents) await agent.crash().catch(() => undefined);
  await master?.close();
  clients?.destroy();
  if (workDir) {
    await removeContainers([workDir]);
    await removeWorkDir(workDir);
  }
});

function start(): AgentProcess {
  const agent = spawnAgentProcess([
    `--master=${master.url}`,
    `--work_dir=${workDir}`,
    `--sqs_endpoint=${inject('sqsEndpoint')}`,
    '--containerizers=mesos,docker',
    '--port=-1',
    '--resources=cpus:4;mem:4096;disk:4096;ports:[31000-32000]',
    '--ec2_metadata=off',
    '--nvidia_smi=none',
    '--no-switch_user',
    '--command_poll_wait=2',
    '--registration_backoff_factor=50ms',
    '--status_update_retry_interval_min=5mins',
  ]);
  agents.push(agent);
  return agent;
}

/** The agent has journalled the acknowledgement of `count` updates of the task. */
async function acknowledged(taskId: string, count: number): Promise<boolean> {
  const checkpoint = new Checkpoint(workDir, new Lifecycle());
  const text = await readFile(checkpoint.updatesFile(FRAMEWORK_ID, taskId), 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line.includes('"type":"ACK"')).length >= count;
}

it('survives kill -9: tasks of both containerizers are recovered, and what ended meanwhile is reported once', async () => {
  const first = start();
  const agentId = await first.registered;
  const ids = {
    processEnds: taskId('p-ends'),
    dockerEnds: taskId('d-ends'),
    processLives: taskId('p-lives'),
    dockerLives: taskId('d-lives'),
  };
  // The "ends" tasks end once the test lets them (a file in their sandboxes), after the crash: a fixed sleep could
  // end before a loaded machine had launched the four and journalled their acknowledgements.
  const ends = `${untilFile('release')}; echo done-while-down`;
  await master.send(
    agentId,
    launch(commandTask(ids.processEnds, ends)),
    launch(dockerTask(ids.dockerEnds, ends)),
    launch(commandTask(ids.processLives, 'sleep 60')),
    launch(dockerTask(ids.dockerLives, 'sleep 60')),
  );
  for (const id of Object.values(ids)) {
    await master.waitFor(id, 'TASK_RUNNING', 20_000);
    await master.until(() => acknowledged(id, 2), 10_000, `${id}'s acknowledgements to be journalled`);
  }

  await first.crash();
  for (const id of [ids.processEnds, ids.dockerEnds]) {
    const [sandbox] = await sandboxes(workDir, id);
    await writeFile(join(sandbox as string, 'release'), '');
  }
  // Both "ends" tasks finish while no agent runs: the process task's supervisor writes its output, the
  // Docker container exits.
  await master.until(
    async () => (await sandboxFile(workDir, ids.processEnds, 'stdout').catch(() => '')) === 'done-while-down\n',
    20_000,
    `${ids.processEnds} to end while the agent is down`,
  );
  const docker = new Docker();
  await master.until(
    async () => {
      const [container] = await docker.listContainers({
        all: true,
        filters: { label: [`${LABELS.taskId}=${ids.dockerEnds}`] },
      });
      return container?.State === 'exited';
    },
    20_000,
    `${ids.dockerEnds} to end while the agent is down`,
  );
  // Its supervisor has recorded the exit status (the only process task that ended).
  await master.until(
    async () => (await readdir(workDir, { recursive: true })).some((path) => basename(path) === 'exit'),
    20_000,
    `${ids.processEnds}'s exit status to be recorded`,
  );
  expect(master.statuses.filter((received) => isTerminal(received.status.state))).toEqual([]);

  const second = start();
  expect(await second.registered).toBe(agentId);
  const reregistration = master.registrations.at(-1);
  expect(reregistration?.agent_id?.value).toBe(agentId);
  const reported = Object.fromEntries((reregistration?.tasks ?? []).map((task) => [task.task_id.value, task.state]));
  expect(reported).toEqual({
    [ids.processEnds]: 'TASK_FINISHED',
    [ids.dockerEnds]: 'TASK_FINISHED',
    [ids.processLives]: 'TASK_RUNNING',
    [ids.dockerLives]: 'TASK_RUNNING',
  });

  for (const id of [ids.processEnds, ids.dockerEnds]) {
    expect((await master.waitFor(id, 'TASK_FINISHED', 20_000)).status.message).toBe('Command exited with status 0');
    expect(await sandboxFile(workDir, id, 'stdout')).toBe('done-while-down\n');
  }
  // The survivors are still the restarted agent's to kill.
  await master.send(agentId, kill(ids.processLives, 1), kill(ids.dockerLives, 1));
  for (const id of [ids.processLives, ids.dockerLives]) await master.waitFor(id, 'TASK_KILLED', 20_000);

  for (const id of Object.values(ids)) {
    const received = master.of(id);
    const uuids = received.map((entry) => entry.status.uuid);
    expect(new Set(uuids).size).toBe(uuids.length);
    const states: TaskState[] = received.map((entry) => entry.status.state);
    expect(states.filter(isTerminal)).toHaveLength(1);
    expect(states.slice(0, 2)).toEqual(['TASK_STARTING', 'TASK_RUNNING']);
  }
  await second.stop();
}, 90_000);
