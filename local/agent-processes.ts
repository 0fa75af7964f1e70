/**
 * A local cluster's agents in child processes (local/agent-host.ts) instead of the master's: the master's
 * handlers, the stand-ins and the agents then run on cores of their own. Each child talks to the master
 * and the queues over loopback, as `mantle agent` from another shell does; the cluster only hands it the
 * agents' configurations and the credential (in its environment), and stops it with the cluster.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { AgentConfig } from '../agent/config.js';
import { childEntry } from './children.js';
import { hostReply, type HostReply, type HostRequest } from './agent-host-protocol.js';

export interface AgentProcess {
  readonly pid: number;
  /** The ids of its agents, in the order of their configurations. */
  readonly agentIds: readonly string[];
  /** The child's own CPU use so far (its tasks' are not in it). */
  cpuUsage(): Promise<NodeJS.CpuUsage>;
  /** Stops its agents (as the cluster would in process) and waits for the child to exit. */
  stop(): Promise<void>;
}

export interface AgentProcessOptions {
  readonly configs: readonly AgentConfig[];
  /** Added to the child's environment: the agents' credential, when authentication is on. */
  readonly env: NodeJS.ProcessEnv;
  /** A persistent cluster's agents leave their tasks running when stopped; a throwaway one's kill them. */
  readonly persist: boolean;
  readonly onRegistered?: (index: number, agentId: string) => void;
  /** How long a stop waits for the agents before the child is killed. */
  readonly stopTimeoutMs?: number;
}

export async function startAgentProcess(options: AgentProcessOptions): Promise<AgentProcess> {
  const { file, execArgv } = childEntry(import.meta.url, 'agent-host');
  const child: ChildProcess = fork(file, [], {
    execArgv,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'json',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const waiting = new Set<(reply: HostReply) => boolean>();
  let lastError: string | undefined;
  child.on('message', (raw) => {
    const parsed = hostReply.safeParse(raw);
    const reply: HostReply = parsed.success
      ? parsed.data
      : { type: 'error', message: `the agent host sent an unknown message: ${parsed.error.message}` };
    if (reply.type === 'error') lastError = reply.message;
    for (const wait of [...waiting]) if (wait(reply)) waiting.delete(wait);
  });
  const send = (request: HostRequest) => child.send(request);
  /** Resolves with the first reply `pick` takes; rejects when the child reports an error or exits first. */
  const next = <T>(pick: (reply: HostReply) => T | undefined): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const wait = (reply: HostReply) => {
        if (reply.type === 'error') {
          reject(new Error(`agent host: ${reply.message}`));
          return true;
        }
        const value = pick(reply);
        if (value === undefined) return false;
        resolve(value);
        return true;
      };
      waiting.add(wait);
      void exited.then(() => {
        if (!waiting.delete(wait)) return;
        reject(
          new Error(
            `the agent host exited (${child.exitCode ?? child.signalCode})${lastError ? `: ${lastError}` : ''}`,
          ),
        );
      });
    });

  const agentIds: string[] = [];
  const registered = next((reply) => {
    if (reply.type === 'registered') {
      agentIds[reply.index] = reply.agentId;
      options.onRegistered?.(reply.index, reply.agentId);
    }
    return reply.type === 'ready' ? true : undefined;
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (child.connected) send({ type: 'stop' });
    const timeout = setTimeout(() => child.kill('SIGKILL'), options.stopTimeoutMs ?? 15_000);
    await exited;
    clearTimeout(timeout);
  };
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    send({ type: 'start', persist: options.persist, configs: [...options.configs] });
    await registered;
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    pid: child.pid as number,
    agentIds,
    cpuUsage: () => {
      const usage = next((reply) => (reply.type === 'usage' ? { user: reply.user, system: reply.system } : undefined));
      send({ type: 'usage' });
      return usage;
    },
    stop,
  };
}
