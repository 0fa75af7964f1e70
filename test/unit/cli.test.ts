/**
 * The `mantle` command line in process: help, --version, usage errors on stderr with exit 2, a master that does
 * not answer with exit 1; and the pure parts of the operator verbs (parsing flags, the tables, top's screen).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/mantle.js';
import { selectTasks } from '../../cli/cluster-verbs.js';
import {
  parseDuration,
  parseMachine,
  parseStart,
  scheduleTable,
  statusTable,
  wantedSchedule,
} from '../../cli/maintenance-verbs.js';
import { agentsTable, quantitiesText, rolesTable, tasksTable } from '../../cli/operator-format.js';
import { pendingTable } from '../../cli/pending.js';
import { parseWeight, quotaTable } from '../../cli/quota-verbs.js';
import { renderTop } from '../../cli/top-view.js';
import { packageVersion } from '../../cli/version.js';
import type { Agent, GetState, Task } from '../../sdk/operator-types.js';

let stdout: string[];
let stderr: string[];

beforeEach(() => {
  stdout = [];
  stderr = [];
  const out = (into: string[]) => (chunk: unknown) => void into.push(String(chunk));
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown) => (out(stdout)(chunk), true)) as never);
  vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: unknown) => (out(stderr)(chunk), true)) as never);
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void stdout.push(`${args.join(' ')}\n`));
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void stderr.push(`${args.join(' ')}\n`));
});
afterEach(() => vi.restoreAllMocks());

async function mantle(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const code = await main(argv);
  return { code, out: stdout.join(''), err: stderr.join('') };
}

describe('mantle: help, version and exit codes', () => {
  it('--version prints the package version; -h, --help and no words print the commands', async () => {
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
    expect(await mantle('--version')).toEqual({ code: 0, out: `${packageVersion()}\n`, err: '' });
    for (const words of [['--help'], ['-h'], [], ['help']]) {
      stdout.length = 0;
      const help = await mantle(...words);
      expect(help.code).toBe(0);
      expect(help.out).toMatch(/^Usage: mantle \[options\] \[command\]/);
      for (const verb of ['local', 'agent', 'execute', 'job', 'queue', 'principal', 'agents', 'frameworks', 'tasks']) {
        expect(help.out).toMatch(new RegExp(`^  ${verb}\\b`, 'm'));
      }
      for (const verb of ['roles', 'quota', 'weights', 'maintenance', 'logs', 'top', 'pending']) {
        expect(help.out).toMatch(new RegExp(`^  ${verb}\\b`, 'm'));
      }
      expect(help.out).toContain('Exit status: 0 done; 1 the master refused or did not answer; 2 bad arguments');
    }
  });

  it("each command's help: commander's for the new verbs, the command's own usage for the others", async () => {
    expect((await mantle('quota', 'set', '--help')).out).toMatch(/^Usage: mantle quota set \[options\] <role>/);
    stdout.length = 0;
    expect((await mantle('help', 'maintenance', 'schedule')).out).toContain('--machines <m1,m2>');
    stdout.length = 0;
    const job = await mantle('job', 'submit', '--help');
    expect(job.code).toBe(0);
    expect(job.out).toMatch(/^Usage: mantle job <submit\|list\|show\|cancel\|logs>/);
    stdout.length = 0;
    const agent = await mantle('agent', '--help');
    expect(agent.out).toContain('drain [options] <agent-id>');
    expect(agent.out).toContain('Usage: mantle agent --master=<url> [--work_dir=<dir>] [flags]');
  });

  it('usage errors go to stderr and exit 2, saying what and where to look', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['nope'], /^mantle: unknown command 'nope'\n/],
      [['quota', 'set'], /^mantle quota set: missing required argument 'role'\n\(run 'mantle quota set --help'/],
      [['agents', '--mastr', 'x'], /^mantle agents: unknown option '--mastr'\n\(Did you mean --master\?\)/],
      [['weights', 'set', 'a=0'], /^mantle weights set: 'a=0' is not role=weight with a positive weight/],
      [['agents', '--master', 'zk://z:2181/mesos'], /^mantle agents: --master 'zk:\/\/z:2181\/mesos': ZooKeeper/],
      [['agents', '--principal', 'ops'], /--principal and --secret go together/],
      [['quota', 'set', 'r', '--limit', 'cpus'], /--limit: 'cpus' is not name=quantity/],
      [['agent', 'drain', 'a1', '--grace', 'soon'], /--grace must be seconds/],
      [['maintenance', 'schedule', '--start', 'now'], /--start and --duration need --machines/],
      [['top', '--interval', '0'], /--interval must be 0.2 seconds or more/],
      [['quota'], /^Usage: mantle quota/],
    ];
    for (const [words, message] of cases) {
      stdout.length = 0;
      stderr.length = 0;
      const result = await mantle(...words);
      expect(result.code, words.join(' ')).toBe(2);
      expect(result.err, words.join(' ')).toMatch(message);
      expect(result.out, words.join(' ')).toBe('');
    }
  });

  it('a master that does not answer: exit 1, said on stderr', async () => {
    const result = await mantle('agents', '--master', '127.0.0.1:1');
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^mantle agents: Could not reach the master at http:\/\/127\.0\.0\.1:1: /);
  });
});

describe('the operator verbs, pure parts', () => {
  it('parses weights, machines, durations and start times', () => {
    expect(parseWeight('gpu-team=2.5')).toEqual({ role: 'gpu-team', weight: 2.5 });
    for (const bad of ['x', 'x=', 'x=-1', 'x=0', '=2', 'x=two']) expect(() => parseWeight(bad)).toThrow(/role=weight/);
    expect(parseMachine('node-1')).toEqual({ hostname: 'node-1' });
    expect(parseMachine('10.0.0.7')).toEqual({ ip: '10.0.0.7' });
    expect(parseMachine('node-1=10.0.0.7')).toEqual({ hostname: 'node-1', ip: '10.0.0.7' });
    expect(() => parseMachine('node-1=not-an-ip')).toThrow(/not a machine/);
    expect([parseDuration('90s'), parseDuration('30m'), parseDuration('2h'), parseDuration('1d')]).toEqual([
      90, 1800, 7200, 86_400,
    ]);
    expect(() => parseDuration('0')).toThrow(/not a duration/);
    expect(parseStart('now', 1000)).toBe(1000);
    expect(parseStart('+1m', 1000)).toBe(61_000);
    expect(parseStart('2030-01-01T00:00:00Z')).toBe(Date.UTC(2030, 0, 1));
    expect(() => parseStart('tomorrow')).toThrow(/ISO 8601/);
  });

  it('a maintenance window is added to the schedule there is; --clear and --file replace it', async () => {
    const existing = { windows: [{ machine_ids: [{ hostname: 'a' }], unavailability: { start: { nanoseconds: 1 } } }] };
    const added = await wantedSchedule(
      { machines: 'b,c=10.0.0.3', start: '2030-01-01T00:00:00Z', duration: '1h' },
      async () => existing,
    );
    if (!added) throw new Error('--machines gave no schedule');
    expect(added).toEqual({
      windows: [
        ...existing.windows,
        {
          machine_ids: [{ hostname: 'b' }, { hostname: 'c', ip: '10.0.0.3' }],
          unavailability: { start: { nanoseconds: Date.UTC(2030, 0, 1) * 1e6 }, duration: { nanoseconds: 3600e9 } },
        },
      ],
    });
    expect(await wantedSchedule({ clear: true }, async () => existing)).toEqual({ windows: [] });
    expect(wantedSchedule({}, async () => existing)).toBeUndefined();
    expect(() => wantedSchedule({ clear: true, machines: 'a' }, async () => existing)).toThrow(/one of/);
    expect(scheduleTable(added)[0]).toMatch(/^WINDOW\s+MACHINES\s+START\s+DURATION$/);
    expect(scheduleTable(added)[1]).toMatch(/^1\s+a\s+1970-01-01T00:00:00Z\s+open-ended$/);
    expect(scheduleTable(added)[2]).toMatch(/^2\s+b,c=10\.0\.0\.3\s+2030-01-01T00:00:00Z\s+3600s$/);
    expect(statusTable({ down_machines: [{ hostname: 'a' }] })).toEqual([
      'MACHINE  MODE  INVERSE OFFERS',
      'a        DOWN  -',
    ]);
    expect(statusTable({})).toEqual(['every machine is up']);
  });

  const task = (id: string, state: string, framework = 'f1'): Task => ({
    name: id,
    task_id: { value: id },
    framework_id: { value: framework },
    agent_id: { value: 'a1' },
    state,
    resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 0.1 } }],
    statuses: [{ task_id: { value: id }, state, timestamp: 1_700_000_000 }],
  });

  it('selects tasks by framework, agent and state; completed ones only with --all', () => {
    const answer = {
      tasks: [task('t1', 'TASK_RUNNING'), task('t2', 'TASK_STAGING', 'f2')],
      completed_tasks: [task('t3', 'TASK_FINISHED')],
    };
    const ids = (tasks: Task[]) => tasks.map((t) => t.task_id.value);
    expect(ids(selectTasks(answer, {}))).toEqual(['t1', 't2']);
    expect(ids(selectTasks(answer, { all: true }))).toEqual(['t1', 't2', 't3']);
    expect(ids(selectTasks(answer, { all: true, state: 'finished' }))).toEqual(['t3']);
    expect(ids(selectTasks(answer, { framework: 'f2' }))).toEqual(['t2']);
    expect(tasksTable([task('t1', 'TASK_RUNNING')])[1]).toMatch(
      /^t1\s+t1\s+TASK_RUNNING\s+f1\s+a1\s+0\.1\s+0\s+0\s+2023-11-14T22:13:20Z$/,
    );
  });

  const agent: Agent = {
    agent_info: { hostname: 'node-1', id: { value: 'S1' } },
    active: true,
    version: '1.11.0',
    total_resources: [
      { name: 'cpus', type: 'SCALAR', scalar: { value: 4 } },
      { name: 'mem', type: 'SCALAR', scalar: { value: 1024 } },
    ],
    allocated_resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 0.30000000000000004 } }],
  };

  it('prints agents, roles, quota and pending reasons as tables', () => {
    expect(agentsTable([agent])[1]).toMatch(/^S1\s+node-1\s+active\s+0\.3\/4\s+0\/1024\s+-\s+-\s+-$/);
    expect(agentsTable([{ ...agent, drain_info: { state: 'DRAINING' } }])[1]).toContain('draining');
    expect(agentsTable([])).toEqual(['no agents']);
    expect(
      rolesTable([{ name: 'ml', weight: 2, frameworks: [{ value: 'f1' }], quota: { limit: { cpus: 8 } } }]),
    ).toEqual([
      'ROLE  WEIGHT  FRAMEWORKS  CPUS  MEM  GPUS  GUARANTEE  LIMIT',
      'ml    2       1           0     0    0     -          cpus:8',
    ]);
    expect(quotaTable([{ role: 'ml', limits: { cpus: { value: 8 }, gpus: { value: 1 } } }])).toEqual([
      'ROLE  GUARANTEES  LIMITS',
      'ml    -           cpus:8;gpus:1',
    ]);
    expect(quantitiesText({})).toBe('-');
    expect(
      pendingTable([
        { framework_id: { value: 'f1' }, role: 'ml', code: 'QUOTA_LIMIT_REACHED', message: 'at limit' },
      ])[1],
    ).toMatch(/^f1\s+ml\s+-\s+QUOTA_LIMIT_REACHED\s+at limit$/);
  });

  it("top's screen: totals, then agents, frameworks and tasks cut to the terminal", () => {
    const state: GetState = {
      get_agents: { agents: [agent] },
      get_frameworks: { frameworks: [] },
      get_tasks: {
        tasks: Array.from({ length: 40 }, (_, i) => task(`t${i}`, i % 2 ? 'TASK_RUNNING' : 'TASK_STAGING')),
      },
    };
    const screen = { master: 'http://m:5050', now: new Date(0) };
    const all = renderTop(state, screen);
    expect(all[0]).toBe('mantle top   http://m:5050   1970-01-01T00:00:00Z   (q to quit)');
    expect(all[1]).toBe('agents 1 (1 active)   frameworks 0 (0 connected)');
    expect(all[2]).toBe('tasks 40: 20 running, 20 staging   completed 0');
    expect(all[3]).toBe('cpus 0.3/4 (8%)   mem 0/1024 (0%)   gpus 0/0 (-)   disk 0/0 (-)');
    expect(all.filter((line) => /^t\d+ /.test(line))).toHaveLength(40);
    const cut = renderTop(state, { ...screen, rows: 24, columns: 60 });
    expect(cut.length).toBeLessThanOrEqual(24);
    expect(cut.every((line) => line.length <= 60)).toBe(true);
    expect(cut[cut.length - 1]).toMatch(/… \d+ more/);
    // Running tasks first.
    expect(cut.find((line) => /^t\d+ /.test(line))).toContain('TASK_RUNNING');
  });
});
