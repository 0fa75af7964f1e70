/**
 * The commands a new user types, run as they run them: `mantle local` (what `npm start` runs) in its own
 * process, `mantle execute` against it, `mantle agent` joining from another process, and Ctrl-C.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, isRunning } from '../../local/aws-standins.js';
import { TEST_IMAGE as IMAGE } from '../support/base-image.js';
import { mantle, run, type Run } from '../support/cli.js';

let local: Run;
/** The pid `mantle local` printed for its DynamoDB Local or its SQS stand-in. */
const pidOf = (run: Run, part: 'DynamoDB Local' | 'SQS stand-in') =>
  Number(new RegExp(`${part}\\s+\\S+ \\(pid (\\d+)`).exec(run.lines.join('\n'))?.[1]);

async function gone(pid: number): Promise<boolean> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline && isRunning(pid);) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !isRunning(pid);
}
let url: string;
let workDir: string;
const started: Run[] = [];

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'mantle-cli-'));
  const port = await freePort();
  local = mantle(['local', '--port', String(port), '--agents', '1', '--work_dir', join(workDir, 'cluster')]);
  started.push(local);
  await local.line(/^mantle: ready in \d+ ms/);
  url = `http://127.0.0.1:${port}`;
}, 120_000);

afterAll(async () => {
  for (const child of started) if (child.child.exitCode === null) child.child.kill('SIGKILL');
  await rm(workDir, { recursive: true, force: true });
});

describe('the mantle command line', () => {
  it('mantle local says what it started and where, and answers /health', async () => {
    const output = local.lines.join('\n');
    expect(output).toMatch(/DynamoDB Local\s+http:\/\/127\.0\.0\.1:\d+ \(pid \d+/);
    expect(output).toMatch(/SQS stand-in\s+http:\/\/127\.0\.0\.1:\d+ \(pid \d+\)/);
    expect(output).toContain(`master           ${url}`);
    expect(output).toMatch(/agent 0\s+\S+-S\w+/);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it('mantle execute prints status changes and output, and exits with the task exit status', async () => {
    const ok = await run(['execute', '--master', url, '--name', 'hello', '--command', 'echo hello from Mantle']);
    expect(ok.code).toBe(0);
    expect(ok.output).toMatch(/Received status update TASK_RUNNING for task 'hello-\w+'/);
    expect(ok.output).toMatch(/TASK_FINISHED .*\(Command exited with status 0\)/);
    expect(ok.output).toContain('hello from Mantle');
    // Its own TEARDOWN at the end is not reported as an error.
    expect(ok.output).not.toContain('Error from the master');

    const failed = await run(['execute', '--master', url, '--command', 'echo oops >&2; exit 7']);
    expect(failed.code).toBe(7);
    expect(failed.output).toMatch(/TASK_FAILED .*Command exited with status 7/);
    expect(failed.output).toContain('oops');
  });

  it('mantle execute runs a Docker image when asked', async () => {
    const result = await run(['execute', '--master', url, '--docker_image', IMAGE, '--command', 'echo in a container']);
    expect(result.code).toBe(0);
    expect(result.output).toContain('in a container');
  });

  it('mantle execute takes the master as Mesos users name it: host:port, --master=, MESOS_MASTER', async () => {
    const hostPort = url.replace('http://', '');
    const spaced = await run(['execute', '--master', hostPort, '--command', 'echo via host:port']);
    expect(spaced.output).toContain('via host:port');
    expect(spaced.code).toBe(0);
    const fromEnv = await run(['execute', '--command', 'echo via MESOS_MASTER'], { MESOS_MASTER: hostPort });
    expect(fromEnv.output).toContain('via MESOS_MASTER');
    expect(fromEnv.code).toBe(0);
  });

  it('mantle execute and mantle agent refuse a master that cannot be one at once', async () => {
    const zk = await run(['execute', '--master=zk://127.0.0.1:2181/mesos', '--command', 'true']);
    expect(zk.code).toBe(2);
    expect(zk.output).toMatch(
      /mantle execute: --master 'zk:\/\/127\.0\.0\.1:2181\/mesos': ZooKeeper \(zk:\/\/\) is not/,
    );
    const fromEnv = await run(['execute', '--command', 'true'], { MANTLE_MASTER: '127.0.0.1:50x' });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.output).toContain("MANTLE_MASTER '127.0.0.1:50x': expected host:port");
    const agent = await run(['agent', '--work_dir', join(workDir, 'never')], { MESOS_MASTER: 'zk://z:2181/mesos' });
    expect(agent.code).toBe(2);
    expect(agent.output).toMatch(/mantle agent: MESOS_MASTER 'zk:\/\/z:2181\/mesos': ZooKeeper/);
  });

  it('mantle execute fails clearly on a master that is not there and on bad arguments', async () => {
    const nobody = await run(['execute', '--master', `http://127.0.0.1:${await freePort()}`, '--command', 'true']);
    expect(nobody.code).toBe(1);
    expect(nobody.output).toMatch(/Could not subscribe to the master at .*ECONNREFUSED/);
    const bad = await run(['execute', '--master', url, '--command', 'true', '--resources', 'gpus:0.5']);
    expect(bad.code).toBe(2);
    expect(bad.output).toMatch(/--resources/);
  });

  it('mantle agent joins from another process; Ctrl-C on execute kills the task and frees its resources', async () => {
    // Only this agent has widgets, so tasks that ask for one run on it.
    // Mesos's own spelling: --master=host:port.
    const agent = mantle([
      'agent',
      `--master=${url.replace('http://', '')}`,
      '--work_dir',
      join(workDir, 'joined'),
      '--port=-1',
      '--ec2_metadata=off',
      '--no-switch_user',
      '--resources=cpus:1;mem:256;widgets:1',
      // A graceful stop lets the command long-poll finish (see Agent.stop); a short poll keeps the test short.
      '--command_poll_wait=2',
    ]);
    started.push(agent);
    const first = mantle([
      'execute',
      '--master',
      url,
      '--resources',
      'cpus:0.1;mem:16;widgets:1',
      '--command',
      'sleep 60',
    ]);
    started.push(first);
    await first.line(/TASK_RUNNING/);
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(130);
    expect(first.lines.join('\n')).toMatch(/Interrupted: tearing down the framework, which kills task/);

    // The widget is free again only if the task was killed.
    const second = await run([
      'execute',
      '--master',
      url,
      '--resources',
      'cpus:0.1;mem:16;widgets:1',
      '--timeout',
      '30',
      '--command',
      'echo got the widget',
    ]);
    expect(second.code).toBe(0);
    expect(second.output).toContain('got the widget');
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
  });

  it('mantle local stops everything it started on Ctrl-C', async () => {
    const pid = pidOf(local, 'DynamoDB Local');
    const sqs = pidOf(local, 'SQS stand-in');
    expect(pid).toBeGreaterThan(0);
    expect(sqs).toBeGreaterThan(0);
    local.child.kill('SIGINT');
    expect(await local.exited).toBe(0);
    expect(local.lines.join('\n')).toContain('mantle: stopped.');
    expect(() => process.kill(pid, 0)).toThrow();
    expect(isRunning(sqs)).toBe(false);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });

  it('mantle local killed with SIGKILL leaves DynamoDB Local running; the next start ends it', async () => {
    const args = ['local', '--port', String(await freePort()), '--agents', '1', '--data_dir', join(workDir, 'killed')];
    const first = mantle(args);
    started.push(first);
    await first.line(/^mantle: ready in \d+ ms/);
    const jvmOf = (run: Run) => pidOf(run, 'DynamoDB Local');
    const jvm = jvmOf(first);
    expect(jvm).toBeGreaterThan(0);
    let second: Run | undefined;
    try {
      first.child.kill('SIGKILL');
      await first.exited;
      expect(isRunning(jvm)).toBe(true); // nobody was left to stop it
      // The SQS stand-in's child sees its IPC channel close and goes by itself.
      expect(await gone(pidOf(first, 'SQS stand-in'))).toBe(true);

      second = mantle(args);
      started.push(second);
      await second.line(/^mantle: ready in \d+ ms/);
      expect(second.lines.join('\n')).toContain(
        `ended DynamoDB Local pid ${jvm}, left running by a run that was killed`,
      );
      expect(isRunning(jvm)).toBe(false);
      // Persistent: the agent leaves its tasks, and does not wait out a command poll (20 s) on queues
      // that go with the process.
      const asked = Date.now();
      second.child.kill('SIGINT');
      expect(await second.exited).toBe(0);
      expect(Date.now() - asked).toBeLessThan(10_000);
    } finally {
      // Whatever failed, no JVM outlives the test.
      for (const pid of [jvm, second ? jvmOf(second) : 0]) if (pid > 0 && isRunning(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it('mantle local whose SQS stand-in dies says so, stops everything and exits with 1', async () => {
    const alone = mantle([
      'local',
      '--port',
      String(await freePort()),
      '--agents',
      '0',
      '--work_dir',
      join(workDir, 'lost'),
    ]);
    started.push(alone);
    await alone.line(/^mantle: ready in \d+ ms/);
    const sqs = pidOf(alone, 'SQS stand-in');
    const jvm = pidOf(alone, 'DynamoDB Local');
    try {
      process.kill(sqs, 'SIGKILL');
      expect(await alone.exited).toBe(1);
      expect(alone.lines.join('\n')).toContain(
        `mantle: the SQS stand-in (pid ${sqs}) exited (SIGKILL): the queues are gone; stopping...`,
      );
      expect(alone.lines.join('\n')).toContain('mantle: stopped.');
      expect(isRunning(jvm)).toBe(false);
    } finally {
      if (jvm > 0 && isRunning(jvm)) process.kill(jvm, 'SIGKILL');
    }
  });
});
