/**
 * Framework lifecycle beyond SUBSCRIBE (docs/scheduler-api.md, "SUBSCRIBE and event delivery"): offers rescinded,
 * frameworks deactivated after their reconnect grace and removed after their failover timeout (or on
 * TEARDOWN), their tasks killed. Each step is idempotent, so a sweeper run that dies half-way is simply
 * finished by the next one.
 */
import type { FrameworkRecord, OfferRecord } from '../registrar/index.js';
import { groupBy, mapConcurrently } from '#shared/collections.js';
import type { AgentCommand } from '#shared/protocol/internal.js';
import { isTerminal } from '#shared/tasks/state-machine.js';
import { publishEvents, sendAgentCommands, type Master } from './master.js';
import { masterStatus, updateEvent } from './statuses.js';

/** How long a removal may take before the sweeper takes it for one whose handler died. */
const REMOVAL_GRACE_MS = 5 * 60_000;

/**
 * Agents whose offers one rescindOffers takes back at once: a framework that goes away holds an offer on each agent it
 * was offered (thousands on a large cluster), a write each, which need not wait for one another.
 */
const RESCIND_WRITES_IN_FLIGHT = 16;

/** Takes offers off their agents and tells their frameworks (RESCIND). Returns the offers removed. */
export async function rescindOffers(master: Master, offers: readonly OfferRecord[]): Promise<OfferRecord[]> {
  const byAgent = [...groupBy(offers, (offer) => offer.agentId)];
  const results = await mapConcurrently(byAgent, RESCIND_WRITES_IN_FLIGHT, ([agentId, held]) =>
    master.registrar.agents.removeOffers({ agentId, offerIds: held.map((offer) => offer.offerId) }),
  );
  const removed = results.flatMap((result) => (result.ok ? result.value.removed : []));
  await announceRescinds(master, removed);
  if (removed.length > 0) {
    await master.allocation.request({
      reason: 'RESOURCES_RECOVERED',
      agentIds: [...new Set(removed.map((offer) => offer.agentId))],
    });
  }
  return removed;
}

/** Sends RESCIND for offers already taken off their agents (by the registrar write that removed them). */
export async function announceRescinds(master: Master, offers: readonly OfferRecord[]): Promise<void> {
  const byFramework = new Map<string, OfferRecord[]>();
  for (const offer of offers)
    byFramework.set(offer.frameworkId, [...(byFramework.get(offer.frameworkId) ?? []), offer]);
  for (const [frameworkId, rescinded] of byFramework) {
    const framework = await master.registrar.frameworks.get(frameworkId);
    if (!framework?.eventQueueUrl || framework.status === 'REMOVED') continue;
    await publishEvents(
      master,
      framework,
      rescinded.map((offer) => ({ type: 'RESCIND' as const, rescind: { offer_id: { value: offer.offerId } } })),
    );
    master.metrics.increment('master/offers_rescinded', rescinded.length);
  }
}

/** The reconnect grace is over: stop offering to the framework and take back its offers. */
export async function deactivateFramework(master: Master, framework: FrameworkRecord): Promise<void> {
  if (!framework.streamId) return;
  const result = await master.registrar.frameworks.deactivate(framework.frameworkId, framework.streamId);
  if (!result.ok) return; // it came back (a new stream) meanwhile
  master.logger.info('Framework deactivated', { frameworkId: framework.frameworkId });
  await rescindOffers(master, await master.registrar.agents.offersOf(framework.frameworkId));
}

/**
 * TEARDOWN, or the failover timeout ran out: the framework is removed, its offers rescinded, and every
 * task it still has is killed (TASK_KILLED, REASON_FRAMEWORK_REMOVED, as the Mesos master records it);
 * its agents are told to shut the framework down, and its executors' resources come back.
 */
export async function removeFramework(master: Master, frameworkId: string, why: string): Promise<boolean> {
  const removed = await master.registrar.frameworks.remove(frameworkId);
  if (!removed.ok) return false;
  master.logger.info('Framework removed', { frameworkId, why });
  master.metrics.increment('master/frameworks_removed');
  await finishRemoval(master, removed.value);
  return true;
}

/**
 * The work of a removal after the record says REMOVED, each step idempotent; the record then says it is
 * done. A handler that dies midway leaves it undone, and the sweeper runs it again (sweepFrameworks).
 */
async function finishRemoval(master: Master, framework: FrameworkRecord): Promise<void> {
  await rescindOffers(master, await master.registrar.agents.offersOf(framework.frameworkId));
  await killFrameworkTasks(master, framework);
  await releaseFrameworkExecutors(master, framework.frameworkId);
  // A named queue outlives its framework: the stack may own it, and the next framework of that name uses it.
  if (framework.eventQueueUrl && framework.delivery === 'stream') await master.queues.remove(framework.eventQueueUrl);
  await master.registrar.frameworks.removalDone(framework.frameworkId);
}

async function killFrameworkTasks(master: Master, framework: FrameworkRecord): Promise<void> {
  const held = new Map<string, Array<{ frameworkId: string; taskId: string }>>();
  const running = new Set<string>();
  const now = master.now();
  for await (const task of master.registrar.tasks.listByFramework(framework.frameworkId)) {
    // Terminal tasks too: a removal cut short between a task's kill and its release left it held.
    held.set(task.agentId, [...(held.get(task.agentId) ?? []), { frameworkId: task.frameworkId, taskId: task.taskId }]);
    if (isTerminal(task.state)) continue;
    running.add(task.agentId);
    await master.registrar.tasks.updateStatus(
      framework.frameworkId,
      masterStatus(framework.info, {
        taskId: task.taskId,
        state: 'TASK_KILLED',
        reason: 'REASON_FRAMEWORK_REMOVED',
        message: 'Framework removed',
        agentId: task.agentId,
        now,
      }),
    );
  }
  const released = new Set<string>();
  for (const [agentId, tasks] of held) {
    const result = await master.registrar.agents.releaseTasks({ agentId, tasks });
    if (result.ok && result.value.released.length > 0) released.add(agentId);
  }
  const shutdown: AgentCommand = { type: 'SHUTDOWN_FRAMEWORK', framework_id: { value: framework.frameworkId } };
  // Agents whose tasks were running, or still held (a cut-short removal never told them).
  for (const agentId of new Set([...running, ...released])) {
    const agent = await master.registrar.agents.get(agentId);
    if (agent && agent.status !== 'GONE') await sendAgentCommands(master, agent, [shutdown]);
  }
  if (released.size > 0) await master.allocation.request({ reason: 'RESOURCES_RECOVERED', agentIds: [...released] });
}

/** The framework's executors' resources back, on every agent (its agents were told to shut it down). */
async function releaseFrameworkExecutors(master: Master, frameworkId: string): Promise<void> {
  const released: string[] = [];
  for (const [agentId, executorIds] of await master.registrar.agents.executorsOf(frameworkId)) {
    const executors = executorIds.map((executorId) => ({ frameworkId, executorId }));
    const result = await master.registrar.agents.releaseExecutors({ agentId, executors });
    if (result.ok && result.value.released.length > 0) released.push(agentId);
  }
  if (released.length > 0) await master.allocation.request({ reason: 'RESOURCES_RECOVERED', agentIds: released });
}

/** Tells a framework about its own tasks' master-generated updates (if it is still around). */
export async function notifyFramework(
  master: Master,
  framework: FrameworkRecord,
  statuses: Parameters<typeof updateEvent>[0][],
): Promise<void> {
  if (framework.status === 'REMOVED' || !framework.eventQueueUrl) return;
  await publishEvents(master, framework, statuses.map(updateEvent));
}

/**
 * The framework timers, run by the sweeper: a subscription whose stream stopped saying it is alive is
 * disconnected; a disconnected framework past its reconnect grace is deactivated; an inactive one past
 * its failover_timeout is removed (Mantle starts failover_timeout after the grace: documented deviation);
 * a removal left undone (its handler died) is finished. A queue-delivered framework has no stream to go
 * silent: it is never disconnected, and ends by TEARDOWN.
 */
export async function sweepFrameworks(master: Master): Promise<{ deactivated: number; removed: number }> {
  const now = master.now();
  const { config } = master;
  const silentAfter = 3 * config.heartbeatIntervalSeconds * 1000;
  let deactivated = 0;
  let removed = 0;
  for await (const framework of master.registrar.frameworks.list()) {
    const silent = framework.delivery === 'stream' && (framework.streamSeenAt ?? 0) + silentAfter < now;
    if (framework.status === 'SUBSCRIBED' && framework.streamId && silent) {
      await master.registrar.frameworks.disconnect(framework.frameworkId, framework.streamId);
    } else if (
      framework.status === 'DISCONNECTED' &&
      (framework.disconnectedAt ?? 0) + config.reconnectGraceSeconds * 1000 <= now
    ) {
      await deactivateFramework(master, framework);
      deactivated++;
    } else if (
      framework.status === 'REMOVED' &&
      !framework.removalDone &&
      (framework.removedAt ?? 0) + REMOVAL_GRACE_MS <= now
    ) {
      master.logger.warn('Finishing a framework removal left undone', { frameworkId: framework.frameworkId });
      await finishRemoval(master, framework);
    } else if (framework.status === 'INACTIVE') {
      const failover = (framework.info.failover_timeout ?? 0) * 1000;
      if ((framework.deactivatedAt ?? 0) + failover <= now) {
        if (await removeFramework(master, framework.frameworkId, 'failover_timeout expired')) removed++;
      }
    }
  }
  return { deactivated, removed };
}
