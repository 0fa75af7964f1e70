/**
 * Identifiers the master assigns. Mesos uses `<master-id>-S<n>` for agents and `<master-id>-<nnnn>` for
 * frameworks, with a counter in the master's memory; Mantle has no master process, so the counter is
 * replaced by a time-ordered random suffix (unique without coordination, sortable when debugging).
 * An offer id embeds its agent id, so ACCEPT finds the agent ledger without a lookup table. The keys
 * and id rules the registrar and the allocator share are here too.
 */
import { randomBytes, randomUUID } from 'node:crypto';

function suffix(): string {
  return `${Date.now().toString(36)}${randomBytes(6).toString('hex')}`;
}

export function newClusterId(): string {
  return randomUUID();
}

export function newAgentId(clusterId: string): string {
  return `${clusterId}-S${suffix()}`;
}

export function newFrameworkId(clusterId: string): string {
  return `${clusterId}-F${suffix()}`;
}

const OFFER_MARK = '-O';

export function newOfferId(agentId: string): string {
  return `${agentId}${OFFER_MARK}${suffix()}`;
}

/** The agent an offer id was made on, or undefined for ids Mantle did not make. */
export function agentIdOfOffer(offerId: string): string | undefined {
  const at = offerId.lastIndexOf(OFFER_MARK);
  if (at <= 0) return undefined;
  const tail = offerId.slice(at + OFFER_MARK.length);
  return /^[0-9a-z]+$/.test(tail) ? offerId.slice(0, at) : undefined;
}

/** A task's key across frameworks: Mesos task ids are unique per framework, not per cluster. */
export function taskKey(frameworkId: string, taskId: string): string {
  return `${frameworkId}/${taskId}`;
}

/**
 * Mesos id rules (task ids, and other framework-chosen ids such as a framework's own on SUBSCRIBE): not
 * empty, at most 255 characters, no '/', '\', control characters.
 */
export function validateTaskId(taskId: string, what = 'Task ID'): string | undefined {
  if (taskId === '') return `${what} must not be empty`;
  if (taskId.length > 255) return `${what} is longer than 255 characters`;
  if (taskId === '.' || taskId === '..') return `${what} '${taskId}' is reserved`;
  // eslint-disable-next-line no-control-regex
  if (/[/\\\u0000-\u001f\u007f]/.test(taskId)) return `${what} '${taskId}' contains '/', '\\' or a control character`;
  return undefined;
}

/** A refused-offer filter's key within its framework: one filter per role and agent (roles hold no spaces). */
export function filterKey(role: string, agentId: string): string {
  return `${role} ${agentId}`;
}

/** A fresh Mesos-Stream-Id (a UUID, as Mesos sends). */
export function newStreamId(): string {
  return randomUUID();
}
