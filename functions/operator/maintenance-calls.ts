/**
 * The operator API's maintenance calls (Mesos `docs/maintenance.md`, `master.proto`): GET_MAINTENANCE_STATUS,
 * GET_MAINTENANCE_SCHEDULE, UPDATE_MAINTENANCE_SCHEDULE, START_MAINTENANCE, STOP_MAINTENANCE. The changes
 * are decided by functions/maintenance/schedule.ts and written conditioned on the version read; a change
 * Mesos refuses answers 400 with Mesos's message and writes nothing. Successful changes answer 200, as
 * Mesos's master does.
 *
 * What follows a change: inverse offers of machines that left DRAINING are rescinded; offers outstanding
 * on agents whose machine began DRAINING are rescinded, to come back with the unavailability, and an
 * allocation pass sends the inverse offers; START_MAINTENANCE removes the agents of the machines it brings
 * down (their tasks TASK_GONE, or TASK_LOST without PARTITION_AWARE; the agent, told it is gone, is then
 * refused registration while its machine is DOWN and stops, as Mesos's ShutdownMessage stops it).
 */
import { z } from 'zod';
import { UnavailabilitySchema } from '#shared/protocol/mesos.js';
import { announceRescinds } from '../master/lifecycle.js';
import { publishEvents, type Master } from '../master/master.js';
import { markAgentGone } from '../fleet/instances.js';
import { rescindInverseOfferEvent } from '../maintenance/inverse-offers.js';
import {
  clusterStatus,
  machineOfAgent,
  startMaintenance,
  stopMaintenance,
  updateSchedule,
  type MachineId,
  type MaintenanceChange,
  type MaintenanceRecord,
} from '../maintenance/schedule.js';
import type { AgentRecord } from '../registrar/index.js';
import { operatorCall } from './dispatch.js';
import { badRequest, OK, respond, type OperatorResponse } from './responses.js';

const MachineIdSchema = z.object({ hostname: z.string().optional(), ip: z.string().optional() });
const MachinesSchema = z.object({ machines: z.array(MachineIdSchema).default([]) });
const ScheduleSchema = z.object({
  schedule: z.object({
    windows: z
      .array(z.object({ machine_ids: z.array(MachineIdSchema).default([]), unavailability: UnavailabilitySchema }))
      .default([]),
  }),
});

type Decide = (current: MaintenanceRecord) => ReturnType<typeof updateSchedule>;

/** Writes a change; then rescinds the inverse offers it withdrew. The records before and after, or the 400. */
async function change(
  master: Master,
  decide: Decide,
): Promise<{ before: MaintenanceRecord; after: MaintenanceRecord } | OperatorResponse> {
  let before: MaintenanceRecord | undefined;
  const written = await master.registrar.maintenance.modify<MaintenanceChange, string>((current) => {
    before = current;
    const decided = decide(current);
    return decided.ok ? { ok: true, value: { next: decided.value.next, outcome: decided.value } } : decided;
  });
  if (!written.ok) return badRequest(written.error);
  for (const { id, offer } of written.value.outcome?.withdrawn ?? []) {
    const framework = await master.registrar.frameworks.get(offer.frameworkId);
    if (framework && framework.status !== 'REMOVED')
      await publishEvents(master, framework, [rescindInverseOfferEvent(id)]);
  }
  return { before: before as MaintenanceRecord, after: written.value.record };
}

async function agentsWhere(master: Master, test: (agent: AgentRecord) => boolean): Promise<AgentRecord[]> {
  const found: AgentRecord[] = [];
  for await (const agent of master.registrar.agents.list())
    if (agent.status === 'ACTIVE' && test(agent)) found.push(agent);
  return found;
}

export const GET_MAINTENANCE_STATUS = operatorCall({
  type: 'GET_MAINTENANCE_STATUS',
  handle: async (master) =>
    respond('GET_MAINTENANCE_STATUS', 'get_maintenance_status', {
      status: clusterStatus(await master.registrar.maintenance.get()),
    }),
});

export const GET_MAINTENANCE_SCHEDULE = operatorCall({
  type: 'GET_MAINTENANCE_SCHEDULE',
  handle: async (master) =>
    respond('GET_MAINTENANCE_SCHEDULE', 'get_maintenance_schedule', {
      schedule: { windows: (await master.registrar.maintenance.get()).windows },
    }),
});

export const UPDATE_MAINTENANCE_SCHEDULE = operatorCall({
  type: 'UPDATE_MAINTENANCE_SCHEDULE',
  field: 'update_maintenance_schedule',
  payload: ScheduleSchema,
  handle: async (master, call) => {
    const windows = call.payload.schedule.windows;
    const done = await change(master, (current) => updateSchedule(current, windows));
    if ('kind' in done) return done;
    const draining = (record: MaintenanceRecord, agent: AgentRecord): boolean =>
      machineOfAgent(record, agent)?.mode === 'DRAINING';
    const newly = await agentsWhere(master, (agent) => draining(done.after, agent) && !draining(done.before, agent));
    for (const agent of newly) {
      const removed = await master.registrar.agents.removeOffers({
        agentId: agent.agentId,
        offerIds: Object.keys(agent.offers),
      });
      if (removed.ok) await announceRescinds(master, removed.value.removed);
    }
    if (newly.length > 0) {
      await master.allocation.request({ reason: 'RESOURCES_RECOVERED', agentIds: newly.map((a) => a.agentId) });
    }
    return OK;
  },
});

export const START_MAINTENANCE = operatorCall({
  type: 'START_MAINTENANCE',
  field: 'start_maintenance',
  payload: MachinesSchema,
  handle: async (master, call) => {
    const machines: MachineId[] = call.payload.machines;
    const done = await change(master, (current) => startMaintenance(current, machines));
    if ('kind' in done) return done;
    const down = await agentsWhere(master, (agent) => machineOfAgent(done.after, agent)?.mode === 'DOWN');
    for (const agent of down) await markAgentGone(master, agent, "Operator initiated 'Machine DOWN'");
    return OK;
  },
});

export const STOP_MAINTENANCE = operatorCall({
  type: 'STOP_MAINTENANCE',
  field: 'stop_maintenance',
  payload: MachinesSchema,
  handle: async (master, call) => {
    const machines: MachineId[] = call.payload.machines;
    const done = await change(master, (current) => stopMaintenance(current, machines));
    return 'kind' in done ? done : OK;
  },
});

export const MAINTENANCE_CALLS = [
  GET_MAINTENANCE_STATUS,
  GET_MAINTENANCE_SCHEDULE,
  UPDATE_MAINTENANCE_SCHEDULE,
  START_MAINTENANCE,
  STOP_MAINTENANCE,
];
