/**
 * Every scheduler call but SUBSCRIBE (spec §1.5), for a framework already checked to be subscribed on
 * the caller's stream. Asynchronous calls answer 202 (acceptance, not completion: outcomes arrive as
 * events); UPDATE_FRAMEWORK answers synchronously.
 *
 * A framework can only touch its own offers and tasks: offers are checked against the framework in the
 * ledger write, and tasks are looked up under the framework's own id (another framework's task id is
 * simply unknown to it).
 */
import { validateOfferConstraints } from '../allocator/constraints.js';
import { agentIdOfOffer } from '../../shared/ids.js';
import type { Call } from '../../shared/protocol/scheduler.js';
import type { FrameworkRecord } from '../registrar/index.js';
import { isTerminal } from '../../shared/tasks/state-machine.js';
import { announceRescinds, removeFramework } from '../master/lifecycle.js';
import { publishEvents, sendAgentCommands, type Master } from '../master/master.js';
import { accept } from './accept.js';
import { installFilters } from './recover.js';
import { ACCEPTED, badRequest, type CallResponse } from './responses.js';
import { reconcile } from './reconcile.js';
import type { FrameworkCall } from './validation.js';

export async function handleCall(
  master: Master,
  framework: FrameworkRecord,
  call: FrameworkCall,
): Promise<CallResponse> {
  const frameworkId = framework.frameworkId;
  master.metrics.increment(`master/frameworks/calls/${call.type ?? 'UNKNOWN'}`);
  switch (call.type) {
    case 'TEARDOWN':
      await removeFramework(master, frameworkId, 'TEARDOWN');
      return ACCEPTED;

    case 'ACCEPT':
      return accept(master, framework, call);

    case 'DECLINE':
      await decline(master, framework, call.decline);
      return ACCEPTED;

    case 'REVIVE': {
      const roles = call.revive?.roles ?? [];
      const result = await master.registrar.frameworks.revive(frameworkId, roles);
      if (!result.ok) return badRequest(result.error.message);
      // Mesos clears every filter of the revived roles.
      await master.registrar.filters.clear(frameworkId, roles.length > 0 ? roles : undefined);
      master.metrics.increment('master/messages_revive_offers');
      await master.allocation.request({ reason: 'REVIVE', frameworkId });
      return ACCEPTED;
    }

    case 'SUPPRESS': {
      const result = await master.registrar.frameworks.suppress(frameworkId, call.suppress?.roles ?? []);
      if (!result.ok) return badRequest(result.error.message);
      master.metrics.increment('master/messages_suppress_offers');
      return ACCEPTED;
    }

    case 'KILL':
      await kill(master, framework, call.kill);
      return ACCEPTED;

    case 'SHUTDOWN': {
      const { executor_id, agent_id } = call.shutdown;
      const agent = await master.registrar.agents.get(agent_id.value);
      if (agent && agent.status !== 'GONE') {
        await sendAgentCommands(master, agent, [
          { type: 'SHUTDOWN_EXECUTOR', framework_id: { value: frameworkId }, executor_id },
        ]);
      }
      return ACCEPTED;
    }

    case 'ACKNOWLEDGE': {
      const { agent_id, task_id, uuid } = call.acknowledge;
      const task = await master.registrar.tasks.get(frameworkId, task_id.value);
      const agent =
        task && task.agentId === agent_id.value ? await master.registrar.agents.get(agent_id.value) : undefined;
      if (!task || !agent || agent.status === 'GONE') {
        // Mesos drops such acknowledgements (still 202) and counts them.
        master.metrics.increment('master/invalid_status_update_acknowledgements');
        return ACCEPTED;
      }
      await sendAgentCommands(master, agent, [
        { type: 'ACKNOWLEDGE', framework_id: { value: frameworkId }, task_id, uuid },
      ]);
      await master.registrar.tasks.acknowledge(frameworkId, task_id.value, uuid);
      master.metrics.increment('master/valid_status_update_acknowledgements');
      return ACCEPTED;
    }

    case 'RECONCILE':
      await reconcile(master, framework, call.reconcile.tasks ?? []);
      return ACCEPTED;

    case 'MESSAGE': {
      const { agent_id, executor_id, data } = call.message;
      const agent = await master.registrar.agents.get(agent_id.value);
      if (agent?.status === 'ACTIVE') {
        await sendAgentCommands(master, agent, [
          { type: 'FRAMEWORK_MESSAGE', framework_id: { value: frameworkId }, executor_id, data },
        ]);
      }
      return ACCEPTED;
    }

    case 'REQUEST': {
      const result = await master.registrar.frameworks.recordRequests(frameworkId, call.request.requests ?? []);
      if (!result.ok) return badRequest(result.error.message);
      return ACCEPTED;
    }

    case 'UPDATE_FRAMEWORK': {
      const update = call.update_framework;
      const constraintsError = update.offer_constraints
        ? validateOfferConstraints(update.offer_constraints)
        : undefined;
      if (constraintsError) return badRequest(`Invalid offer constraints: ${constraintsError}`);
      const result = await master.registrar.frameworks.update({
        frameworkId,
        info: framework.principal
          ? { ...update.framework_info, principal: framework.principal }
          : update.framework_info,
        ...(update.suppressed_roles ? { suppressedRoles: update.suppressed_roles } : {}),
        ...(update.offer_constraints ? { offerConstraints: update.offer_constraints } : {}),
      });
      if (!result.ok) {
        return result.error.code === 'INVALID_ARGUMENT'
          ? badRequest(result.error.message)
          : { status: 409, body: result.error.message };
      }
      const { removedRoles } = result.value;
      if (removedRoles.length > 0) {
        const offers = await master.registrar.agents.offersOf(frameworkId);
        await rescind(
          master,
          offers.filter((offer) => removedRoles.includes(offer.role)),
        );
        await master.registrar.filters.clear(frameworkId, removedRoles);
      }
      await master.allocation.request({ reason: 'REVIVE', frameworkId });
      return { status: 200 };
    }

    case 'RECONCILE_OPERATIONS': {
      // Mantle keeps no operation records past their feedback: every operation asked about is unknown.
      const operations = call.reconcile_operations.operations ?? [];
      await publishEvents(
        master,
        framework,
        operations.map((operation) => ({
          type: 'UPDATE_OPERATION_STATUS' as const,
          update_operation_status: {
            status: {
              operation_id: operation.operation_id,
              state: 'OPERATION_UNKNOWN' as const,
              ...(operation.agent_id ? { agent_id: operation.agent_id } : {}),
            },
          },
        })),
      );
      return ACCEPTED;
    }

    // Inverse offers (maintenance) are advisory, and operation feedback is not retried: nothing to do.
    case 'ACCEPT_INVERSE_OFFERS':
    case 'DECLINE_INVERSE_OFFERS':
    case 'ACKNOWLEDGE_OPERATION_STATUS':
      return ACCEPTED;
  }
}

async function rescind(master: Master, offers: Awaited<ReturnType<Master['registrar']['agents']['offersOf']>>) {
  const byAgent = new Map<string, string[]>();
  for (const offer of offers) byAgent.set(offer.agentId, [...(byAgent.get(offer.agentId) ?? []), offer.offerId]);
  for (const [agentId, offerIds] of byAgent) {
    const removed = await master.registrar.agents.removeOffers({ agentId, offerIds });
    if (removed.ok) await announceRescinds(master, removed.value.removed);
  }
}

/**
 * DECLINE: the offers' resources go back, filtered for this framework for refuse_seconds. Offers that
 * are gone are ignored, as Mesos ignores them; offers of other frameworks are not touched.
 */
async function decline(
  master: Master,
  framework: FrameworkRecord,
  decline: NonNullable<Call['decline']>,
): Promise<void> {
  const byAgent = new Map<string, string[]>();
  for (const { value } of decline.offer_ids ?? []) {
    const agentId = agentIdOfOffer(value);
    if (agentId) byAgent.set(agentId, [...(byAgent.get(agentId) ?? []), value]);
  }
  const recovered = [];
  for (const [agentId, offerIds] of byAgent) {
    const result = await master.registrar.agents.removeOffers({
      agentId,
      offerIds,
      frameworkId: framework.frameworkId,
    });
    if (!result.ok) continue; // another framework's offer among them: nothing declined on that agent
    recovered.push(...result.value.removed.map((offer) => ({ role: offer.role, agentId, resources: offer.resources })));
  }
  if (recovered.length > 0) {
    await installFilters(master, framework.frameworkId, decline.filters?.refuse_seconds, recovered);
  }
  master.metrics.increment('master/messages_decline_offers');
}

/**
 * KILL: an unknown (or finished) task is answered by explicit reconciliation, as Mesos does; a task on
 * another agent than the one named is ignored; otherwise the agent kills it (it remembers kills for
 * tasks it has not launched yet: TASK_KILLED, REASON_TASK_KILLED_DURING_LAUNCH). A kill for an
 * unreachable agent waits in its queue until it comes back.
 */
async function kill(master: Master, framework: FrameworkRecord, kill: NonNullable<Call['kill']>): Promise<void> {
  master.metrics.increment('master/messages_kill_task');
  const task = await master.registrar.tasks.get(framework.frameworkId, kill.task_id.value);
  if (!task || isTerminal(task.state)) {
    await reconcile(master, framework, [
      { task_id: kill.task_id, ...(kill.agent_id ? { agent_id: kill.agent_id } : {}) },
    ]);
    return;
  }
  if (kill.agent_id && kill.agent_id.value !== task.agentId) return;
  const agent = await master.registrar.agents.get(task.agentId);
  if (!agent || agent.status === 'GONE') return;
  await sendAgentCommands(master, agent, [
    {
      type: 'KILL',
      framework_id: { value: framework.frameworkId },
      task_id: kill.task_id,
      ...(kill.kill_policy ? { kill_policy: kill.kill_policy } : {}),
    },
  ]);
}
