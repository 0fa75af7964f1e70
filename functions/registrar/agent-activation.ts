/**
 * An operator deactivates and reactivates agents (Mesos DEACTIVATE_AGENT, REACTIVATE_AGENT): each a
 * pure change of the agent's item, as agent-changes.ts keeps the others, and the reading of why a
 * change was refused from the item as it was.
 */
import { agentFromItem, type AgentRecord } from './agent-records.js';
import { failure, type RegistrarError } from './errors.js';
import { Expression, type Item, type ItemChange } from './expression.js';
import type { OfferRecord } from './ledger.js';

/** No new offers on the agent; its outstanding ones are taken back in the same write. Not for a gone agent. */
export function deactivateChange(): ItemChange {
  const x = new Expression();
  const version = x.name('version');
  return {
    update:
      `SET ${x.name('deactivated')} = ${x.value(true)}, ${x.name('offers')} = ${x.value({})}, ` +
      `${version} = ${version} + ${x.value(1)}`,
    condition: `attribute_exists(${x.name('agent_id')}) AND ${x.name('status')} <> ${x.value('GONE')}`,
    expression: x,
  };
}

export function deactivated(old: Item): { agent: AgentRecord; rescinded: OfferRecord[] } {
  const before = agentFromItem(old);
  return {
    agent: { ...before, deactivated: true, offers: {}, version: before.version + 1 },
    rescinded: Object.values(before.offers),
  };
}

/**
 * Offers again: only a deactivated agent, and not while a drain still has tasks to end (Mesos: "Agent
 * is still in the DRAINING state"). The drain, if any, is over.
 */
export function reactivateChange(): ItemChange {
  const x = new Expression();
  const version = x.name('version');
  const tasks = x.name('tasks');
  return {
    update: `SET ${x.name('deactivated')} = ${x.value(false)}, ${version} = ${version} + ${x.value(1)} REMOVE ${x.name('drain')}`,
    condition:
      `attribute_exists(${x.name('agent_id')}) AND ${x.name('status')} <> ${x.value('GONE')} AND ` +
      `${x.name('deactivated')} = ${x.value(true)} AND ` +
      `(attribute_not_exists(${x.name('drain')}) OR attribute_not_exists(${tasks}) OR size(${tasks}) = ${x.value(0)})`,
    expression: x,
  };
}

export type ActivationError = RegistrarError<'UNKNOWN_AGENT' | 'AGENT_GONE' | 'AGENT_NOT_ACTIVE'>;

/** Why a deactivation or reactivation was refused, from the item as it was. */
export function activationRefusal(
  agentId: string,
  old: Item | undefined,
): { readonly ok: false; readonly error: ActivationError } {
  if (!old) return failure('UNKNOWN_AGENT', `Agent ${agentId} is not registered`);
  const agent = agentFromItem(old);
  if (agent.status === 'GONE') return failure('AGENT_GONE', `Agent ${agentId} is gone`);
  if (!agent.deactivated) return failure('AGENT_NOT_ACTIVE', 'Agent is not deactivated');
  return failure('AGENT_NOT_ACTIVE', 'Agent is still in the DRAINING state');
}
