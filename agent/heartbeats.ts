/**
 * The agent's heartbeats (Mesos's master pings its agents; here the agent speaks first): every interval
 * a message on the heartbeat queue the registration names. The master answers only when it wants a
 * re-registration (a REREGISTER command).
 */
import type { Logger } from '#shared/log.js';
import type { Metrics } from '#shared/metrics.js';
import type { HeartbeatMessage } from '#shared/protocol/internal.js';
import type { Queues } from '#shared/queues/queues.js';
import { isStopped, type Lifecycle } from './lifecycle.js';
import type { AgentRegistration } from './registration.js';

export interface HeartbeatTarget {
  readonly life: Lifecycle;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Where to beat now; undefined while the agent is not registered or is re-registering (a turn is skipped). */
  current(): { readonly registration: AgentRegistration; readonly queues: Queues } | undefined;
}

export async function heartbeatLoop(target: HeartbeatTarget, intervalMs: number): Promise<void> {
  const { life, metrics, logger } = target;
  while (life.alive) {
    await life.sleep(intervalMs);
    const current = target.current();
    if (!life.alive || !current) continue;
    const { registration, queues } = current;
    try {
      const beat: HeartbeatMessage = { agent_id: { value: registration.agentId }, sent_at: Date.now() };
      await queues.send(registration.heartbeatQueueUrl, [{ body: beat, context: { agent_id: registration.agentId } }]);
      metrics.increment('slave/heartbeats');
    } catch (error) {
      if (isStopped(error)) return;
      metrics.increment('slave/heartbeat_failures');
      logger.warn('Heartbeat failed', { error: String(error) });
    }
  }
}
