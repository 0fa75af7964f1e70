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

/** Bounds the memory a process with very many agents spends on this. */
const MAX_ENTRIES = 10_000;

export class RecentAgents {
  private readonly entries = new Map<string, { readonly view: AgentStatusView; readonly until: number }>();
  private readonly reading = new Map<string, Promise<AgentStatusView | undefined>>();

  constructor(
    private readonly agents: Pick<AgentRegistry, 'statuses'>,
    readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  /** The agent as read at most `ttlMs` ago, or GONE as read at any time (undefined: not registered then). */
  async get(agentId: string): Promise<AgentStatusView | undefined> {
    const now = this.now();
    const kept = this.entries.get(agentId);
    if (kept && kept.until > now) return kept.view;
    const shared = this.reading.get(agentId);
    if (shared) return shared;
    const read = this.agents.statuses([agentId]).then((found) => {
      const view = found.get(agentId);
      // An unknown agent is not kept: it may be one registering now.
      if (view && this.reading.get(agentId) === read) {
        if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
        this.entries.set(agentId, {
          view,
          until: view.status === 'GONE' ? Number.POSITIVE_INFINITY : now + this.ttlMs,
        });
      }
      return view;
    });
    const done = () => {
      if (this.reading.get(agentId) === read) this.reading.delete(agentId);
    };
    read.then(done, done);
    this.reading.set(agentId, read);
    return read;
  }

  /** Drops what was read of the agent (a send to it failed): the next `get` reads it. */
  forget(agentId: string): void {
    this.entries.delete(agentId);
    this.reading.delete(agentId);
  }
}
