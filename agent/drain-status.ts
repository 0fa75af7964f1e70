/**
 * The end of a drain (Mesos `Slave::updateDrainStatus`): once every task is terminal and its terminal
 * update acknowledged, the agent reports DRAINED and forgets the drain, as Mesos's agent removes its
 * DrainConfig. The master keeps the agent deactivated; after REACTIVATE_AGENT its launches run again.
 */
import type { AgentContext } from './context.js';

export class DrainStatus {
  private sending = false;

  constructor(
    private readonly context: Pick<AgentContext, 'state' | 'executors' | 'updates' | 'saveState' | 'logger'>,
  ) {}

  /**
   * Sends DRAINED (`send`; undefined while the agent is not registered) if the drain is done. The drain
   * is forgotten only once DRAINED is sent: an agent that dies in between sends it again, which the
   * master takes as it took the first.
   */
  async check(send: (() => Promise<unknown>) | undefined): Promise<void> {
    const { context } = this;
    const draining = context.state.draining;
    if (!draining || this.sending || !send) return;
    if (context.executors.size > 0 || context.updates.unacknowledged > 0) return;
    this.sending = true;
    try {
      await send();
      if (context.state.draining === draining) delete context.state.draining;
      await context.saveState();
    } finally {
      this.sending = false;
    }
    context.logger.info('Drained; the drain is over');
  }
}
