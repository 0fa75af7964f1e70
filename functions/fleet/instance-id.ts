/**
 * An agent on EC2 carries its instance id as the attribute `instance_id` (the launch template's user
 * data sets it): the tie between an agent and the instance it runs on. Pure.
 */
import type { Attribute } from '#shared/protocol/mesos.js';

export const INSTANCE_ID_ATTRIBUTE = 'instance_id';

export function instanceIdOf(agent: { readonly attributes: readonly Attribute[] }): string | undefined {
  const attribute = agent.attributes.find((a) => a.name === INSTANCE_ID_ATTRIBUTE && a.type === 'TEXT');
  return attribute?.text?.value;
}
