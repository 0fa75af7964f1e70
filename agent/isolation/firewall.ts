/**
 * The metadata firewall (`--block_metadata`): no task reaches the instance metadata service (which hands
 * out the instance role) — root, host-network and process tasks included. Every task lives under the
 * agent's cgroup2 subtrees (cgroup2.ts), and the agent installs, per address, an iptables/ip6tables
 * OUTPUT rule `-d <addr> [-p tcp --dport <port>] -m cgroup --path <subtree> -j REJECT` (a socket's
 * cgroup, whoever owns it), plus a FORWARD rule for containers on bridge networks, whose packets reach
 * the host without a socket. The agent itself, outside the subtrees, keeps its access. Rules carry the
 * comment `mantle-agent`; the agent replaces its own at start (a restart does not duplicate them),
 * reinstalls them if a subtree was recreated (the kernel holds the rule to the cgroup, not to its
 * path), and removes them when it stops with no task left. When the rules cannot be installed the agent
 * does not start: it fails closed.
 */
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '#shared/log.js';
import { which } from '../containerizer/host.js';
import type { TaskCgroup } from './cgroup2.js';
import type { Containerizers } from '../containerizers.js';
import {
  binaryOf,
  firewallRules,
  ownRules,
  parseMetadataTargets,
  type MetadataTarget,
  type Rule,
} from './firewall-rules.js';

type Run = (binary: string, args: readonly string[]) => Promise<string>;

const runCommand: Run = (binary, args) =>
  new Promise((resolve, reject) =>
    execFile(binary, [...args], { timeout: 30_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${binary} ${args.join(' ')}: ${(stderr || error.message).trim()}`)) : resolve(stdout),
    ),
  );

export interface FirewallOptions {
  readonly targets: readonly MetadataTarget[];
  /** The cgroup2 mount point; undefined when the host has none (then the firewall cannot work). */
  readonly cgroup2: string | undefined;
  readonly subtrees: readonly TaskCgroup[];
  /** Containerizers whose tasks the subtrees do not hold: the firewall would not cover them. */
  readonly uncovered: readonly string[];
  readonly logger: Logger;
  /** Where iptables is looked for (default: the PATH); a test seam. */
  readonly searchPath?: string;
}

export class FirewallError extends Error {
  override readonly name = 'FirewallError';
}

export class MetadataFirewall {
  private readonly run: Run = runCommand;
  /** Each subtree's inode when the rules were installed: a recreated cgroup has a new one. */
  private installedFor = new Map<string, number>();
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly options: FirewallOptions) {}

  get rules(): Rule[] {
    return firewallRules(
      this.options.targets,
      this.options.subtrees.map((subtree) => subtree.path),
    );
  }

  private binaries(): Rule['binary'][] {
    return [...new Set(this.options.targets.map(binaryOf))];
  }

  /** Installs the rules, replacing any this agent left; throws (the agent must not start) when it cannot. */
  async install(): Promise<void> {
    const { cgroup2, subtrees } = this.options;
    if (cgroup2 === undefined) {
      throw new FirewallError(
        '--block_metadata needs the cgroup2 hierarchy mounted (it matches tasks by their cgroup2 path); this host has none',
      );
    }
    if (this.options.uncovered.length > 0 || subtrees.length === 0) {
      throw new FirewallError(
        `--block_metadata: the ${this.options.uncovered.join(', ')} containerizer cannot put its tasks in the cgroup2 hierarchy here (see the isolation notes), so the firewall would not hold them`,
      );
    }
    for (const binary of this.binaries()) {
      const path = this.options.searchPath ?? process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin';
      if ((await which(binary, path)) === undefined) {
        throw new FirewallError(`--block_metadata needs ${binary}, which is not on the PATH`);
      }
    }
    await this.serially(() => this.replace());
  }

  /** Before a launch: reinstalls the rules if a subtree vanished or was recreated since they were. */
  async ensure(): Promise<void> {
    await this.serially(async () => {
      for (const subtree of this.options.subtrees) {
        if ((await this.inode(subtree.path)) !== this.installedFor.get(subtree.path)) {
          this.options.logger.warn('A task cgroup was recreated: reinstalling the metadata firewall', {
            subtree: subtree.path,
          });
          await this.replace();
          return;
        }
      }
    });
  }

  /** Removes this agent's rules. */
  async remove(): Promise<void> {
    await this.serially(() => this.deleteOwn());
  }

  /**
   * At a stop: the rules go with the agent unless tasks still run (`live`, or still in the subtrees): a
   * stop leaves them running, blocked until a restarted agent takes the rules over.
   */
  async removeUnlessTasksRun(live: boolean): Promise<void> {
    const { logger } = this.options;
    // Ended containers leave their cgroups a moment after their task is terminal.
    for (let wait = 0; !live && wait < 100 && (await this.populated()); wait++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (live || (await this.populated())) {
      logger.info('Tasks still run: the metadata firewall stays until a restarted agent takes it over');
      return;
    }
    try {
      await this.remove();
      logger.info('Metadata firewall removed');
    } catch (error) {
      logger.warn('Removing the metadata firewall failed', { error: String(error) });
    }
  }

  /** Whether any task still lives under the subtrees. */
  async populated(): Promise<boolean> {
    for (const subtree of this.options.subtrees) {
      const events = await readFile(join(this.options.cgroup2 ?? '', subtree.path, 'cgroup.events'), 'utf8').catch(
        () => '',
      );
      if (/^populated 1$/m.test(events)) return true;
    }
    return false;
  }

  private serially(work: () => Promise<void>): Promise<void> {
    const next = this.pending.then(work);
    this.pending = next.catch(() => undefined);
    return next;
  }

  private async inode(path: string): Promise<number | undefined> {
    return stat(join(this.options.cgroup2 ?? '', path)).then(
      (stats) => stats.ino,
      () => undefined,
    );
  }

  private async replace(): Promise<void> {
    const installed = new Map<string, number>();
    for (const subtree of this.options.subtrees) {
      if ((await this.inode(subtree.path)) === undefined) await subtree.create();
      const inode = await this.inode(subtree.path);
      if (inode === undefined) throw new FirewallError(`The task cgroup ${subtree.path} could not be created`);
      installed.set(subtree.path, inode);
    }
    await this.deleteOwn();
    const rules = this.rules;
    // Inserted at the top, in reverse, so that they end up in order before anything that accepts.
    for (const rule of [...rules].reverse()) {
      await this.run(rule.binary, ['-w', '-I', rule.chain, '1', ...rule.spec]).catch((error: Error) => {
        throw new FirewallError(`Cannot install the metadata firewall: ${error.message}`);
      });
    }
    const present = (await this.listOwn()).length;
    if (present !== rules.length) {
      throw new FirewallError(
        `The metadata firewall has ${present} of its ${rules.length} rules after installing them`,
      );
    }
    this.installedFor = installed;
    this.options.logger.info('Metadata firewall installed', {
      targets: this.options.targets.map((target) => `${target.address}${target.port ? `:${target.port}` : ''}`),
      subtrees: [...installed.keys()],
    });
  }

  private async listOwn(): Promise<Array<{ binary: Rule['binary']; chain: Rule['chain']; args: string[] }>> {
    const subtrees = this.options.subtrees.map((subtree) => subtree.path);
    const own: Array<{ binary: Rule['binary']; chain: Rule['chain']; args: string[] }> = [];
    for (const binary of this.binaries()) {
      const targets = this.options.targets.filter((target) => binaryOf(target) === binary);
      for (const chain of ['OUTPUT', 'FORWARD'] as const) {
        const listing = await this.run(binary, ['-w', '-S', chain]);
        for (const args of ownRules(listing, chain, targets, subtrees)) own.push({ binary, chain, args });
      }
    }
    return own;
  }

  private async deleteOwn(): Promise<void> {
    for (const rule of await this.listOwn()) await this.run(rule.binary, ['-w', '-D', rule.chain, ...rule.args]);
  }
}

/**
 * The firewall `--block_metadata` asks for, installed over the containerizers' task cgroups (none
 * without the flag). The agent calls it before it recovers or launches any task.
 */
export async function installMetadataFirewall(
  blockMetadata: readonly string[],
  containerizers: Pick<Containerizers, 'cgroup2' | 'taskCgroups' | 'outsideCgroup2'>,
  logger: Logger,
): Promise<MetadataFirewall | undefined> {
  if (blockMetadata.length === 0) return undefined;
  const targets = parseMetadataTargets(blockMetadata);
  if (!targets.ok) throw new FirewallError(targets.error);
  const firewall = new MetadataFirewall({
    targets: targets.value,
    cgroup2: containerizers.cgroup2,
    subtrees: containerizers.taskCgroups,
    uncovered: containerizers.outsideCgroup2,
    logger,
  });
  await firewall.install();
  return firewall;
}
