/**
 * ACCEPT decided without I/O (functions/scheduler/accept-plan.ts): offer validation, operations in
 * order, the ledger write's inputs and the events, from records built here. The same decisions over
 * the registrar and the queues are in test/contract/scheduler-calls.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { SAFE_ACL } from '#shared/acl.js';
import { SAFE_GRANT } from '#shared/protocol/internal.js';
import type { Operation, TaskInfo } from '#shared/protocol/mesos.js';
import { allocate, quantities } from '#shared/resources/resources.js';
import type { AgentRecord, FrameworkRecord, OfferRecord } from '../../functions/registrar/index.js';
import { planAccept, type AcceptState, type CommitPlan, type DropPlan } from '../../functions/scheduler/accept-plan.js';
import { launchCommands } from '../../functions/scheduler/launch-commands.js';
import { resources } from '../support/resources.js';

const AGENT = 'c1-S1';
const NOW = 1_000_000;

function offer(offerId: string, text: string, frameworkId = 'fw-1', role = '*'): OfferRecord {
  return { offerId, agentId: AGENT, frameworkId, role, resources: allocate(resources(text), role), createdAt: 0 };
}

const OFFERS = [offer(`${AGENT}-O1`, 'cpus:4;mem:1024'), offer(`${AGENT}-O2`, 'cpus:1', 'fw-2')];

const agent: AgentRecord = {
  agentId: AGENT,
  hostname: 'h',
  ip: '127.0.0.1',
  port: 5051,
  commandQueueUrl: 'q',
  containerizers: ['mesos'],
  principal: '',
  attributes: [],
  capabilities: [],
  total: resources('cpus:8;mem:4096;disk:1000'),
  offers: Object.fromEntries(OFFERS.map((o) => [o.offerId, o])),
  tasks: {},
  executors: {},
  version: 3,
  status: 'ACTIVE',
  deactivated: false,
  registeredAt: 0,
  lastHeartbeat: 0,
};

const framework = {
  frameworkId: 'fw-1',
  info: { user: 'u', name: 'f', capabilities: [{ type: 'PARTITION_AWARE' }] },
  principal: undefined,
} as unknown as FrameworkRecord;

function task(id: string, text: string): TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: AGENT },
    resources: resources(text),
    command: { value: 'true' },
  };
}

function state(offerIds: string[], operations: Operation[], activeTaskIds: string[] = []): AcceptState {
  return {
    framework,
    accept: { offer_ids: offerIds.map((value) => ({ value })), operations },
    agent,
    activeTaskIds: new Set(activeTaskIds),
    authority: { acl: SAFE_ACL, operator: false },
    now: NOW,
  };
}

const launch = (...tasks: TaskInfo[]): Operation => ({ type: 'LAUNCH', launch: { task_infos: tasks } });
const messages = (plan: { events: unknown[] }) =>
  plan.events.map((event) => (event as { update?: { status: { state: string; message?: string } } }).update?.status);

describe('planAccept', () => {
  it('validates the offers first: any failure drops every task and recovers only the own offers', () => {
    const cases: Array<[string[], string, number]> = [
      [[], 'No offers specified', 0],
      [[`${AGENT}-O1`, `${AGENT}-O1`], 'Duplicate offers in one ACCEPT', 0],
      [['junk'], 'Unknown offer', 0],
      [[`${AGENT}-O1`, 'c1-S2-O1'], 'Offers from more than one agent', 0],
      [[`${AGENT}-O1`, `${AGENT}-O9`], `Offer ${AGENT}-O9 is no longer valid`, 1],
      [[`${AGENT}-O1`, `${AGENT}-O2`], 'Offers of another framework', 1],
    ];
    for (const [offerIds, message, recovered] of cases) {
      const plan = planAccept(state(offerIds, [launch(task('t', 'cpus:1'))])) as DropPlan;
      expect(plan.kind, message).toBe('drop');
      expect(plan.message).toBe(message);
      expect(plan.recover).toHaveLength(recovered);
      expect(messages(plan)).toEqual([expect.objectContaining({ state: 'TASK_DROPPED', message })]);
      expect(plan.counters).toEqual(['master/task_dropped/source_master/reason_invalid_offers']);
    }
  });

  it('launches in order over what is left of the offers; invalid and duplicate tasks get TASK_ERROR', () => {
    const plan = planAccept(
      state(
        [`${AGENT}-O1`],
        [launch(task('a', 'cpus:3'), task('b', 'cpus:2'), task('a', 'cpus:1'), task('busy', 'cpus:1'))],
        ['busy'],
      ),
    ) as CommitPlan;
    expect(plan.kind).toBe('commit');
    expect(plan.launches.map((l) => l.task.task_id.value)).toEqual(['a']);
    expect(messages(plan).map((status) => status?.message)).toEqual([
      'Total resources required by the task are more than available',
      'Task has duplicate ID: a',
      'Task has duplicate ID: busy',
    ]);
    expect(plan.total).toBeUndefined();
  });

  it('names the persistent volumes a DESTROY removes, for the agent to wipe once the ledger is written', () => {
    const mlOffer = offer(`${AGENT}-O4`, 'disk:100', 'fw-1', 'ml');
    const reserved = resources('disk(ml):50').map((r) => ({
      ...r,
      reservations: [{ type: 'DYNAMIC' as const, role: 'ml' }],
    }));
    const volume = reserved.map((r) => ({
      ...r,
      disk: { persistence: { id: 'data-1' }, volume: { mode: 'RW' as const, container_path: 'data' } },
    }));
    const plan = planAccept({
      ...state(
        [mlOffer.offerId],
        [
          { type: 'RESERVE', reserve: { resources: reserved } },
          { type: 'CREATE', create: { volumes: volume } },
          { type: 'DESTROY', destroy: { volumes: volume } },
        ],
      ),
      agent: { ...agent, offers: { [mlOffer.offerId]: mlOffer } },
    }) as CommitPlan;
    expect(plan.refused).toEqual([]);
    expect(plan.destroyed).toEqual([{ role: 'ml', persistence_id: 'data-1' }]);
  });

  it('converts resources for later operations and says what the ledger write must check', () => {
    const mlOffer = offer(`${AGENT}-O3`, 'cpus:4', 'fw-1', 'ml');
    const reserved = resources('cpus(ml):2').map((r) => ({
      ...r,
      reservations: [{ type: 'DYNAMIC' as const, role: 'ml' }],
    }));
    const reserve: Operation = { type: 'RESERVE', id: { value: 'r1' }, reserve: { resources: reserved } };
    const bad: Operation = { type: 'DESTROY', id: { value: 'd1' }, destroy: { volumes: [] } };
    const onReservation = task('on-reservation', 'cpus:2');
    onReservation.resources = reserved;
    const plan = planAccept({
      ...state([mlOffer.offerId], [reserve, launch(onReservation), bad]),
      agent: { ...agent, offers: { [mlOffer.offerId]: mlOffer } },
    }) as CommitPlan;
    expect(plan.kind).toBe('commit');
    expect(plan.launches.map((l) => l.task.task_id.value)).toEqual(['on-reservation']);
    const statuses = plan.events.map((e) => e.update_operation_status?.status);
    expect(statuses).toEqual([
      expect.objectContaining({ operation_id: { value: 'r1' }, state: 'OPERATION_FINISHED' }),
      expect.objectContaining({ operation_id: { value: 'd1' }, state: 'OPERATION_ERROR' }),
    ]);
    expect(plan.refused).toEqual([{ type: 'DESTROY', why: 'No resources to destroy' }]);
    expect(plan.total?.expected).toEqual(agent.total);
    expect(quantities(plan.total?.next ?? [])).toEqual({ cpus: 8, mem: 4096, disk: 1000 });
    expect(plan.total?.next.some((r) => r.reservations?.[0]?.role === 'ml')).toBe(true);
  });

  it('builds one LAUNCH per task of the launches written', () => {
    const plan = planAccept(state([`${AGENT}-O1`], [launch(task('a', 'cpus:1'), task('b', 'cpus:1'))])) as CommitPlan;
    const commands = launchCommands(framework, plan.launches, 'L1', plan.grant);
    expect(commands.map((c) => c.type)).toEqual(['LAUNCH', 'LAUNCH']);
    // The safe ACL grants what a launch without a grant gets.
    expect(commands.map((c) => (c.type === 'LAUNCH' ? c.grant : undefined))).toEqual([SAFE_GRANT, SAFE_GRANT]);
    expect(quantities(plan.launches.flatMap((l) => l.resources))).toEqual({ cpus: 2 });
  });
});
