/**
 * The pure parts of custom executors: the executor Call's checks (Mesos `executor::validation`), the
 * executor's environment and container description, how its end is told (the FAILURE status, the
 * reasons), the master's ExecutorInfo validation and its events for executors' messages, and the SDK's
 * reading of the environment.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  executorContainerTask,
  executorContainerizer,
  executorEnvironment,
  mesosDuration,
  sameExecutor,
} from '../../agent/executor-api/launch.js';
import type { Containerizer } from '../../agent/containerizer/containerizer.js';
import { terminationReport, waitStatus } from '../../agent/executor-api/termination.js';
import { endpointAddress } from '../../agent/executor-api/wiring.js';
import { executorEvent } from '../../functions/master/executor-messages.js';
import { validateCustomExecutor } from '../../functions/scheduler/task-validation.js';
import { parseExecutorCall } from '#shared/protocol/executor.js';
import type { ExecutorInfo, TaskInfo } from '#shared/protocol/mesos.js';
import { executorEnvironment as sdkEnvironment, parseMesosDuration } from '../../sdk/executor.js';
import { SAFE_GRANT } from '#shared/protocol/internal.js';
import { resources } from '../support/resources.js';

const ids = { framework_id: { value: 'F' }, executor_id: { value: 'E' } };
const uuid = Buffer.alloc(16, 1).toString('base64');

describe('the executor Call', () => {
  it.each([
    [{ ...ids }, 400, /'type'/],
    [{ ...ids, type: 'UNKNOWN' }, 501, /unknown call/],
    [{ ...ids, type: 'SUBSCRIBE' }, 400, /'subscribe'/],
    [{ ...ids, type: 'UPDATE' }, 400, /'update'/],
    [{ ...ids, type: 'MESSAGE' }, 400, /'message'/],
    [{ type: 'SUBSCRIBE', subscribe: {} }, 400, /Failed to convert/],
    [{ ...ids, type: 'MESSAGE', message: { data: 'not base64!' } }, 400, /base64/],
    [{ ...ids, type: 'UPDATE', update: { status: { task_id: { value: 't' }, state: 'TASK_RUNNING' } } }, 400, /uuid/],
    [
      { ...ids, type: 'UPDATE', update: { status: { task_id: { value: 't' }, state: 'TASK_RUNNING', uuid: 'AAAA' } } },
      400,
      /not a valid UUID/,
    ],
    [
      { ...ids, type: 'UPDATE', update: { status: { task_id: { value: 't' }, state: 'TASK_STAGING', uuid } } },
      400,
      /TASK_STAGING/,
    ],
    [
      {
        ...ids,
        type: 'UPDATE',
        update: { status: { task_id: { value: 't' }, state: 'TASK_RUNNING', uuid, executor_id: { value: 'X' } } },
      },
      400,
      /does not match/,
    ],
  ])('refuses %j with %i', (json, status, message) => {
    const parsed = parseExecutorCall(json);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error.status).toBe(status);
      expect(parsed.error.message).toMatch(message);
    }
  });

  it('takes the three calls, narrowed to their sub-message', () => {
    const update = { status: { task_id: { value: 't' }, state: 'TASK_RUNNING', uuid } };
    expect(parseExecutorCall({ ...ids, type: 'SUBSCRIBE', subscribe: {} })).toMatchObject({ ok: true });
    expect(parseExecutorCall({ ...ids, type: 'UPDATE', update })).toMatchObject({ ok: true, value: { update } });
    expect(parseExecutorCall({ ...ids, type: 'MESSAGE', message: { data: 'aGk=' } })).toMatchObject({ ok: true });
  });

  it('never throws, whatever the JSON', () => {
    fc.assert(fc.property(fc.jsonValue(), (json) => typeof parseExecutorCall(json).ok === 'boolean'));
  });
});

const info: ExecutorInfo = {
  type: 'CUSTOM',
  executor_id: { value: 'E' },
  command: {
    value: 'run-executor',
    environment: {
      variables: [
        { name: 'OWN', value: '1' },
        { name: 'MESOS_EXECUTOR_ID', value: 'forged' },
      ],
    },
  },
  resources: resources('cpus:0.1;mem:32'),
};
const run = {
  frameworkId: 'F',
  frameworkInfo: { user: 'u', name: 'n', checkpoint: true },
  info,
  containerId: 'C',
  sandbox: '/work/sandbox',
  launchId: 'L',
  grant: SAFE_GRANT,
};

describe("the executor's container", () => {
  it("has Mesos's environment, its token, and the executor's own variables that do not clash", () => {
    const environment = executorEnvironment({
      run,
      agentEndpoint: '127.0.0.1:5051',
      token: 'secret',
      shutdownGracePeriodMs: 5000,
    });
    expect(environment).toMatchObject({
      MESOS_AGENT_ENDPOINT: '127.0.0.1:5051',
      MESOS_CHECKPOINT: '1',
      MESOS_DIRECTORY: '/work/sandbox',
      MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: '5secs',
      MESOS_EXECUTOR_AUTHENTICATION_TOKEN: 'secret',
    });
    const task: TaskInfo = {
      name: 't',
      task_id: { value: 't' },
      agent_id: { value: 'A' },
      resources: resources('cpus:1;mem:64'),
    };
    const container = executorContainerTask(info, [task], environment);
    const variables = container.command?.environment?.variables ?? [];
    expect(variables.find((v) => v.name === 'OWN')?.value).toBe('1');
    expect(variables.filter((v) => v.name === 'MESOS_EXECUTOR_ID').map((v) => v.value)).toEqual(['E']);
    expect(container.task_id.value).toBe('E');
    expect(container.resources?.length).toBe(4);
  });

  it('gives a Docker executor its sandbox at the path it is mounted at, and the host path as MESOS_DIRECTORY', () => {
    const input = { run, agentEndpoint: '127.0.0.1:5051', token: 'secret', shutdownGracePeriodMs: 5000 };
    expect(executorEnvironment({ ...input, sandboxInContainer: '/mnt/mesos/sandbox' })).toMatchObject({
      MESOS_SANDBOX: '/mnt/mesos/sandbox',
      MESOS_DIRECTORY: '/work/sandbox',
    });
    expect(executorEnvironment(input).MESOS_SANDBOX).toBe('/work/sandbox');
  });

  it('runs an executor with a Docker image in Docker and the others as processes', () => {
    const docker = { kind: 'docker' } as Containerizer;
    const mesos = { kind: 'mesos' } as Containerizer;
    const context = {
      containerizers: new Map([
        ['docker', docker],
        ['mesos', mesos],
      ] as const),
    };
    const image = { type: 'DOCKER' as const, docker: { image: 'busybox' } };
    const mesosImage = { type: 'MESOS' as const, mesos: { image: { type: 'DOCKER' as const, docker: { name: 'b' } } } };
    expect(executorContainerizer(context, { ...info, container: image })).toBe(docker);
    expect(executorContainerizer(context, { ...info, container: mesosImage })).toBe(docker);
    expect(executorContainerizer(context, info)).toBe(mesos);
    expect(executorContainerizer({ containerizers: new Map() }, { ...info, container: image })).toBeUndefined();
  });

  it('spells durations as Mesos does, and the SDK reads them back', () => {
    expect(mesosDuration(5000)).toBe('5secs');
    expect(mesosDuration(15 * 60_000)).toBe('15mins');
    expect(mesosDuration(1500)).toBe('1.5secs');
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        (s) => parseMesosDuration(mesosDuration(s * 1000)) === s * 1000,
      ),
    );
    expect(() => parseMesosDuration('soon')).toThrow(/Not a Mesos duration/);
  });

  it('tells one executor from another by everything but its resources', () => {
    expect(sameExecutor(info, { ...info, resources: [] })).toBe(true);
    expect(sameExecutor(info, { ...info, name: 'other' })).toBe(false);
  });

  it('reaches a wildcard bind on loopback', () => {
    expect(endpointAddress('0.0.0.0', 5051)).toBe('127.0.0.1:5051');
    expect(endpointAddress('::', 5051)).toBe('[::1]:5051');
    expect(endpointAddress('10.0.0.1', 1)).toBe('10.0.0.1:1');
  });
});

describe("an executor's end", () => {
  it('is a waitpid status: the exit code in the second byte, a signal in the first', () => {
    expect(waitStatus({ exitCode: 3, oomKilled: false })).toBe(768);
    expect(waitStatus({ exitCode: 0, oomKilled: false })).toBe(0);
    expect(waitStatus({ signal: 'SIGKILL', oomKilled: false })).toBe(9);
    expect(waitStatus({ signal: 'SIGTERM', oomKilled: false })).toBe(15);
  });

  const timeouts = { registrationTimeoutMs: 60_000, reregistrationTimeoutMs: 2_000 };

  it("gives its tasks Mesos's reasons", () => {
    expect(terminationReport('reregistration-timeout', { signal: 'SIGKILL', oomKilled: false }, timeouts).reason).toBe(
      'REASON_EXECUTOR_REREGISTRATION_TIMEOUT',
    );
    expect(terminationReport('registration-timeout', { signal: 'SIGKILL', oomKilled: false }, timeouts)).toEqual({
      reason: 'REASON_EXECUTOR_REGISTRATION_TIMEOUT',
      message: 'Executor did not register within 60secs',
    });
    expect(terminationReport('exited', { exitCode: 1, oomKilled: true }, timeouts).reason).toBe(
      'REASON_CONTAINER_LIMITATION_MEMORY',
    );
    expect(terminationReport('exited', { exitCode: 2, oomKilled: false }, timeouts)).toEqual({
      reason: 'REASON_EXECUTOR_TERMINATED',
      message: 'Executor terminated: Command exited with status 2',
    });
  });
});

describe('the master', () => {
  const context = { frameworkId: 'F', role: 'ml' };

  it('takes a CUSTOM executor (or one without a type) and allocates its resources to the role', () => {
    const validated = validateCustomExecutor(info, context);
    expect(validated.ok && validated.value.every((r) => r.allocation_info?.role === 'ml')).toBe(true);
    expect(validateCustomExecutor({ ...info, type: undefined }, context).ok).toBe(true);
  });

  it('takes an executor in a Docker container, by the Mesos rules of ContainerInfo', () => {
    const docker = { type: 'DOCKER' as const, docker: { image: 'busybox' } };
    expect(validateCustomExecutor({ ...info, container: docker }, context).ok).toBe(true);
    const image = { type: 'MESOS' as const, mesos: { image: { type: 'DOCKER' as const, docker: { name: 'b' } } } };
    expect(validateCustomExecutor({ ...info, container: image }, context).ok).toBe(true);
    const bare = validateCustomExecutor({ ...info, container: { type: 'DOCKER' } }, context);
    expect(!bare.ok && bare.error.message).toMatch(/DockerInfo 'docker' is not set/);
    const empty = validateCustomExecutor({ ...info, container: { type: 'DOCKER', docker: { image: '' } } }, context);
    expect(!empty.ok && empty.error.message).toMatch(/Docker image must be set/);
  });

  it.each([
    [{ ...info, type: 'DEFAULT' as const }, /CUSTOM/],
    [{ ...info, command: undefined }, /ExecutorInfo.command/],
    [{ ...info, executor_id: { value: '' } }, /executor_id/],
    [{ ...info, executor_id: { value: 'a/b' } }, /Executor ID/],
    [{ ...info, framework_id: { value: 'G' } }, /invalid FrameworkID/],
    [{ ...info, command: { value: '' } }, /needs 'value'/],
    [
      { ...info, resources: resources('cpus:1').map((r) => ({ ...r, allocation_info: { role: 'other' } })) },
      /role other than/,
    ],
  ])('refuses %j', (executor, message) => {
    const validated = validateCustomExecutor(executor, context);
    expect(validated.ok).toBe(false);
    if (!validated.ok) expect(validated.error.message).toMatch(message);
  });

  it("turns an executor's message and end into the framework's MESSAGE and FAILURE events", () => {
    const common = { agent_id: { value: 'A' }, framework_id: { value: 'F' }, executor_id: { value: 'E' } };
    expect(executorEvent({ type: 'EXECUTOR_MESSAGE', ...common, data: 'aGk=' })).toEqual({
      type: 'MESSAGE',
      message: { agent_id: { value: 'A' }, executor_id: { value: 'E' }, data: 'aGk=' },
    });
    expect(executorEvent({ type: 'EXECUTOR_EXITED', ...common, status: 256 })).toEqual({
      type: 'FAILURE',
      failure: { agent_id: { value: 'A' }, executor_id: { value: 'E' }, status: 256 },
    });
  });
});

describe("the SDK's environment", () => {
  it('reads what the agent sets, and names what is missing', () => {
    const env = {
      MESOS_FRAMEWORK_ID: 'F',
      MESOS_EXECUTOR_ID: 'E',
      MESOS_AGENT_ENDPOINT: '127.0.0.1:1',
      MESOS_EXECUTOR_AUTHENTICATION_TOKEN: 't',
      MESOS_SANDBOX: '/s',
      MESOS_CHECKPOINT: '1',
      MESOS_RECOVERY_TIMEOUT: '15mins',
    };
    expect(sdkEnvironment(env)).toMatchObject({
      token: 't',
      checkpoint: true,
      recoveryTimeoutMs: 900_000,
      subscriptionBackoffMaxMs: 2000,
    });
    expect(() => sdkEnvironment({ ...env, MESOS_AGENT_ENDPOINT: '' })).toThrow(/MESOS_AGENT_ENDPOINT/);
  });
});
