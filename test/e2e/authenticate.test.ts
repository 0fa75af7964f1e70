/**
 * `npm start -- --authenticate` as a user runs it (issue 10): the cluster's own agent comes up with a
 * credential of its own, never shown; the cluster says how to create a framework's principal; that
 * command works against the cluster's DynamoDB Local; `mantle execute` runs a task with the credentials
 * and is refused at once (401) without them. A persistent cluster keeps its agents' credential.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/aws-standins.js';
import { mantle, run, type Run } from '../support/cli.js';

let workDir: string;
let dataDir: string;
let args: string[];
let master: string;
let local: Run;
const started: Run[] = [];

async function startCluster(): Promise<Run> {
  const run = mantle(args);
  started.push(run);
  await run.line(/^mantle: ready in \d+ ms/, 120_000);
  return run;
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'mantle-auth-'));
  dataDir = join(workDir, 'data');
  const port = await freePort();
  master = `127.0.0.1:${port}`;
  args = ['local', '--port', String(port), '--agents', '1', '--authenticate', '--data_dir', dataDir];
  local = await startCluster();
}, 150_000);

afterAll(async () => {
  for (const child of started) if (child.child.exitCode === null) child.child.kill('SIGKILL');
  await rm(workDir, { recursive: true, force: true });
});

async function agentSecret(): Promise<string> {
  const [, secret] = (await readFile(join(dataDir, 'agent-credential'), 'utf8')).trim().split(' ');
  return secret as string;
}

describe('mantle local --authenticate', () => {
  it("comes up with its own agent, whose secret is in no output, and says how to create a framework's principal", async () => {
    const output = local.lines.join('\n');
    expect(output).toMatch(/agent 0\s+\S+-S\w+/);
    expect(output).toContain('Authentication is on');
    // With authentication the master's safe default ACLs apply, and the cluster says so.
    expect(output).toMatch(/^ {2}acls +safe defaults: no root, no privileged containers, no host paths/m);
    expect(output).toMatch(
      /^ {2}\.\/bin\/mantle\.js principal create --name my-framework --dynamodb_endpoint http:\/\/127\.0\.0\.1:\d+$/m,
    );
    expect(output).toContain(
      `./bin/mantle.js execute --master ${master} --principal=my-framework --secret=<its secret>`,
    );
    // Kept for restarts as Mesos keeps credentials: a file only its owner reads.
    expect((await stat(join(dataDir, 'agent-credential'))).mode & 0o777).toBe(0o600);
    expect((await agentSecret()).length).toBeGreaterThanOrEqual(16);
    expect(output).not.toContain(await agentSecret());
  });

  it('creates a framework principal as it says, and mantle execute runs a task with it; 401 without', async () => {
    const printed = local.lines.find((line) => line.includes('principal create'));
    const created = await run((printed as string).trim().split(/\s+/).slice(1));
    expect(created.code).toBe(0);
    const secret = /MANTLE_SECRET=(\S+)/.exec(created.output)?.[1] as string;
    expect(secret).toBeDefined();

    // The same name again, another cluster's tables, a DynamoDB that is not there: refused, with why.
    const endpoint = /--dynamodb_endpoint (\S+)/.exec(printed as string)?.[1];
    const create = ['principal', 'create', '--dynamodb_endpoint'];
    const again = await run([...create, endpoint as string, '--name', 'my-framework']);
    expect([again.code, again.output]).toEqual([1, "mantle principal create: Principal 'my-framework' already exists"]);
    const otherCluster = await run([...create, endpoint as string, '--name', 'x', '--cluster', 'nosuch']);
    expect(otherCluster.code).toBe(1);
    expect(otherCluster.output).toMatch(/table nosuch-principals\) \(is --cluster right\?\)/);
    const nowhere = await run([...create, `http://127.0.0.1:${await freePort()}`, '--name', 'x']);
    expect(nowhere.code).toBe(1);
    expect(nowhere.output).toMatch(/^mantle principal create: .*ECONNREFUSED/);

    const credentials = ['--principal=my-framework', `--secret=${secret}`];
    if (process.getuid?.() === 0) {
      // mantle execute runs its task as whoever runs it: as root, the safe default ACLs refuse it until
      // the principal's ACL names root, as the cluster says at start.
      const refused = await run(['execute', '--master', master, ...credentials, '--command', 'true']);
      expect(refused.code).toBe(1);
      expect(refused.output).toMatch(/TASK_ERROR.*may not run tasks as user 'root' \(acl: run_as_users\)/s);
      expect(local.lines.join('\n')).toContain(
        'principal update --name my-framework --acl \'{"run_as_users":["*","root"]}\'',
      );
      const update = ['principal', 'update', '--dynamodb_endpoint', endpoint as string, '--name', 'my-framework'];
      const allowed = await run([...update, '--acl', '{"run_as_users":["*","root"]}']);
      expect([allowed.code, allowed.output]).toEqual([
        0,
        'principal my-framework (framework, roles *, acl {"run_as_users":["*","root"]})',
      ]);
    }
    const ok = await run(['execute', '--master', master, ...credentials, '--command', 'echo authenticated']);
    expect(ok.output).toContain('authenticated');
    expect(ok.code).toBe(0);

    const none = await run(['execute', '--master', master, '--command', 'true']);
    expect(none.code).toBe(1);
    expect(none.output).toMatch(
      /Could not subscribe to the master at http:\/\/127\.0\.0\.1:\d+: .*SUBSCRIBE answered 401/,
    );
    // Refused at once, not after the 10 s a master that does not answer gets.
    expect(none.output).not.toMatch(/Not subscribed within/);
    const wrong = await run(['execute', '--master', master, '--command', 'true'], {
      MANTLE_PRINCIPAL: 'my-framework',
      MANTLE_SECRET: `${secret}x`,
    });
    expect(wrong.code).toBe(1);
    expect(wrong.output).toMatch(/SUBSCRIBE answered 401/);
  });

  it('restarted on its data directory, its agent authenticates with the kept credential', async () => {
    const secret = await agentSecret();
    local.child.kill('SIGINT');
    expect(await local.exited).toBe(0);
    const again = await startCluster();
    expect(again.lines.join('\n')).toMatch(/agent 0\s+\S+-S\w+/);
    expect(await agentSecret()).toBe(secret);
    expect(again.lines.join('\n')).not.toContain(secret);
    again.child.kill('SIGINT');
    expect(await again.exited).toBe(0);
  });
});
