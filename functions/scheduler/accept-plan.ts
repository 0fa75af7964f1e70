/**
 * ACCEPT, decided (Mesos src/master/master.cpp `Master::accept`, src/master/validation.cpp `offer::validate`,
 * `operation::validate`; docs/scheduler-api.md): `planAccept` takes what was read — the framework, the call,
 * the offers' agent, its active task ids — and returns every decision and event (no I/O); accept.ts commits it.
 *
 * 1. Offer validation, the one place it is done: ids unique, all outstanding, all the framework's, one
 *    agent, one role. Any failure: every task gets TASK_DROPPED (TASK_LOST without PARTITION_AWARE),
 *    REASON_INVALID_OFFERS, and the framework's offers named are recovered without a filter.
 * 2. Operations in order over what is left of the offers: LAUNCH / LAUNCH_GROUP tasks are validated
 *    (TASK_ERROR, REASON_TASK_INVALID / REASON_TASK_GROUP_INVALID), RESERVE / UNRESERVE / CREATE /
 *    DESTROY / GROW_VOLUME / SHRINK_VOLUME convert resources (OPERATION_ERROR when invalid and an
 *    operation id was given).
 * 3. What the ledger write must say: the offers out, the launches in, the converted total.
 *
 * Every master-generated update has no uuid: never retried, never acknowledged.
 */
import { agentIdOfOffer, taskKey } from '#shared/ids.js';
import { launchGrant } from '#shared/acl.js';
import type { AgentCommand, LaunchGrant } from '#shared/protocol/internal.js';
import type { ExecutorInfo, Operation, Resource, TaskGroupInfo, TaskInfo } from '#shared/protocol/mesos.js';
import { hasCapability } from '#shared/protocol/capabilities.js';
import { add, subtract } from '#shared/resources/resources.js';
import { reservationRole } from '#shared/resources/resource.js';
import type { AgentRecord, FrameworkRecord, OfferRecord } from '../registrar/index.js';
import { takeInTurn } from '../registrar/ledger.js';
import {
  create,
  destroy,
  reserve,
  resize,
  unreserve,
  type ConversionState,
  type OperationContext,
} from './operations.js';
import { Feedback, type Told } from './accept-feedback.js';
import { ExecutorCharges, type LaunchExecutor } from './executor-charges.js';
import { executorRefusal, taskRefusal, type Authority } from './task-authorization.js';
import { validateCustomExecutor, validateTask, validateTaskGroup } from './task-validation.js';
import type { CallOf } from './validation.js';

export type Accept = CallOf<'ACCEPT'>['accept'];

/** A destroyed volume, as the agent is told to remove it. */
export type DestroyedVolume = Extract<AgentCommand, { type: 'DESTROY_VOLUMES' }>['volumes'][number];

/** What an ACCEPT is decided on, as read from the registrar. */
export interface AcceptState {
  readonly framework: FrameworkRecord;
  readonly accept: Accept;
  /** The agent of the first offer named (undefined when none is, or it is unknown). */
  readonly agent: AgentRecord | undefined;
  /** The framework's task ids, among those the call launches, still active on some agent. */
  readonly activeTaskIds: ReadonlySet<string>;
  /** Who asks, and the ACL its tasks are authorized against. */
  readonly authority: Authority;
  readonly now: number;
}

export interface Launch {
  readonly task: TaskInfo;
  /** The task's own resources. */
  readonly resources: Resource[];
  /** The executor it runs under (custom or DEFAULT), charged once per executor and agent. */
  readonly executor?: LaunchExecutor;
  /** Set for the tasks of a LAUNCH_GROUP: the group they are launched with. */
  readonly group?: { executor: ExecutorInfo; taskGroup: TaskGroupInfo; executorResources: Resource[] };
  /** Set for a task with a custom executor: the executor's resources, as the agent is told them. */
  readonly custom?: { executorResources: Resource[] };
}

/** The offers are invalid (or the write lost them): every task dropped, the offers recovered. */
export interface DropPlan extends Told {
  readonly kind: 'drop';
  readonly message: string;
  /** The framework's own offers named: they go back without a filter. */
  readonly recover: readonly OfferRecord[];
}

export interface CommitPlan extends Told {
  readonly kind: 'commit';
  readonly agent: AgentRecord;
  readonly role: string;
  readonly offers: readonly OfferRecord[];
  readonly launches: readonly Launch[];
  /** What the launches may do, as the agent is told (the ACL's grant). */
  readonly grant: LaunchGrant;
  /** When operations converted resources: the total to check, the next one, what the offers now hold. */
  readonly total?: { expected: Resource[]; next: Resource[]; offered: Resource[] };
  /** Operations refused, for the logs. */
  readonly refused: ReadonlyArray<{ type: string; why: string }>;
  /** Persistent volumes destroyed: the agent removes their data once the ledger is written. */
  readonly destroyed: ReadonlyArray<DestroyedVolume>;
}

export type AcceptPlan = DropPlan | CommitPlan;

/** The agent whose ledger an ACCEPT reads: the first offer's. */
export function acceptedAgentId(accept: Accept): string | undefined {
  const first = accept.offer_ids?.[0]?.value;
  return first === undefined ? undefined : agentIdOfOffer(first);
}

export function tasksOf(operation: Operation): TaskInfo[] {
  if (operation.type === 'LAUNCH') return operation.launch?.task_infos ?? [];
  if (operation.type === 'LAUNCH_GROUP') return operation.launch_group?.task_group.tasks ?? [];
  return [];
}

/** Every task dropped and every other operation refused with `message`; `recover` goes back unfiltered. */
export function dropPlan(
  framework: FrameworkRecord,
  accept: Accept,
  message: string,
  recover: readonly OfferRecord[],
  now: number,
): DropPlan {
  const feedback = new Feedback(framework.info, acceptedAgentId(accept), now);
  for (const operation of accept.operations ?? []) {
    for (const task of tasksOf(operation)) feedback.task(task, 'TASK_DROPPED', 'REASON_INVALID_OFFERS', message);
    if (operation.type !== 'LAUNCH' && operation.type !== 'LAUNCH_GROUP') {
      feedback.operation(operation, 'OPERATION_ERROR', message);
    }
  }
  return { kind: 'drop', message, recover, events: feedback.events, counters: feedback.counters };
}

/** Decides an ACCEPT (or a DECLINE: no operations). */
export function planAccept(state: AcceptState): AcceptPlan {
  const offers = validateOffers(state);
  if (!offers.ok) return offers.error;
  return new OperationPlanner(state, state.agent as AgentRecord, offers.value).plan();
}

/** Mesos `offer::validate`: the offers named are outstanding, the framework's, on one agent, of one role. */
function validateOffers(state: AcceptState): { ok: true; value: OfferRecord[] } | { ok: false; error: DropPlan } {
  const { framework, accept, agent, now } = state;
  const offerIds = (accept.offer_ids ?? []).map((id) => id.value);
  const drop = (message: string, recover: readonly OfferRecord[] = []) => ({
    ok: false as const,
    error: dropPlan(framework, accept, message, recover, now),
  });
  if (offerIds.length === 0) return drop('No offers specified');
  if (new Set(offerIds).size !== offerIds.length) return drop('Duplicate offers in one ACCEPT');
  const agentIds = new Set(offerIds.map(agentIdOfOffer));
  if (agentIds.has(undefined) || agentIds.size !== 1) {
    return drop(agentIds.has(undefined) ? 'Unknown offer' : 'Offers from more than one agent');
  }
  if (!agent) return drop(`Offer ${offerIds[0]} is no longer valid`);
  const offers = offerIds.map((id) => agent.offers[id]);
  const owned = offers.filter((offer): offer is OfferRecord => offer?.frameworkId === framework.frameworkId);
  const gone = offerIds.find((_id, i) => offers[i] === undefined);
  if (gone !== undefined) return drop(`Offer ${gone} is no longer valid`, owned);
  if (owned.length !== offers.length) return drop('Offers of another framework', owned);
  const role = (owned[0] as OfferRecord).role;
  if (owned.some((offer) => offer.role !== role)) return drop('Offers allocated to more than one role', owned);
  return { ok: true, value: owned };
}

/** The operations that convert resources rather than launch. */
type ConvertingType = 'RESERVE' | 'UNRESERVE' | 'CREATE' | 'DESTROY' | 'GROW_VOLUME' | 'SHRINK_VOLUME';

/** Walks the operations in order over what is left of the offers. */
class OperationPlanner {
  private readonly feedback: Feedback;
  private readonly role: string;
  private readonly context: OperationContext;
  private state: ConversionState;
  private converted = false;
  private readonly launches: Launch[] = [];
  private readonly takenIds = new Set<string>();
  private readonly executors: ExecutorCharges;
  private readonly refused: Array<{ type: string; why: string }> = [];
  private readonly destroyed: DestroyedVolume[] = [];

  constructor(
    private readonly input: AcceptState,
    private readonly agent: AgentRecord,
    private readonly offers: OfferRecord[],
  ) {
    const { framework } = input;
    this.feedback = new Feedback(framework.info, agent.agentId, input.now);
    this.executors = new ExecutorCharges(agent, framework.frameworkId);
    this.role = (offers[0] as OfferRecord).role;
    this.context = {
      role: this.role,
      ...(framework.principal ? { principal: framework.principal } : {}),
      sharedResources: hasCapability(framework.info, 'SHARED_RESOURCES'),
      acl: input.authority.acl,
      ...(input.authority.principal !== undefined
        ? { caller: { principal: input.authority.principal, operator: input.authority.operator } }
        : {}),
    };
    this.state = {
      remaining: add(
        [],
        offers.flatMap((offer) => offer.resources),
      ),
      total: agent.total,
    };
  }

  plan(): CommitPlan {
    for (const operation of this.input.accept.operations ?? []) this.apply(operation);
    const { agent, role, offers, launches, feedback, state } = this;
    return {
      kind: 'commit',
      agent,
      role,
      offers,
      launches,
      grant: launchGrant(this.input.authority.acl),
      ...(this.converted
        ? {
            total: {
              expected: agent.total,
              next: [...state.total],
              offered: add(
                [],
                [...state.remaining, ...launches.flatMap((l) => [...l.resources, ...(l.executor?.resources ?? [])])],
              ),
            },
          }
        : {}),
      refused: this.refused,
      destroyed: this.destroyed,
      events: feedback.events,
      counters: feedback.counters,
    };
  }

  private apply(operation: Operation): void {
    switch (operation.type) {
      case 'LAUNCH':
        return this.launch(operation);
      case 'LAUNCH_GROUP':
        return this.launchGroup(operation);
      case 'RESERVE':
      case 'UNRESERVE':
      case 'CREATE':
      case 'DESTROY':
      case 'GROW_VOLUME':
      case 'SHRINK_VOLUME':
        return this.convert(operation, operation.type);
      default:
        this.feedback.operation(
          operation,
          'OPERATION_ERROR',
          `Operation ${operation.type ?? 'without a type'} is not supported`,
        );
    }
  }

  /** Takes resources out of what is left of the offers; false if they do not fit. */
  private claim(resources: Resource[]): boolean {
    if (!takeInTurn(this.state.remaining, [resources]).fits) return false;
    this.state = { ...this.state, remaining: subtract(this.state.remaining, resources) };
    return true;
  }

  private duplicateId(task: TaskInfo): string | undefined {
    const id = task.task_id.value;
    const { framework, activeTaskIds } = this.input;
    if (this.takenIds.has(id) || activeTaskIds.has(id) || this.agent.tasks[taskKey(framework.frameworkId, id)]) {
      return `Task has duplicate ID: ${id}`;
    }
    return undefined;
  }

  private launch(operation: Operation): void {
    for (const task of operation.launch?.task_infos ?? []) {
      const invalid = (message: string) => this.feedback.task(task, 'TASK_ERROR', 'REASON_TASK_INVALID', message);
      if (operation.id) {
        invalid('An operation id is not allowed on LAUNCH');
        continue;
      }
      const refused =
        taskRefusal(task, this.input.framework.info, this.input.authority) ??
        (task.executor ? executorRefusal(task.executor, this.input.authority) : undefined);
      if (refused) {
        this.feedback.task(task, 'TASK_ERROR', 'REASON_TASK_UNAUTHORIZED', refused);
        continue;
      }
      const duplicate = this.duplicateId(task);
      if (duplicate) {
        invalid(duplicate);
        continue;
      }
      const validated = validateTask(task, { agentId: this.agent.agentId, role: this.role, inGroup: false });
      if (!validated.ok) {
        invalid(validated.error.message);
        continue;
      }
      const executor = task.executor ? this.customExecutor(task.executor) : undefined;
      if (executor && !executor.ok) {
        invalid(executor.error);
        continue;
      }
      // Mesos counts a new executor's resources with its first task's ("required by task and its executor").
      if (!this.claim([...validated.value, ...(executor?.value.launch.resources ?? [])])) {
        invalid('Total resources required by the task are more than available');
        continue;
      }
      this.takenIds.add(task.task_id.value);
      this.launches.push({
        task,
        resources: validated.value,
        ...(executor
          ? { executor: executor.value.launch, custom: { executorResources: executor.value.resources } }
          : {}),
      });
    }
  }

  /**
   * A task's custom executor: validated, and its resources charged unless the agent runs it or an earlier
   * task of this ACCEPT charged it; every task naming that executor id must describe the same executor.
   */
  private customExecutor(
    info: ExecutorInfo,
  ): { ok: true; value: { launch: LaunchExecutor; resources: Resource[] } } | { ok: false; error: string } {
    const context = { frameworkId: this.input.framework.frameworkId, role: this.role };
    const validated = validateCustomExecutor(info, context);
    if (!validated.ok) return { ok: false, error: validated.error.message };
    const charged = this.executors.charge(info, 'CUSTOM', validated.value);
    if (!charged.ok) return charged;
    return { ok: true, value: { launch: charged.value, resources: validated.value } };
  }

  private launchGroup(operation: Operation): void {
    const group = operation.launch_group;
    const tasks = group?.task_group.tasks ?? [];
    const invalid = (message: string) => {
      for (const task of tasks) this.feedback.task(task, 'TASK_ERROR', 'REASON_TASK_GROUP_INVALID', message);
    };
    if (operation.id) return invalid('An operation id is not allowed on LAUNCH_GROUP');
    if (!group) return invalid("Expecting 'launch_group' to be present");
    const { authority, framework } = this.input;
    const refused =
      executorRefusal(group.executor, authority) ??
      tasks.map((task) => taskRefusal(task, framework.info, authority)).find((why) => why !== undefined);
    if (refused) {
      for (const task of tasks) this.feedback.task(task, 'TASK_ERROR', 'REASON_TASK_GROUP_UNAUTHORIZED', refused);
      return;
    }
    const validated = validateTaskGroup(group.executor, tasks, {
      agentId: this.agent.agentId,
      frameworkId: framework.frameworkId,
      role: this.role,
      duplicateId: (task) => this.duplicateId(task),
    });
    if (!validated.ok) return invalid(validated.error.message);
    const { executorResources, taskResources } = validated.value;
    const kind = group.executor.type === 'CUSTOM' ? 'CUSTOM' : 'DEFAULT';
    const executor = this.executors.charge(group.executor, kind, executorResources);
    if (!executor.ok) return invalid(executor.error);
    if (!this.claim([...(executor.value.resources ?? []), ...taskResources.flat()])) {
      return invalid('Total resources required by the task group are more than available');
    }
    const { resources: charged, ...named } = executor.value;
    tasks.forEach((task, i) => {
      this.takenIds.add(task.task_id.value);
      this.launches.push({
        task,
        resources: taskResources[i] ?? [],
        executor: i === 0 && charged ? { ...named, resources: charged } : named,
        group: { executor: group.executor, taskGroup: group.task_group, executorResources },
      });
    });
  }

  private convert(operation: Operation, type: ConvertingType): void {
    const result =
      type === 'GROW_VOLUME' || type === 'SHRINK_VOLUME'
        ? resize(this.state, operation, this.context, this.agent.capabilities.includes('RESIZE_VOLUME'))
        : { RESERVE: reserve, UNRESERVE: unreserve, CREATE: create, DESTROY: destroy }[type](
            this.state,
            operation,
            this.context,
          );
    if (!result.ok) {
      this.feedback.operation(operation, 'OPERATION_ERROR', result.error.message);
      this.refused.push({ type, why: result.error.message });
      return;
    }
    this.state = result.value;
    this.converted = true;
    if (type === 'DESTROY') {
      for (const volume of operation.destroy?.volumes ?? []) {
        const id = volume.disk?.persistence?.id;
        const source = volume.disk?.source;
        if (id !== undefined)
          this.destroyed.push({ role: reservationRole(volume), persistence_id: id, ...(source ? { source } : {}) });
      }
    }
    this.feedback.operation(operation, 'OPERATION_FINISHED');
  }
}
