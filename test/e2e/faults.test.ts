/**
 * Faults injected into a whole local cluster: agents killed with SIGKILL or silenced with SIGSTOP (in
 * their own processes, as they run in production), a master that dies between the ledger write and
 * the launch command, duplicated and reordered status messages, cut subscription streams, and two
 * accepts of one offer at once. After each, nothing is lost and the registrar's invariants hold.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AgentMessage } from '#shared/protocol/internal.js';
import type { FrameworkInfo, Offer, TaskStatus } from '#shared/protocol/mesos.js';
import { spawnAgentProcess, type AgentProcess } from '../support/agent-process.js';
import { eventually, startTestCluster, type TestCluster } from '../support/cluster.js';
import { registrarSnapshot, registrarViolations } from '../support/invariants.js';
import { commandTask, FRAMEWORK, launch, subscribe, type TestFramework } from '../support/scheduler.js';
import { untilFile } from '../support/gates.js';

let cluster: TestCluster;
let inProcessAgent: string;
const frameworks: TestFramework[] = [];
const children: AgentProcess[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  cluster = await startTestCluster({
    agents: 1,
    agentResources: 'cpus:4;mem:4096;disk:1024',
    containerizer: 'mesos',
    agent: { commandPollSeconds: 2, registrationBackoffFactorMs: 50, switchUser: false },
    master: {
      // Silent for 6 s: short for a test, long enough for an agent on a busy machine.
      agentPingTimeoutSeconds: 2,
      maxAgentPingTimeouts: 3,
      launchTimeoutSeconds: 3,
      reconnectGraceSeconds: 1,
      offerTimeoutSeconds: 300,
    },
  });
  inProcessAgent = cluster.agents[0]?.agentId as string;
}, 120_000);

afterEach(async () => {
  for (const framework of frameworks.splice(0)) {
    await framework.call('TEARDOWN').catch(() => undefined);
    framework.close();
  }
  for (const child of children.splice(0)) {
    child.child.kill('SIGCONT');
    await child.crash();
  }
  // Torn-down frameworks' tasks end, and nothing is left held.
  await eventually(
    async () => {
      const { tasks } = await registrarSnapshot(cluster.master);
      return tasks.every((task) =>
        [
          'TASK_KILLED',
          'TASK_FINISHED',
          'TASK_FAILED',
          'TASK_DROPPED',
          'TASK_LOST',
          'TASK_GONE',
          'TASK_UNREACHABLE',
          'TASK_ERROR',
        ].includes(task.state),
      )
        ? true
        : undefined;
    },
    30_000,
    'every task to end',
  );
  expect(await registrarViolations(cluster.master)).toEqual([]);
});

afterAll(async () => {
  await cluster?.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function framework(info: Partial<FrameworkInfo> = {}): Promise<TestFramework> {
  const subscribed = (
    await subscribe(cluster, { ...FRAMEWORK, name: `faults-${frameworks.length}`, ...info })
  ).acknowledgeAll();
  frameworks.push(subscribed);
  return subscribed;
}

async function childAgent(
  name: string,
  workDir?: string,
): Promise<{ agent: AgentProcess; agentId: string; workDir: string }> {
  const dir = workDir ?? (await mkdtemp(join(tmpdir(), `mantle-${name}-`)));
  if (!workDir) dirs.push(dir);
  // No --sqs_endpoint: the agent finds the local stand-in from the queue URLs the master hands out.
  const agent = spawnAgentProcess([
    `--master=${cluster.url}`,
    `--work_dir=${dir}`,
    `--hostname=${name}`,
    '--containerizers=mesos',
    '--port=-1',
    '--resources=cpus:1;mem:512;disk:100',
    '--ec2_metadata=off',
    '--nvidia_smi=none',
    '--no-switch_user',
    '--command_poll_wait=2',
    '--registration_backoff_factor=50ms',
    '--status_update_retry_interval_min=1secs',
  ]);
  children.push(agent);
  return { agent, agentId: await agent.registered, workDir: dir };
}

function task(taskId: string, agentId: string, command: string) {
  return commandTask(taskId, { agentId, commandQueueUrl: '' }, 'cpus:0.1;mem:32', { command: { value: command } });
}

/** An offer from this agent that the framework has not used yet (and that was not rescinded). */
const used = new Set<string>();
async function offerFrom(f: TestFramework, agentId: string): Promise<Offer> {
  const rescinded = () =>
    new Set(f.stream.events.filter((e) => e.type === 'RESCIND').map((e) => e.rescind?.offer_id.value));
  const fresh = (offer: Offer) =>
    offer.agent_id.value === agentId && !used.has(offer.id.value) && !rescinded().has(offer.id.value);
  const event = await f.next((e) => e.type === 'OFFERS' && (e.offers?.offers ?? []).some(fresh), 20_000);
  const offer = (event.offers?.offers ?? []).find(fresh) as Offer;
  used.add(offer.id.value);
  return offer;
}

/** Declines every offer the framework holds and has not used. */
async function declineHeld(f: TestFramework): Promise<void> {
  const rescinded = new Set(f.stream.events.filter((e) => e.type === 'RESCIND').map((e) => e.rescind?.offer_id.value));
  const held = f.stream.events
    .flatMap((e) => (e.type === 'OFFERS' ? (e.offers?.offers ?? []) : []))
    .filter((offer) => !used.has(offer.id.value) && !rescinded.has(offer.id.value));
  for (const offer of held) used.add(offer.id.value);
  if (held.length === 0) return;
  const answer = await f.call('DECLINE', {
    decline: { offer_ids: held.map((offer) => offer.id), filters: { refuse_seconds: 0 } },
  });
  expect(answer.status).toBe(202);
}

async function launchOn(f: TestFramework, agentId: string, taskId: string, command: string): Promise<void> {
  const offer = await offerFrom(f, agentId);
  const answer = await f.call(
    'ACCEPT',
    launch([offer.id.value], [task(taskId, agentId, command)], {
      refuse_seconds: 0,
    }),
  );
  expect(answer.status).toBe(202);
}

function updatesOf(f: TestFramework, taskId: string): TaskStatus[] {
  return f.stream.events
    .filter((e) => e.type === 'UPDATE' && e.update?.status.task_id.value === taskId)
    .map((e) => e.update?.status as TaskStatus);
}

describe('fault injection on a local cluster', () => {
  it('1. an agent killed with SIGKILL while its task runs, then restarted: the terminal update is delivered', async () => {
    const f = await framework();
    const first = await childAgent('crashy');
    // The task ends once its agent is dead: a fixed sleep could end before the crash on a loaded machine, and
    // then the agent that ran it, not the restarted one, would report its end. (Or once the folder is gone: a
    // failed test leaves no task looping.)
    const gates = await mkdtemp(join(tmpdir(), 'mantle-gates-'));
    dirs.push(gates);
    const release = join(gates, 'survivor');
    const command = `${untilFile(release, gates)}; echo survived`;
    await launchOn(f, first.agentId, 'survivor', command);
    await f.update('survivor', 'TASK_RUNNING', 20_000);

    await first.agent.crash();
    await writeFile(release, '');
    // The task outlives its agent (it is not the agent's child); the agent comes back on the same work dir.
    const again = spawnAgentProcess(first.agent.child.spawnargs.slice(4));
    children.push(again);
    expect(await again.registered).toBe(first.agentId);

    const finished = await f.update('survivor', 'TASK_FINISHED', 30_000);
    expect(finished.message).toBe('Command exited with status 0');
    const terminal = updatesOf(f, 'survivor').filter((s) => s.state !== 'TASK_RUNNING' && s.state !== 'TASK_STARTING');
    // Unreachable in between is allowed (the restart may outlast the ping window); one terminal update only.
    expect(terminal.filter((s) => s.state === 'TASK_FINISHED')).toHaveLength(1);
    expect(terminal.every((s) => ['TASK_FINISHED', 'TASK_UNREACHABLE'].includes(s.state))).toBe(true);
    await eventually(
      async () => (await cluster.master.registrar.tasks.get(f.frameworkId, 'survivor'))?.acknowledged || undefined,
    );
  });

  it('2. an agent silent past the ping timeout: UNREACHABLE (LOST without PARTITION_AWARE); back, its tasks run on', async () => {
    const aware = await framework();
    const { agent, agentId } = await childAgent('silent');
    await launchOn(aware, agentId, 'a-long', 'sleep 60');
    // The rest of the agent is for the other framework: this one stops taking offers and gives back any
    // it holds (the next pass may well have offered it the rest already).
    expect((await aware.call('SUPPRESS', {})).status).toBe(202);
    await declineHeld(aware);
    const legacy = await framework({ capabilities: [] });
    // A pass that read the agents before the suppression may still offer this one the rest: keep declining.
    const keepDeclining = setInterval(() => void declineHeld(aware).catch(() => undefined), 250);
    try {
      await launchOn(legacy, agentId, 'l-long', 'sleep 60');
    } finally {
      clearInterval(keepDeclining);
    }
    await aware.update('a-long', 'TASK_RUNNING', 20_000);
    await legacy.update('l-long', 'TASK_RUNNING', 20_000);

    agent.child.kill('SIGSTOP');
    const unreachable = await aware.update('a-long', 'TASK_UNREACHABLE', 20_000);
    expect(unreachable).toMatchObject({ reason: 'REASON_AGENT_REMOVED', source: 'SOURCE_MASTER' });
    expect((await legacy.update('l-long', 'TASK_LOST', 20_000)).reason).toBe('REASON_AGENT_REMOVED');
    await aware.next((e) => e.type === 'FAILURE' && e.failure?.agent_id?.value === agentId);
    expect((await cluster.master.registrar.agents.get(agentId))?.status).toBe('UNREACHABLE');

    agent.child.kill('SIGCONT');
    // Mesos ≥ 1.5: the agent re-registers and its tasks come back, for both kinds of framework.
    const reregistered = (f: TestFramework, taskId: string) =>
      f.next(
        (e) =>
          e.type === 'UPDATE' &&
          e.update?.status.task_id.value === taskId &&
          e.update.status.reason === 'REASON_AGENT_REREGISTERED',
        30_000,
      );
    expect((await reregistered(aware, 'a-long')).update?.status.state).toBe('TASK_RUNNING');
    expect((await reregistered(legacy, 'l-long')).update?.status.state).toBe('TASK_RUNNING');
    expect((await cluster.master.registrar.agents.get(agentId))?.status).toBe('ACTIVE');
    expect(await registrarViolations(cluster.master)).toEqual([]);
  });

  it('3. a master that dies between the ledger write and the launch command: the agent, asked, answers TASK_DROPPED; resources back', async () => {
    const f = await framework();
    const offer = await offerFrom(f, inProcessAgent);
    const queues = cluster.master.queues;
    const send = queues.send.bind(queues);
    let crashed = 0;
    // The "crash": the launch command never leaves (the handler dies after the registrar write).
    queues.send = async (url, messages) => {
      if (url.includes('agent') && messages.some((m) => (m.body as { type?: string }).type === 'LAUNCH')) {
        crashed++;
        throw new Error('injected: the handler died here');
      }
      return send(url, messages);
    };
    try {
      const answer = await f.call(
        'ACCEPT',
        launch([offer.id.value], [task('orphan', inProcessAgent, 'sleep 1')], {
          refuse_seconds: 0,
        }),
      );
      expect(answer.status).toBeGreaterThanOrEqual(500);
    } finally {
      queues.send = send;
    }
    expect(crashed).toBe(1);
    expect((await cluster.master.registrar.tasks.get(f.frameworkId, 'orphan'))?.state).toBe('TASK_STAGING');

    // Its row is TASK_STAGING: the sweeper asks the agent (RECONCILE), which does not have it.
    const dropped = await f.update('orphan', 'TASK_DROPPED', 20_000);
    expect(dropped.source).toBe('SOURCE_AGENT');
    expect(dropped.reason).toBe('REASON_RECONCILIATION');
    const agent = await cluster.master.registrar.agents.get(inProcessAgent);
    expect(Object.keys(agent?.tasks ?? {})).not.toContain(`${f.frameworkId}/orphan`);
    // Never stuck: the agent never runs it, and nothing further arrives for it.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(updatesOf(f, 'orphan').map((s) => s.state)).toEqual(['TASK_DROPPED']);
  });

  it('4. duplicated and reordered status messages: no regression, one terminal update per task', async () => {
    const f = await framework();
    await launchOn(f, inProcessAgent, 'echoed', 'echo once');
    await f.update('echoed', 'TASK_FINISHED', 20_000);
    await eventually(
      async () => (await cluster.master.registrar.tasks.get(f.frameworkId, 'echoed'))?.acknowledged || undefined,
    );
    const seen = updatesOf(f, 'echoed');
    expect(seen.map((s) => s.state)).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);

    // SQS delivers at least once and FIFO order holds only within a group: replay every update the
    // agent sent, newest first and twice, plus a stale TASK_RUNNING with a uuid never seen.
    const stale: TaskStatus = { ...(seen[1] as TaskStatus), uuid: Buffer.from('stale-running-upd').toString('base64') };
    const replay = [...seen].reverse().flatMap((status) => [status, status]);
    for (const status of [...replay, stale]) {
      const message: AgentMessage = {
        type: 'STATUS_UPDATE',
        agent_id: { value: inProcessAgent },
        framework_id: { value: f.frameworkId },
        status,
      };
      await cluster.master.queues.send(cluster.master.statusQueueUrl, [
        { body: message, groupId: `${f.frameworkId}/echoed/${Math.random()}`, deduplicationId: crypto.randomUUID() },
      ]);
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(updatesOf(f, 'echoed').map((s) => s.state)).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
    expect((await cluster.master.registrar.tasks.get(f.frameworkId, 'echoed'))?.state).toBe('TASK_FINISHED');
  });

  it('5. a cut stream: back within the grace keeps offers and tasks; away past failover_timeout kills them', async () => {
    const info = { ...FRAMEWORK, name: 'cut', failover_timeout: 2 };
    const f = (await subscribe(cluster, info)).acknowledgeAll();
    await launchOn(f, inProcessAgent, 'kept', 'sleep 60');
    await f.update('kept', 'TASK_RUNNING', 20_000);
    const held = await offerFrom(f, inProcessAgent);

    f.close();
    const back = (await subscribe(cluster, info, { frameworkId: f.frameworkId })).acknowledgeAll();
    frameworks.push(back);
    // The offer made before the cut still holds; the running task is still known.
    const answer = await back.call(
      'ACCEPT',
      launch([held.id.value], [task('after-cut', inProcessAgent, 'sleep 60')], {
        refuse_seconds: 0,
      }),
    );
    expect(answer.status).toBe(202);
    await back.update('after-cut', 'TASK_RUNNING', 20_000);
    await back.call('RECONCILE', { reconcile: { tasks: [{ task_id: { value: 'kept' } }] } });
    expect(
      (await back.next((e) => e.type === 'UPDATE' && e.update?.status.reason === 'REASON_RECONCILIATION')).update
        ?.status.state,
    ).toBe('TASK_RUNNING');

    frameworks.splice(frameworks.indexOf(back), 1);
    back.close();
    // Past reconnect grace (1 s) + failover_timeout (2 s): removed, its tasks killed, resources back.
    const killed = await eventually(
      async () => {
        const kept = await cluster.master.registrar.tasks.get(f.frameworkId, 'kept');
        const after = await cluster.master.registrar.tasks.get(f.frameworkId, 'after-cut');
        return kept?.state === 'TASK_KILLED' && after?.state === 'TASK_KILLED' ? [kept, after] : undefined;
      },
      30_000,
      'the failed-over framework to be removed and its tasks killed',
    );
    expect(killed).toHaveLength(2);
    expect((await cluster.master.registrar.frameworks.get(f.frameworkId))?.status).toBe('REMOVED');
    const agent = await cluster.master.registrar.agents.get(inProcessAgent);
    expect(Object.keys(agent?.tasks ?? {}).filter((key) => key.startsWith(f.frameworkId))).toEqual([]);
  });

  it('6. two accepts of one offer at once: one launches, the other gets TASK_DROPPED (TASK_LOST without PARTITION_AWARE)', async () => {
    const owner = await framework();
    const offer = await offerFrom(owner, inProcessAgent);
    const thief = await framework({ capabilities: [] });
    const accept = (f: TestFramework, taskId: string) =>
      f.call(
        'ACCEPT',
        launch([offer.id.value], [task(taskId, inProcessAgent, 'sleep 1')], {
          refuse_seconds: 0,
        }),
      );
    const answers = await Promise.all([accept(owner, 'mine'), accept(thief, 'stolen'), accept(owner, 'twice')]);
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);

    const lost = await thief.update('stolen', 'TASK_LOST');
    expect(lost.reason).toBe('REASON_INVALID_OFFERS');
    // Of the owner's two accepts of the same offer, exactly one launches.
    await eventually(
      async () => {
        const states = ['mine', 'twice'].map((id) => updatesOf(owner, id).at(-1)?.state);
        return states.includes('TASK_FINISHED') && states.includes('TASK_DROPPED') ? states : undefined;
      },
      20_000,
      'one launch and one drop',
    );
    // The stolen launch never ran: it has no task row (as in Mesos, a dropped launch is never added).
    expect(await cluster.master.registrar.tasks.get(thief.frameworkId, 'stolen')).toBeUndefined();
  });
});
