/**
 * Agents for tests and the benchmark: a fresh work dir, no EC2 metadata, no GPUs, no HTTP endpoint,
 * quick status retries, and LAUNCH commands for command and Docker tasks (granted root, as the tests'
 * image and agents run as root). Docker containers the tests
 * create carry the agent's work dir as a label; `removeContainers` sweeps them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { startAgent, type AgentOptions, type RunningAgent } from '../../agent/agent.js';
import { agentConfig, type AgentConfig } from '../../agent/config.js';
import { LABELS } from '../../agent/containerizer/docker-spec.js';
import { SAFE_GRANT, type AgentCommand, type LaunchGrant } from '#shared/protocol/internal.js';
import type { TaskInfo } from '#shared/protocol/mesos.js';
import type { FakeMaster } from './agent-master.js';
import { TEST_IMAGE } from './base-image.js';
import { resources } from './resources.js';

/** The example custom executor (examples/echo-executor.ts) as an ExecutorInfo's command runs it: Node with tsx. */
export const ECHO_EXECUTOR = `'${process.execPath}' --import '${import.meta.resolve('tsx')}' '${fileURLToPath(
  new URL('../../examples/echo-executor.ts', import.meta.url),
)}'`;

export { resources, TEST_IMAGE };

export const FRAMEWORK_ID = 'test-framework';

export async function tempWorkDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'mantle-agent-'));
}

export interface TestAgentOptions extends Partial<AgentConfig> {
  readonly sqsEndpoint: string;
  readonly options?: Partial<Omit<AgentOptions, 'config'>>;
}

export async function startTestAgent(
  master: FakeMaster | { url: string },
  overrides: TestAgentOptions,
): Promise<RunningAgent> {
  const { options, ...config } = overrides;
  return startAgent({
    config: agentConfig({
      master: master.url,
      workDir: config.workDir ?? (await tempWorkDir()),
      port: -1,
      ec2Metadata: 'off',
      nvidiaSmi: 'none',
      switchUser: false,
      statusUpdateRetryIntervalMinMs: 5_000,
      statusUpdateRetryIntervalMaxMs: 20_000,
      commandPollSeconds: 2,
      registrationBackoffFactorMs: 50,
      defaultKillGracePeriodMs: 1_000,
      resources: 'cpus:2;mem:2048;disk:4096;ports:[31000-32000]',
      ...config,
    }),
    env: {},
    ...options,
  });
}

let counter = 0;

export function taskId(prefix = 'task'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

/** A command task (process containerizer). */
export function commandTask(id: string, shell: string, extra: Partial<TaskInfo> = {}): TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: 'ignored' },
    resources: resources('cpus:0.1;mem:32'),
    command: { value: shell },
    ...extra,
  };
}

/** A Docker task on the test image, network NONE (this machine's dockerd has no bridge). */
export function dockerTask(id: string, shell: string, extra: Partial<TaskInfo> = {}): TaskInfo {
  return commandTask(id, shell, {
    container: { type: 'DOCKER', docker: { image: TEST_IMAGE, network: 'NONE' } },
    ...extra,
  });
}

/**
 * The grant of the tests' launches: the safe defaults and root, since the test image runs as root and
 * the test agents run process tasks as themselves (root).
 */
export const ROOT_GRANT: LaunchGrant = { ...SAFE_GRANT, root: true };

export function launch(
  task: TaskInfo,
  options: { launchId?: string; capabilities?: string[]; grant?: LaunchGrant | null } = {},
): AgentCommand {
  const grant = options.grant === undefined ? ROOT_GRANT : options.grant;
  return {
    type: 'LAUNCH',
    framework_id: { value: FRAMEWORK_ID },
    framework_info: {
      user: 'root',
      name: 'agent-tests',
      capabilities: (options.capabilities ?? ['PARTITION_AWARE']).map((type) => ({ type: type as 'PARTITION_AWARE' })),
    },
    task,
    launch_id: options.launchId ?? `launch-${task.task_id.value}`,
    ...(grant !== null ? { grant } : {}),
  };
}

export function kill(id: string, graceSeconds?: number): AgentCommand {
  return {
    type: 'KILL',
    framework_id: { value: FRAMEWORK_ID },
    task_id: { value: id },
    ...(graceSeconds !== undefined ? { kill_policy: { grace_period: { nanoseconds: graceSeconds * 1e9 } } } : {}),
  };
}

/** Removes every container labelled with one of these work dirs (test teardown). */
export async function removeContainers(workDirs: readonly string[]): Promise<void> {
  const docker = new Docker();
  for (const workDir of workDirs) {
    const listed = await docker.listContainers({ all: true, filters: { label: [`${LABELS.workDir}=${workDir}`] } });
    for (const entry of listed)
      await docker
        .getContainer(entry.Id)
        .remove({ force: true })
        .catch(() => undefined);
  }
}

export async function removeWorkDir(workDir: string): Promise<void> {
  await rm(workDir, { recursive: true, force: true });
}
