/**
 * Calls that change agents and frameworks: DRAIN_AGENT, DEACTIVATE_AGENT, REACTIVATE_AGENT,
 * MARK_AGENT_GONE, TEARDOWN. Each goes through the master's own logic (fleet/drain.ts,
 * fleet/instances.ts, master/lifecycle.ts) and the registrar's conditional writes; the answers and
 * their status codes are Mesos's (`src/master/http.cpp`).
 */
import { z } from 'zod';
import { operatorDrain } from '../fleet/drain.js';
import { markAgentGone } from '../fleet/instances.js';
import { announceRescinds, removeFramework } from '../master/lifecycle.js';
import { operatorCall } from './dispatch.js';
import { badRequest, notFound, OK, refuse } from './responses.js';

const IdSchema = z.object({ value: z.string().min(1) });
const AgentCallSchema = z.object({ agent_id: IdSchema });

/** `google.protobuf.Duration` in JSON: an object `{seconds, nanos}` or a string such as "600s". */
const DurationSchema = z.union([
  z.object({ seconds: z.coerce.number().nonnegative().default(0), nanos: z.number().int().nonnegative().default(0) }),
  z.string().regex(/^\d+(\.\d+)?s$/, "a duration such as '600s'"),
]);

function durationSeconds(duration: z.infer<typeof DurationSchema>): number {
  return typeof duration === 'string' ? Number(duration.slice(0, -1)) : duration.seconds + duration.nanos / 1e9;
}

export const DRAIN_AGENT = operatorCall({
  type: 'DRAIN_AGENT',
  field: 'drain_agent',
  payload: z.object({
    agent_id: IdSchema,
    max_grace_period: DurationSchema.optional(),
    mark_gone: z.boolean().default(false),
  }),
  handle: async (master, { payload }) => {
    const agentId = payload.agent_id.value;
    const refused = await operatorDrain(master, agentId, {
      markGone: payload.mark_gone,
      ...(payload.max_grace_period ? { maxGracePeriodSeconds: durationSeconds(payload.max_grace_period) } : {}),
    });
    if (refused) return badRequest('Unknown agent');
    return OK;
  },
});

export const DEACTIVATE_AGENT = operatorCall({
  type: 'DEACTIVATE_AGENT',
  field: 'deactivate_agent',
  payload: AgentCallSchema,
  handle: async (master, { payload }) => {
    const agentId = payload.agent_id.value;
    const result = await master.registrar.agents.deactivate(agentId);
    if (!result.ok) return badRequest('Unknown agent');
    master.logger.info('Agent deactivated (operator)', { agentId });
    await announceRescinds(master, result.value.rescinded);
    return OK;
  },
});

export const REACTIVATE_AGENT = operatorCall({
  type: 'REACTIVATE_AGENT',
  field: 'reactivate_agent',
  payload: AgentCallSchema,
  handle: async (master, { payload }) => {
    const agentId = payload.agent_id.value;
    const result = await master.registrar.agents.reactivate(agentId);
    if (!result.ok) {
      return badRequest(
        result.error.code === 'UNKNOWN_AGENT' || result.error.code === 'AGENT_GONE'
          ? 'Unknown agent'
          : result.error.message,
      );
    }
    master.logger.info('Agent reactivated (operator)', { agentId });
    await master.allocation.request({ reason: 'RESOURCES_RECOVERED', agentIds: [agentId] });
    return OK;
  },
});

export const MARK_AGENT_GONE = operatorCall({
  type: 'MARK_AGENT_GONE',
  field: 'mark_agent_gone',
  payload: AgentCallSchema,
  handle: async (master, { payload }) => {
    const agentId = payload.agent_id.value;
    const agent = await master.registrar.agents.get(agentId);
    if (!agent) return notFound(`Agent '${agentId}' not found`);
    // Idempotent, as in Mesos: an agent already gone stays gone.
    if (agent.status === 'GONE') return OK;
    const marked = await markAgentGone(master, agent, 'Marked gone by an operator', { byOperator: true });
    if (!marked && (await master.registrar.agents.get(agentId))?.status !== 'GONE') {
      return refuse(503, `Agent '${agentId}' is being transitioned; retry`);
    }
    return OK;
  },
});

export const TEARDOWN = operatorCall({
  type: 'TEARDOWN',
  field: 'teardown',
  payload: z.object({ framework_id: IdSchema }),
  handle: async (master, { payload }) => {
    const frameworkId = payload.framework_id.value;
    const framework = await master.registrar.frameworks.get(frameworkId);
    if (!framework || framework.status === 'REMOVED') return badRequest('No framework found with specified ID');
    if (!(await removeFramework(master, frameworkId, 'Torn down by an operator'))) {
      return badRequest(`No framework found with ID ${frameworkId}`);
    }
    return OK;
  },
});
