/**
 * The operator's verbs as an operator runs them, against a local cluster with a task running: agents,
 * frameworks, tasks, roles, weights, quota, logs (and -f), agent deactivate/reactivate/drain (and work on
 * the agent reactivated after its drain), maintenance, top (printed once, and live on a terminal until q),
 * pending; refusals exit 1 with the master's reason.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionOf } from '../../cli/command.js';
import { runTop, type TopIo } from '../../cli/top.js';
import { OperatorClient } from '../../sdk/operator.js';
import { eventually, startTestCluster, type TestCluster } from '../support/cluster.js';
import { mantle, run, type Run } from '../support/cli.js';

let cluster: TestCluster;
let url: string;
let task: Run;
let taskId: string;
let agentId: string;

const cli = (...words: string[]) => run([...words, '--master', url]);

beforeAll(async () => {
  cluster = await startTestCluster({ agents: 1 });
  url = cluster.url;
  task = mantle(['execute', '--master', url, '--name', 'op', '--command', 'echo hello from a task; sleep 120']);
  await task.line(/TASK_RUNNING/, 90_000);
  taskId = /Submitting task '([^']+)'/.exec(task.lines.join('\n'))?.[1] ?? '';
  const agents = await new OperatorClient({ master: url }).getAgents();
  agentId = agents[0]?.agent_info.id?.value ?? '';
}, 150_000);

afterAll(async () => {
  if (task?.child.exitCode === null) {
    task.child.kill('SIGINT');
    await task.exited;
  }
  await cluster?.stop();
}, 60_000);

describe('mantle, the operator verbs', () => {
  it('agents, frameworks, tasks and roles: tables, and the API JSON with --json', async () => {
    const agents = await cli('agents');
    expect(agents.code, agents.output).toBe(0);
    expect(agents.output).toMatch(new RegExp(`^${agentId}\\s+\\S+\\s+active\\s+0\\.1/`, 'm'));
    const json = JSON.parse((await cli('agents', '--json')).output) as {
      agents: Array<{ agent_info: { id: { value: string } } }>;
    };
    expect(json.agents.map((agent) => agent.agent_info.id.value)).toEqual([agentId]);

    const frameworks = await cli('frameworks');
    expect(frameworks.output).toMatch(/^\S+\s+mantle-execute\s+\*\s+-\s+connected\s+0\.1\s+32\s+0$/m);
    const tasks = await cli('tasks');
    expect(tasks.output).toMatch(
      new RegExp(`^${taskId}\\s+op\\s+TASK_RUNNING\\s+\\S+\\s+${agentId}\\s+0\\.1\\s+32`, 'm'),
    );
    const running = JSON.parse((await cli('tasks', '--json', '--state', 'running')).output) as { tasks: unknown[] };
    expect(running.tasks).toHaveLength(1);
    expect((await cli('roles')).output).toMatch(/^\*\s+1\s+1\s+0\.1\s+32\s+0\s+-\s+-$/m);
  });

  it('weights set and get; quota set, get and removal', async () => {
    expect((await cli('weights', 'set', 'ml=2', 'batch=0.5')).output).toBe(
      'weight of role ml: 2\nweight of role batch: 0.5',
    );
    const weights = await cli('weights', 'get');
    expect(weights.output).toMatch(/^ml\s+2$/m);
    expect(weights.output).toMatch(/^batch\s+0\.5$/m);

    const set = await cli('quota', 'set', 'ml', '--limit', 'cpus=1,mem=512', '--guarantee', 'cpus=0.5');
    expect(set.code, set.output).toBe(0);
    expect((await cli('quota', 'get', 'ml')).output).toMatch(/^ml\s+cpus:0\.5\s+cpus:1;mem:512$/m);
    expect((await cli('quota', 'set', 'ml')).code).toBe(0);
    expect((await cli('quota', 'get', 'ml')).output).not.toMatch(/^ml\s+.*cpus:1/m);
  });

  it("logs prints a task's output; -f follows a task to its end", async () => {
    const logs = await cli('logs', taskId);
    expect(logs.code, logs.output).toBe(0);
    expect(logs.output).toBe('hello from a task');
    const short = await run([
      'execute',
      '--master',
      url,
      '--name',
      'short',
      '--command',
      'for i in 1 2 3; do echo line $i; sleep 1; done',
    ]);
    const shortId = /Submitting task '([^']+)'/.exec(short.output)?.[1] ?? '';
    const followed = await cli('logs', '-f', shortId);
    expect(followed.code).toBe(0);
    expect(followed.output).toBe('line 1\nline 2\nline 3');
    const unknown = await cli('logs', 'no-such-task');
    expect(unknown.code).toBe(1);
    expect(unknown.output).toContain('mantle logs: the master knows no task no-such-task');
  });

  it('top prints the cluster once when stdout is not a terminal, and runs live on one until q', async () => {
    const once = await cli('top');
    expect(once.code).toBe(0);
    expect(once.output).toMatch(/^agents 1 \(1 active\)\s+frameworks \d+/m);
    expect(once.output).toContain(taskId);

    const input = Object.assign(new EventEmitter(), {
      isTTY: true,
      raw: false,
      setRawMode(raw: boolean) {
        this.raw = raw;
      },
      resume() {},
      pause() {},
    });
    const written: string[] = [];
    const output = { isTTY: true, rows: 30, columns: 120, write: (text: string) => written.push(text) };
    const client = new OperatorClient(connectionOf({ master: url }));
    const ended = runTop(client, { input, output } as TopIo, { intervalMs: 200 });
    await eventually(async () => (written.filter((text) => text.includes(taskId)).length >= 2 ? true : undefined));
    expect(input.raw).toBe(true);
    input.emit('data', Buffer.from('q'));
    expect(await ended).toBe(0);
    expect(input.raw).toBe(false);
    expect(written[written.length - 1]).toBe('\x1b[?25h\x1b[?1049l');
  });

  it('pending says why nothing is offered, or that nothing waits', async () => {
    const pending = await cli('pending');
    expect(pending.code, pending.output).toBe(0);
  });

  it('maintenance: a window, its machine DOWN and UP again, the schedule cleared', async () => {
    const host = (await new OperatorClient({ master: url }).getAgents())[0]?.agent_info.hostname ?? hostname();
    const scheduled = await cli('maintenance', 'schedule', '--machines', `${host}=127.0.0.1`, '--duration', '1h');
    expect(scheduled.code, scheduled.output).toBe(0);
    expect(scheduled.output).toMatch(new RegExp(`^1\\s+${host}=127\\.0\\.0\\.1\\s+\\S+\\s+3600s$`, 'm'));
    expect((await cli('maintenance', 'status')).output).toMatch(
      new RegExp(`^${host}=127\\.0\\.0\\.1\\s+DRAINING`, 'm'),
    );
    expect((await cli('maintenance', 'stop', `${host}=127.0.0.1`)).code).not.toBe(2);
    expect((await cli('maintenance', 'schedule', '--clear')).output).toBe('no maintenance scheduled');
    expect((await cli('maintenance', 'status')).output).toBe('every machine is up');
  });

  it('agent deactivate, reactivate and drain; a refusal exits 1 with the master reason', async () => {
    expect((await cli('agent', 'deactivate', agentId)).output).toBe(`agent ${agentId} deactivated`);
    expect((await cli('agents')).output).toMatch(new RegExp(`^${agentId}\\s+\\S+\\s+deactivated`, 'm'));
    expect((await cli('agent', 'reactivate', agentId)).code).toBe(0);
    expect((await cli('agents')).output).toMatch(new RegExp(`^${agentId}\\s+\\S+\\s+active`, 'm'));

    const refused = await cli('agent', 'deactivate', 'no-such-agent');
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/^mantle agent deactivate: DEACTIVATE_AGENT answered 4\d\d: /m);

    expect((await cli('agent', 'drain', agentId, '--grace', '1')).code).toBe(0);
    expect(await task.exited).not.toBeNull();
    const drained = new RegExp(`^${agentId}\\s+\\S+\\s+drained`, 'm');
    await eventually(async () => (drained.test((await cli('agents')).output) ? true : undefined));

    // A drained agent reactivated takes work again (it forgot the drain once DRAINED, as Mesos's does).
    expect((await cli('agent', 'reactivate', agentId)).code).toBe(0);
    const after = mantle(['execute', '--master', url, '--name', 'after-drain', '--command', 'true']);
    await after.line(/TASK_FINISHED/, 60_000);
    expect(await after.exited).toBe(0);
  });
});
