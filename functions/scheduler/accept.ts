/**
 * ACCEPT (and DECLINE, an ACCEPT with no operations) — spec §1.5 "ACCEPT processing order", §2.9:
 *
 * 1. Offer validation: ids unique, all outstanding, all the framework's, one agent, one role. Any
 *    failure: every task gets TASK_DROPPED (TASK_LOST without PARTITION_AWARE), REASON_INVALID_OFFERS;
 *    the framework's offers named are recovered without a filter.
 * 2. Operations in order over what is left of the offers: LAUNCH / LAUNCH_GROUP tasks are validated
 *    (TASK_ERROR, REASON_TASK_INVALID / REASON_TASK_GROUP_INVALID), RESERVE / UNRESERVE / CREATE /
 *    DESTROY convert resources (OPERATION_ERROR when invalid and an operation id was given).
 * 3. ONE conditional write of the agent ledger: offers out, tasks in (and the converted total). A lost
 *    race makes every task TASK_DROPPED / TASK_LOST.
 * 4. Follow-ups: task rows (TASK_STAGING), launch commands on the agent's queue, operation feedback.
 * 5. What the offers held and nothing used is recovered with the call's filter (default 5 s).
 *
 * Every master-generated update has no uuid: never retried, never acknowledged.
 */
import { randomUUID } from 'node:crypto';
import { agentIdOfOffer } from '../../shared/ids.js';
import { PERMISSIVE_GRANT, type AgentCommand } from '../../shared/protocol/internal.js';
import type {
  ExecutorInfo,
  Operation,
  OperationStatus,
  Resource,
  TaskGroupInfo,
  TaskInfo,
  TaskStatusReason,
} from '../../shared/protocol/mesos.js';
import type { Call, Event } from '../../shared/protocol/scheduler.js';
import type { AgentRecord, FrameworkRecord, OfferRecord } from '../registrar/index.js';
import { takeInTurn } from '../registrar/index.js';
import { canonicalResources } from '../../shared/resources/parse.js';
import { add, scalarTotal, subtract } from '../../shared/resources/resources.js';
import { refusalFilter } from '../allocator/filters.js';
import { isTerminal } from '../../shared/tasks/state-machine.js';
import { publishEvents, sendAgentCommands, type Master } from '../master/master.js';
import { masterStatus, updateEvent } from '../master/statuses.js';
import { hasCapability } from '../../shared/protocol/capabilities.js';
import { create, destroy, reserve, unreserve, type ConversionState, type OperationContext } from './operations.js';
import { validateTask } from './task-validation.js';

/**
 * What a launch tells the agent it may do. Until the master authorizes tasks against ACLs, it grants
 * what the agent used to allow every task, so that agents which enforce grants behave as before.
 */
const LAUNCH_GRANT = PERMISSIVE_GRANT;

interface Launch {
  readonly task: TaskInfo;
  readonly resources: Resource[];
  /** Set for the tasks of a LAUNCH_GROUP: the group they are launched with. */
  readonly group?: { executor: ExecutorInfo; taskGroup: TaskGroupInfo; executorResources: Resource[] };
}

type Accept = NonNullable<Call['accept']>;

function tasksOf(operation: Operation): TaskInfo[] {
  if (operation.type === 'LAUNCH') return operation.launch?.task_infos ?? [];
  if (operation.type === 'LAUNCH_GROUP') return operation.launch_group?.task_group.tasks ?? [];
  return [];
}

class Outcome {
  readonly events: Event[] = [];

  constructor(
    private readonly master: Master,
    private readonly framework: FrameworkRecord,
    private readonly agentId: string | undefined,
  ) {}

  task(task: TaskInfo, state: 'TASK_ERROR' | 'TASK_DROPPED', reason: TaskStatusReason, message: string): void {
    this.master.metrics.increment(`master/task_${state.slice(5).toLowerCase()}/source_master/${reason.toLowerCase()}`);
    this.events.push(
      updateEvent(
        masterStatus(this.framework.info, {
          taskId: task.task_id.value,
          state,
          reason,
          message,
          ...(this.agentId ? { agentId: this.agentId } : {}),
          now: this.master.now(),
        }),
      ),
    );
  }

  operation(operation: Operation, state: OperationStatus['state'], message?: string): void {
    if (!operation.id) return;
    this.events.push({
      type: 'UPDATE_OPERATION_STATUS',
      update_operation_status: {
        status: {
          operation_id: operation.id,
          state,
          ...(message !== undefined ? { message } : {}),
          ...(this.agentId ? { agent_id: { value: this.agentId } } : {}),
        },
      },
    });
  }
}

/** Processes an ACCEPT (or a DECLINE: no operations). Outcomes reach the framework as events. */
export async function acceptOffers(master: Master, framework: FrameworkRecord, accept: Accept): Promise<void> {
  const offerIds = (accept.offer_ids ?? []).map((id) => id.value);
  const operations = accept.operations ?? [];
  const firstAgent = offerIds.length > 0 ? agentIdOfOffer(offerIds[0] as string) : undefined;
  const outcome = new Outcome(master, framework, firstAgent);
  const dropAll = async (message: string, offers: readonly OfferRecord[]) => {
    for (const operation of operations) {
      for (const task of tasksOf(operation)) outcome.task(task, 'TASK_DROPPED', 'REASON_INVALID_OFFERS', message);
      if (operation.type !== 'LAUNCH' && operation.type !== 'LAUNCH_GROUP') {
        outcome.operation(operation, 'OPERATION_ERROR', message);
      }
    }
    // Resources of the framework's own valid offers go back, without a filter.
    const byAgent = new Map<string, string[]>();
    for (const offer of offers) byAgent.set(offer.agentId, [...(byAgent.get(offer.agentId) ?? []), offer.offerId]);
    for (const [agentId, ids] of byAgent) {
      await master.registrar.agents.removeOffers({ agentId, offerIds: ids, frameworkId: framework.frameworkId });
      await master.allocation.request({ reason: 'RESOURCES_RECOVERED', agentIds: [agentId] });
    }
    await publishEvents(master, framework, outcome.events);
  };

  // 1. Offer validation.
  if (offerIds.length === 0) return dropAll('No offers specified', []);
  if (new Set(offerIds).size !== offerIds.length) return dropAll('Duplicate offers in one ACCEPT', []);
  const agentIds = new Set(offerIds.map(agentIdOfOffer));
  if (agentIds.has(undefined) || agentIds.size !== 1 || !firstAgent) {
    return dropAll(agentIds.has(undefined) ? 'Unknown offer' : 'Offers from more than one agent', []);
  }
  const agent = await master.registrar.agents.get(firstAgent);
  if (!agent) return dropAll(`Offer ${offerIds[0]} is no longer valid`, []);
  const offers = offerIds.map((id) => agent.offers[id]);
  const owned = offers.filter((offer): offer is OfferRecord => offer?.frameworkId === framework.frameworkId);
  const gone = offerIds.find((_id, i) => offers[i] === undefined);
  if (gone !== undefined) return dropAll(`Offer ${gone} is no longer valid`, owned);
  if (owned.length !== offers.length) return dropAll('Offers of another framework', owned);
  const role = (owned[0] as OfferRecord).role;
  if (owned.some((offer) => offer.role !== role)) return dropAll('Offers allocated to more than one role', owned);

  // 2. Operations in order.
  const context: OperationContext = {
    role,
    ...(framework.principal ? { principal: framework.principal } : {}),
    sharedResources: hasCapability(framework.info, 'SHARED_RESOURCES'),
  };
  let state: ConversionState = {
    remaining: add(
      [],
      owned.flatMap((offer) => offer.resources),
    ),
    total: agent.total,
  };
  let converted = false;
  const launches: Launch[] = [];
  const takenIds = new Set<string>();
  const activeElsewhere = await activeTaskIds(master, framework.frameworkId, operations.flatMap(tasksOf));

  const claim = (resources: Resource[]): boolean => {
    const fit = takeInTurn(state.remaining, [resources]);
    if (!fit.fits) return false;
    state = { ...state, remaining: subtract(state.remaining, resources) };
    return true;
  };
  const duplicateId = (task: TaskInfo): string | undefined => {
    const id = task.task_id.value;
    if (takenIds.has(id) || activeElsewhere.has(id) || agent.tasks[`${framework.frameworkId}/${id}`]) {
      return `Task has duplicate ID: ${id}`;
    }
    return undefined;
  };

  for (const operation of operations) {
    switch (operation.type) {
      case 'LAUNCH': {
        for (const task of operation.launch?.task_infos ?? []) {
          if (operation.id) {
            outcome.task(task, 'TASK_ERROR', 'REASON_TASK_INVALID', 'An operation id is not allowed on LAUNCH');
            continue;
          }
          const duplicate = duplicateId(task);
          const validated = duplicate
            ? undefined
            : validateTask(task, { agentId: agent.agentId, role, inGroup: false });
          if (duplicate || !validated?.ok) {
            outcome.task(
              task,
              'TASK_ERROR',
              'REASON_TASK_INVALID',
              duplicate ?? (validated as { message: string }).message,
            );
            continue;
          }
          if (!claim(validated.value)) {
            outcome.task(
              task,
              'TASK_ERROR',
              'REASON_TASK_INVALID',
              'Total resources required by the task are more than available',
            );
            continue;
          }
          takenIds.add(task.task_id.value);
          launches.push({ task, resources: validated.value });
        }
        break;
      }
      case 'LAUNCH_GROUP': {
        const group = operation.launch_group;
        const tasks = group?.task_group.tasks ?? [];
        const error = operation.id
          ? 'An operation id is not allowed on LAUNCH_GROUP'
          : group
            ? groupError(group.executor, tasks, agent, role, duplicateId)
            : "Expecting 'launch_group' to be present";
        if (typeof error === 'string' || !group) {
          for (const task of tasks) outcome.task(task, 'TASK_ERROR', 'REASON_TASK_GROUP_INVALID', error as string);
          break;
        }
        if (!claim([...error.executorResources, ...error.taskResources.flat()])) {
          for (const task of tasks) {
            outcome.task(
              task,
              'TASK_ERROR',
              'REASON_TASK_GROUP_INVALID',
              'Total resources required by the task group are more than available',
            );
          }
          break;
        }
        tasks.forEach((task, i) => {
          takenIds.add(task.task_id.value);
          launches.push({
            task,
            resources: [...(error.taskResources[i] ?? []), ...(i === 0 ? error.executorResources : [])],
            group: {
              executor: group.executor,
              taskGroup: group.task_group,
              executorResources: error.executorResources,
            },
          });
        });
        break;
      }
      case 'RESERVE':
      case 'UNRESERVE':
      case 'CREATE':
      case 'DESTROY': {
        const apply = { RESERVE: reserve, UNRESERVE: unreserve, CREATE: create, DESTROY: destroy }[operation.type];
        const result = apply(state, operation, context);
        if (!result.ok) {
          outcome.operation(operation, 'OPERATION_ERROR', result.message);
          master.logger.info('Offer operation refused', { type: operation.type, why: result.message });
          break;
        }
        state = result.value;
        converted = true;
        outcome.operation(operation, 'OPERATION_FINISHED');
        break;
      }
      default:
        outcome.operation(
          operation,
          'OPERATION_ERROR',
          `Operation ${operation.type ?? 'without a type'} is not supported`,
        );
    }
  }

  // 3. One conditional write of the ledger.
  const launchId = randomUUID();
  const committed = await master.registrar.agents.acceptOffers({
    agentId: agent.agentId,
    frameworkId: framework.frameworkId,
    offers: owned,
    launches: launches.map((launch) => ({ taskId: launch.task.task_id.value, resources: launch.resources })),
    launchId,
    ...(converted
      ? {
          total: {
            expected: agent.total,
            next: state.total,
            offered: add([], [...state.remaining, ...launches.flatMap((launch) => launch.resources)]),
          },
        }
      : {}),
  });
  if (!committed.ok) {
    outcome.events.length = 0;
    master.logger.info('ACCEPT lost its offers', { agentId: agent.agentId, why: committed.error.message });
    return dropAll(committed.error.message, owned);
  }

  // 4. Follow-ups: task rows, launch commands.
  const commands: AgentCommand[] = [];
  const frameworkInfo = {
    user: framework.info.user,
    name: framework.info.name,
    ...(framework.info.checkpoint !== undefined ? { checkpoint: framework.info.checkpoint } : {}),
    ...(framework.info.capabilities ? { capabilities: framework.info.capabilities } : {}),
  };
  const launchedGroups = new Set<TaskGroupInfo>();
  for (const launch of launches) {
    const added = await master.registrar.tasks.add({
      frameworkId: framework.frameworkId,
      agentId: agent.agentId,
      role,
      resources: launch.resources,
      info: launch.task,
      launchId,
    });
    if (!added.ok) {
      // Another launch of the same task id won a race on another agent.
      await master.registrar.agents.releaseTasks({
        agentId: agent.agentId,
        tasks: [{ frameworkId: framework.frameworkId, taskId: launch.task.task_id.value }],
      });
      outcome.task(launch.task, 'TASK_ERROR', 'REASON_TASK_INVALID', added.error.message);
      continue;
    }
    master.metrics.increment('master/tasks_launched');
    if (launch.group) {
      if (launchedGroups.has(launch.group.taskGroup)) continue;
      launchedGroups.add(launch.group.taskGroup);
      commands.push({
        type: 'LAUNCH_GROUP',
        framework_id: { value: framework.frameworkId },
        framework_info: frameworkInfo,
        executor: { ...launch.group.executor, resources: launch.group.executorResources },
        task_group: launch.group.taskGroup,
        launch_id: launchId,
        grant: LAUNCH_GRANT,
      });
    } else {
      commands.push({
        type: 'LAUNCH',
        framework_id: { value: framework.frameworkId },
        framework_info: frameworkInfo,
        task: { ...launch.task, resources: launch.resources },
        launch_id: launchId,
        grant: LAUNCH_GRANT,
      });
    }
  }
  await sendAgentCommands(master, agent, commands);
  await publishEvents(master, framework, outcome.events);

  // 5. Unused resources come back, filtered for this framework for refuse_seconds.
  const unused = committed.value.unused;
  if (unused.length > 0) {
    await installFilters(master, framework.frameworkId, accept.filters?.refuse_seconds, [
      { role, agentId: agent.agentId, resources: unused },
    ]);
  }
}

/**
 * Recovered resources get a refused-offer filter for the framework (refuse_seconds: default 5 s, capped
 * at a year, 0 = none), and the allocator is told: now, for the other frameworks, and when the filter
 * expires, for this one.
 */
export async function installFilters(
  master: Master,
  frameworkId: string,
  refuseSeconds: number | undefined,
  recovered: ReadonlyArray<{ role: string; agentId: string; resources: Resource[] }>,
): Promise<void> {
  const now = master.now();
  const filters = recovered.flatMap(
    (entry) => refusalFilter({ ...entry, ...(refuseSeconds !== undefined ? { refuseSeconds } : {}), now }) ?? [],
  );
  if (filters.length > 0) await master.registrar.filters.put(frameworkId, filters);
  const agentIds = [...new Set(recovered.map((entry) => entry.agentId))];
  await master.allocation.request({ reason: 'RESOURCES_RECOVERED', agentIds });
  const expiry = filters[0]?.expiresAt;
  if (expiry !== undefined) {
    await master.allocation.request({ reason: 'FILTER_EXPIRED', agentIds, frameworkId }, (expiry - now) / 1000);
  }
}

/** Task ids of the framework still active on any agent (Mesos refuses to launch a second one). */
async function activeTaskIds(master: Master, frameworkId: string, tasks: readonly TaskInfo[]): Promise<Set<string>> {
  const active = new Set<string>();
  await Promise.all(
    [...new Set(tasks.map((task) => task.task_id.value))].map(async (taskId) => {
      if (taskId === '') return;
      const row = await master.registrar.tasks.get(frameworkId, taskId);
      if (row && !isTerminal(row.state)) active.add(taskId);
    }),
  );
  return active;
}

/**
 * LAUNCH_GROUP validation (Mesos `task::group::validate`): a DEFAULT executor with enough resources
 * of its own, no per-task executors, no Docker containers, valid tasks, unique ids. All or nothing.
 */
function groupError(
  executor: ExecutorInfo,
  tasks: readonly TaskInfo[],
  agent: AgentRecord,
  role: string,
  duplicateId: (task: TaskInfo) => string | undefined,
): string | { executorResources: Resource[]; taskResources: Resource[][] } {
  if (tasks.length === 0) return 'A task group must have tasks';
  if (executor.type !== 'DEFAULT')
    return "Mantle agents run task groups with the DEFAULT executor ('executor.type': 'DEFAULT')";
  if (executor.command) return "The DEFAULT executor must not set 'command'";
  if (executor.container && (executor.container.type !== 'MESOS' || executor.container.mesos?.image)) {
    return "The DEFAULT executor's container must be MESOS without an image";
  }
  const executorResources = canonicalResources(executor.resources ?? []);
  if (!executorResources.ok) return executorResources.error.message;
  if (
    scalarTotal(executorResources.value, 'cpus') < 0.01 ||
    scalarTotal(executorResources.value, 'mem') < 32 ||
    scalarTotal(executorResources.value, 'disk') <= 0
  ) {
    return 'A new DEFAULT executor needs at least cpus:0.01, mem:32 and some disk';
  }
  const ids = new Set<string>();
  const taskResources: Resource[][] = [];
  for (const task of tasks) {
    const duplicate =
      duplicateId(task) ?? (ids.has(task.task_id.value) ? `Task has duplicate ID: ${task.task_id.value}` : undefined);
    if (duplicate) return duplicate;
    ids.add(task.task_id.value);
    const validated = validateTask(task, { agentId: agent.agentId, role, inGroup: true });
    if (!validated.ok) return `Task ${task.task_id.value} is invalid: ${validated.message}`;
    taskResources.push(validated.value);
  }
  return {
    executorResources: add(
      [],
      executorResources.value.map((r) => ({ ...r, allocation_info: { role } })),
    ),
    taskResources,
  };
}
