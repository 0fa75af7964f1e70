/**
 * RESERVE_RESOURCES, UNRESERVE_RESOURCES, CREATE_VOLUMES, DESTROY_VOLUMES, GROW_VOLUME and SHRINK_VOLUME:
 * an operator converts an
 * agent's unallocated resources, as Mesos's master does (`src/master/http.cpp`). Each decides with
 * conversion-plan.ts (400 for an unknown agent or an invalid operation, 409 when the agent does not
 * have the resources unallocated) and writes the agent's total through the registrar in one
 * conditional write that also takes back the offers it needs (announced as RESCIND). Then the agent is
 * told to remove destroyed volumes' data, and an allocation pass offers what changed: a reservation to
 * its role's frameworks, an unreserved resource to every role. 202 Accepted, as Mesos answers.
 *
 * The route lets only operators call them (403 for framework and agent principals); with
 * authentication on, the reservation or volume must name the operator as its principal (400).
 */
import { z } from 'zod';
import { ResourceSchema } from '#shared/protocol/mesos.js';
import type { Failure } from '#shared/result.js';
import { announceRescinds } from '../master/lifecycle.js';
import { sendAgentCommands, type Master } from '../master/master.js';
import { planConversion, validateConversion, type Conversion, type ConversionCall } from './conversion-plan.js';
import { operatorCall, type OperatorCaller } from './dispatch.js';
import { ACCEPTED, badRequest, conflict, type OperatorResponse } from './responses.js';

const IdSchema = z.object({ value: z.string().min(1) });
const ResourceList = z.array(ResourceSchema);

/** Decides and writes one conversion on `agentId`; what to answer. */
async function convert(
  master: Master,
  agentId: string,
  call: ConversionCall,
  caller: OperatorCaller,
): Promise<OperatorResponse> {
  let decided: Conversion | undefined;
  const result = await master.registrar.agents.convert<Failure<'INVALID' | 'CONFLICT'>>(agentId, (agent) => {
    const conversion = validateConversion(call, agent, caller.authority.principal);
    if (!conversion.ok) return conversion;
    decided = conversion.value;
    return planConversion(agent, conversion.value);
  });
  if (!result.ok) {
    const { code, message } = result.error;
    master.logger.info('Operator conversion refused', { agentId, type: call.type, why: message });
    if (code === 'UNKNOWN_AGENT') return badRequest('No agent found with specified ID');
    if (code === 'CONFLICT') return conflict(message);
    return badRequest(`Invalid ${call.type} operation: ${message}`);
  }
  const { agent, rescinded } = result.value;
  master.logger.info('Operator converted agent resources', {
    agentId,
    type: call.type,
    rescinded: rescinded.length,
    ...(caller.authority.principal ? { principal: caller.authority.principal } : {}),
  });
  await announceRescinds(master, rescinded);
  const destroyed = decided?.destroyed ?? [];
  if (destroyed.length > 0)
    await sendAgentCommands(master, agent, [{ type: 'DESTROY_VOLUMES', volumes: [...destroyed] }]);
  await master.allocation.request({ reason: 'RESOURCES_RECOVERED', agentIds: [agentId] });
  return ACCEPTED;
}

export const RESERVE_RESOURCES = operatorCall({
  type: 'RESERVE_RESOURCES',
  field: 'reserve_resources',
  payload: z.object({ agent_id: IdSchema, source: ResourceList.optional(), resources: ResourceList }),
  handle: (master, { payload }, caller) =>
    convert(
      master,
      payload.agent_id.value,
      {
        type: 'RESERVE',
        resources: payload.resources,
        ...(payload.source ? { source: payload.source } : {}),
      },
      caller,
    ),
});

export const UNRESERVE_RESOURCES = operatorCall({
  type: 'UNRESERVE_RESOURCES',
  field: 'unreserve_resources',
  payload: z.object({ agent_id: IdSchema, resources: ResourceList }),
  handle: (master, { payload }, caller) =>
    convert(master, payload.agent_id.value, { type: 'UNRESERVE', resources: payload.resources }, caller),
});

export const CREATE_VOLUMES = operatorCall({
  type: 'CREATE_VOLUMES',
  field: 'create_volumes',
  payload: z.object({ agent_id: IdSchema, volumes: ResourceList }),
  handle: (master, { payload }, caller) =>
    convert(master, payload.agent_id.value, { type: 'CREATE', volumes: payload.volumes }, caller),
});

export const DESTROY_VOLUMES = operatorCall({
  type: 'DESTROY_VOLUMES',
  field: 'destroy_volumes',
  payload: z.object({ agent_id: IdSchema, volumes: ResourceList }),
  handle: (master, { payload }, caller) =>
    convert(master, payload.agent_id.value, { type: 'DESTROY', volumes: payload.volumes }, caller),
});

/** Mesos's `agent_id` is optional for volumes of resource providers, which Mantle has none of. */
function agentIdOf(payload: { agent_id?: { value: string } | undefined }): string | undefined {
  return payload.agent_id?.value;
}

export const GROW_VOLUME = operatorCall({
  type: 'GROW_VOLUME',
  field: 'grow_volume',
  payload: z.object({ agent_id: IdSchema.optional(), volume: ResourceSchema, addition: ResourceSchema }),
  handle: (master, { payload }, caller) => {
    const agentId = agentIdOf(payload);
    if (agentId === undefined) return Promise.resolve(badRequest("Expecting 'grow_volume.agent_id' to be present"));
    return convert(master, agentId, { type: 'GROW', volume: payload.volume, addition: payload.addition }, caller);
  },
});

export const SHRINK_VOLUME = operatorCall({
  type: 'SHRINK_VOLUME',
  field: 'shrink_volume',
  payload: z.object({
    agent_id: IdSchema.optional(),
    volume: ResourceSchema,
    subtract: z.object({ value: z.number() }),
  }),
  handle: (master, { payload }, caller) => {
    const agentId = agentIdOf(payload);
    if (agentId === undefined) return Promise.resolve(badRequest("Expecting 'shrink_volume.agent_id' to be present"));
    const call = { type: 'SHRINK' as const, volume: payload.volume, subtract: payload.subtract.value };
    return convert(master, agentId, call, caller);
  },
});

export const RESERVATION_CALLS = [
  RESERVE_RESOURCES,
  UNRESERVE_RESOURCES,
  CREATE_VOLUMES,
  DESTROY_VOLUMES,
  GROW_VOLUME,
  SHRINK_VOLUME,
];
