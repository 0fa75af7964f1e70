/**
 * The metadata firewall (`--block_metadata`) with real iptables/ip6tables, real cgroups, the real
 * Docker engine and real processes: a stand-in metadata service on a loopback address of its own
 * (127.0.0.x, and [::1] on a port of its own) that the test process reaches and no task does — a root
 * container on the host network, a root process task, a process task's health check — while both
 * reach another loopback server; the rules installed once however often the agent starts, kept while
 * tasks run, reinstalled when their cgroup is recreated, gone after a clean stop; and an agent that
 * cannot install them does not start. Each run uses its own cgroup root and addresses, and removes its
 * rules and cgroups whatever happens.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, rmdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import type { ContainerizerKind } from '../../agent/config.js';
import { which } from '../../agent/containerizer/host.js';
import { cgroup2Mount } from '../../agent/isolation/cgroup2.js';
import { MetadataFirewall } from '../../agent/isolation/firewall.js';
import { RULE_COMMENT } from '../../agent/isolation/firewall-rules.js';
import type { AwsClients } from '#shared/aws/clients.js';
import { createLogger } from '#shared/log.js';
import type { TaskInfo } from '#shared/protocol/mesos.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import {
  commandTask,
  dockerTask,
  launch,
  removeContainers,
  removeWorkDir,
  ROOT_GRANT,
  startTestAgent,
  taskId,
  tempWorkDir,
  TEST_IMAGE,
} from '../support/agent.js';
import { sandboxFile } from '../support/agent-sandbox.js';

const CGROUP2 = await cgroup2Mount();
const usable = process.getuid?.() === 0 && CGROUP2 !== undefined && (await which('iptables')) !== undefined;

/** This run's own: a cgroup root, a 127.0.0.x address, servers. */
const ROOT = `mantle-fw-${process.pid}-${randomBytes(3).toString('hex')}`;
const METADATA_V4 = `127.0.0.${100 + Math.floor(Math.random() * 150)}`;
const SECRET = 'AKIA-STAND-IN-ROLE-CREDENTIALS';

function run(binary: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(binary, args, (error, stdout, stderr) =>
      error ? reject(new Error(stderr || error.message)) : resolve(stdout),
    ),
  );
}

/** The rules of this run's agents: their comment, and this run's cgroup root or addresses. */
async function ownRules(): Promise<string[]> {
  const rules: string[] = [];
  for (const binary of ['iptables', 'ip6tables']) {
    for (const chain of ['OUTPUT', 'FORWARD']) {
      const listing = await run(binary, ['-w', '-S', chain]).catch(() => '');
      for (const line of listing.split('\n')) {
        if (!line.includes(`--comment ${RULE_COMMENT}`)) continue;
        if (
          line.includes(`--path ${ROOT}`) ||
          line.includes(`-d ${METADATA_V4}/32`) ||
          line.includes(`--dport ${ports.v6} `)
        ) {
          rules.push(`${binary} ${line}`);
        }
      }
    }
  }
  return rules;
}

async function removeOwnRules(): Promise<void> {
  for (const rule of await ownRules()) {
    const [binary, , chain, ...args] = rule.split(' ');
    await run(binary as string, ['-w', '-D', chain as string, ...args]).catch(() => undefined);
  }
}

/** Removes this run's cgroups in every hierarchy, deepest first (cgroup directories go with rmdir only). */
async function removeCgroups(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) if (entry.isDirectory()) await removeCgroups(join(dir, entry.name));
  await rmdir(dir).catch(() => undefined);
}

async function removeAllCgroups(): Promise<void> {
  for (const hierarchy of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
    await removeCgroups(join('/sys/fs/cgroup', hierarchy, ROOT));
  }
  await removeCgroups(join('/sys/fs/cgroup', ROOT));
}

const ports = { v4: 0, v6: 0, control: 0 };
const servers: Server[] = [];

async function serve(host: string, body: string): Promise<number> {
  const server = createServer((_request, response) => response.end(body));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

let clients: AwsClients;
let master: FakeMaster;
let agent: RunningAgent | undefined;
let agentId: string;
let workDir: string;
const extraWorkDirs: string[] = [];

function agentOptions(dir: string) {
  return {
    sqsEndpoint: inject('sqsEndpoint'),
    workDir: dir,
    containerizers: ['docker', 'mesos'] as ContainerizerKind[],
    cgroupsRoot: ROOT,
    blockMetadata: [METADATA_V4, `[::1]:${ports.v6}`],
  };
}

async function start(dir = workDir): Promise<RunningAgent> {
  const started = await startTestAgent(master, agentOptions(dir));
  agentId = await started.registered;
  return started;
}

describe.runIf(usable)(`the metadata firewall (${METADATA_V4}, [::1], cgroup root ${ROOT})`, () => {
  beforeAll(async () => {
    ports.v4 = await serve(METADATA_V4, SECRET);
    ports.v6 = await serve('::1', SECRET);
    ports.control = await serve('127.0.0.1', 'control');
    clients = standInClients();
    master = await new FakeMaster({ sqs: clients.sqs }).start();
    workDir = await tempWorkDir();
    agent = await start();
  });

  afterAll(async () => {
    try {
      await agent?.shutdown();
      await master?.close();
      clients?.destroy();
      for (const server of servers) server.close();
      for (const dir of [workDir, ...extraWorkDirs]) {
        if (!dir) continue;
        await removeContainers([dir]);
        await removeWorkDir(dir);
      }
    } finally {
      await removeOwnRules();
      await removeAllCgroups();
    }
  });

  /** Reaches each server with `get(host, port)` (which prints the response) and says which answered. */
  const probe = (get: (host: string, port: number) => string) =>
    [
      `${get('127.0.0.1', ports.control)} | grep -q control && echo control-reached || echo control-blocked`,
      `${get(METADATA_V4, ports.v4)} | grep -q ${SECRET} && echo v4-reached || echo v4-blocked`,
      `${get('::1', ports.v6)} | grep -q ${SECRET} && echo v6-reached || echo v6-blocked`,
    ].join('; ');
  const curl = (host: string, port: number) =>
    `curl -gs -m 3 http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  const blocked = 'control-reached\nv4-blocked\nv6-blocked\n';

  async function finished(task: TaskInfo): Promise<string> {
    const id = task.task_id.value;
    await master.send(agentId, launch(task, { grant: ROOT_GRANT }));
    await master.waitFor(id, 'TASK_FINISHED', 30_000);
    return sandboxFile(workDir, id, 'stdout');
  }

  it('lets the test process (outside the task cgroups) reach the stand-in', async () => {
    expect(await (await fetch(`http://${METADATA_V4}:${ports.v4}/`)).text()).toBe(SECRET);
    expect(await (await fetch(`http://[::1]:${ports.v6}/`)).text()).toBe(SECRET);
  });

  it('keeps a root container on the host network from it', async () => {
    // The test image's busybox: nc speaks the HTTP (its wget crashes in this build), grep reads the answer.
    const shell = probe(
      (host, port) => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 ${host} ${port}`,
    ).replaceAll('| grep', '| busybox grep');
    const task = dockerTask(taskId('fw-docker'), shell, {
      container: { type: 'DOCKER', docker: { image: TEST_IMAGE, network: 'HOST' } },
    });
    const output = await finished(task);
    expect(output).not.toContain(SECRET);
    expect(output).toBe(blocked);
  });

  it('keeps a root process task from it', async () => {
    const output = await finished(commandTask(taskId('fw-process'), probe(curl)));
    expect(output).not.toContain(SECRET);
    expect(output).toBe(blocked);
  });

  it("keeps a process task's health check from it (checks run in the task's cgroups)", async () => {
    const id = taskId('fw-check');
    const reach = `curl -gs -m 2 http://${METADATA_V4}:${ports.v4}/`;
    await master.send(
      agentId,
      launch(
        commandTask(id, 'sleep 30', {
          health_check: {
            type: 'COMMAND',
            command: { value: `if ${reach}; then exit 1; fi` },
            delay_seconds: 0,
            interval_seconds: 0.2,
            timeout_seconds: 5,
          },
        }),
        { grant: ROOT_GRANT },
      ),
    );
    const healthy = await master.waitFor(id, 'TASK_RUNNING', 20_000, (status) => status.healthy !== undefined);
    expect(healthy.status.healthy).toBe(true);
  });

  it('installs its rules once however often the agent starts, keeps them while tasks run, removes them after a clean stop', async () => {
    const rules = await ownRules();
    // OUTPUT per address and cgroup subtree (one: Docker's cgroupfs parent is the process tasks' root), FORWARD per address.
    expect(rules).toHaveLength(4);
    expect(rules.filter((rule) => rule.includes('-A OUTPUT')).every((rule) => rule.includes(`--path ${ROOT} `))).toBe(
      true,
    );
    const id = taskId('fw-lives');
    await master.send(agentId, launch(commandTask(id, 'sleep 60'), { grant: ROOT_GRANT }));
    await master.waitFor(id, 'TASK_RUNNING');
    await agent?.stop();
    expect(await ownRules()).toEqual(rules);
    agent = await start();
    expect((await ownRules()).sort()).toEqual([...rules].sort());
    await agent.shutdown();
    agent = undefined;
    expect(await ownRules()).toEqual([]);
    agent = await start();
  });

  it('reinstalls its rules when the task cgroup was recreated (the kernel matches the cgroup, not its path)', async () => {
    await agent?.shutdown();
    agent = undefined;
    // Stopped with no task left: rules gone. Install them, then take the cgroup away under them.
    agent = await start();
    await removeCgroups(join(CGROUP2 as string, ROOT));
    expect(existsSync(join(CGROUP2 as string, ROOT))).toBe(false);
    const output = await finished(commandTask(taskId('fw-recreated'), probe(curl)));
    expect(output).toBe(blocked);
  });

  it('refuses to start when the rules cannot be installed (fails closed)', async () => {
    const dir = await tempWorkDir();
    extraWorkDirs.push(dir);
    // A cgroup path the kernel's cgroup match refuses (longer than it takes).
    const tooLong = `${ROOT}/${'x'.repeat(200)}/${'y'.repeat(200)}/${'z'.repeat(200)}`;
    await expect(
      startTestAgent(master, { ...agentOptions(dir), containerizers: ['docker'], cgroupsRoot: tooLong }),
    ).rejects.toThrow(/Cannot install the metadata firewall/);
    const options = {
      targets: [{ address: METADATA_V4, family: 4 as const }],
      cgroup2: CGROUP2,
      subtrees: [{ path: `/${ROOT}`, create: async () => undefined }],
      uncovered: [],
      logger: createLogger('firewall-test'),
    };
    await expect(new MetadataFirewall({ ...options, cgroup2: undefined }).install()).rejects.toThrow(
      /needs the cgroup2 hierarchy/,
    );
    await expect(new MetadataFirewall({ ...options, uncovered: ['mesos'] }).install()).rejects.toThrow(
      /the mesos containerizer cannot put its tasks in the cgroup2 hierarchy/,
    );
    await expect(new MetadataFirewall({ ...options, searchPath: '/nonexistent' }).install()).rejects.toThrow(
      /needs iptables, which is not on the PATH/,
    );
  });
});
