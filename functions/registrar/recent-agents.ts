/**
 * Where agents' commands go, as this process read them lately, for the paths that send an agent a command per call
 * or per status batch (acknowledgements: three a task). An agent's command queue never changes and GONE is for good,
 * so a GONE agent is kept as read; any other is read again after `ttlMs`, so that an agent another process marked
 * gone is seen as gone within `ttlMs`. A send meanwhile goes to a queue that is being deleted: it lands there, or
 * fails, and the sender then `forget`s the agent and reads it again (master.ts, `sendToAgent`). Callers asking for
 * the same agent while it is being read share that read.
 */
import type { AgentStatusView } from './agent-records.js';
import type { AgentRegistry } from './agents.js';
import { RecentReads } from './recent-reads.js';

export class RecentAgents {
  private readonly reads: RecentReads<AgentStatusView | undefined>;

  constructor(agents: Pick<AgentRegistry, 'statuses'>, ttlMs: number, now: () => number) {
    this.reads = new RecentReads(
      async (agentId) => (await agents.statuses([agentId])).get(agentId),
      // An unknown agent is not kept: it may be one registering now.
      (view) => (view === undefined ? undefined : view.status === 'GONE' ? Number.POSITIVE_INFINITY : ttlMs),
      now,
    );
  }

  /** The agent as read at most `ttlMs` ago, or GONE as read at any time (undefined: not registered then). */
  get(agentId: string): Promise<AgentStatusView | undefined> {
    return this.reads.get(agentId);
  }

  /** Drops what was read of the agent (a send to it failed): the next `get` reads it. */
  forget(agentId: string): void {
    this.reads.forget(agentId);
  }
}
