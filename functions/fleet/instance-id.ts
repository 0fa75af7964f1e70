/**
 * An agent on EC2 carries its instance id as the attribute `instance_id`: the tie between an agent and
 * the instance it runs on, which drains, scale-in protection and the sweeper's EC2 check follow. With
 * agent identity (`aws-sts`) the master derives it from the agent's role session; otherwise the agent
 * reports it (the launch template's user data sets it). The role session of that instance,
 * `<role id>:<instance id>`, is what SQS stamps as the SenderId of the agent's messages. Pure.
 */
import type { Attribute } from '#shared/protocol/mesos.js';
import { err, ok, type Result } from '#shared/result.js';

export const INSTANCE_ID_ATTRIBUTE = 'instance_id';

export function instanceIdOf(agent: { readonly attributes: readonly Attribute[] }): string | undefined {
  const attribute = agent.attributes.find((a) => a.name === INSTANCE_ID_ATTRIBUTE && a.type === 'TEXT');
  return attribute?.text?.value;
}

/** The `aws:userid` of the agents' role on one instance (EC2 names the role session after the instance). */
export function agentSessionId(roleId: string, instanceId: string): string {
  return `${roleId}:${instanceId}`;
}

/**
 * The attributes of an agent whose instance the master derived: the reported `instance_id`, if any,
 * must be that instance (a mismatch is refused), and is set to it either way.
 */
export function boundAttributes(reported: readonly Attribute[], instanceId: string): Result<Attribute[], string> {
  const claimed = instanceIdOf({ attributes: reported });
  if (claimed !== undefined && claimed !== instanceId) {
    return err(`The agent reports instance_id ${claimed}, but its AWS identity is instance ${instanceId}`);
  }
  return ok([
    ...reported.filter((a) => a.name !== INSTANCE_ID_ATTRIBUTE),
    { name: INSTANCE_ID_ATTRIBUTE, type: 'TEXT', text: { value: instanceId } },
  ]);
}

/**
 * Who may speak for an agent on the queues: the role session recorded at its registration, or —
 * for an agent registered before sessions were recorded — the session of the role (when known) on the
 * instance it reported. Undefined: the agent is not bound to an instance (off EC2), anyone may.
 */
export function expectedSender(
  agent: { readonly attributes: readonly Attribute[]; readonly instanceSession?: string },
  roleId: string | undefined,
): string | undefined {
  if (agent.instanceSession !== undefined) return agent.instanceSession;
  const instance = instanceIdOf(agent);
  return roleId !== undefined && instance !== undefined ? agentSessionId(roleId, instance) : undefined;
}

/** True when a message stamped with `senderId` may speak for an agent bound to `expected` (the whole session). */
export function sentBy(expected: string | undefined, senderId: string | undefined): boolean {
  return expected === undefined || senderId === expected;
}
