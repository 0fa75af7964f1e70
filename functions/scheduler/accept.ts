/**
 * ACCEPT, done: read what the decision needs, plan it (accept-plan.ts, pure), then commit the plan:
 *
 * 1. ONE conditional write of the agent ledger: offers out, tasks in (and the converted total). A lost
 *    race makes every task TASK_DROPPED / TASK_LOST, and the offers still there go back.
 * 2. Follow-ups: task rows (TASK_STAGING), launch commands on the agent's queue, the events.
 * 3. What the offers held and nothing used is recovered with the call's filter (default 5 s).
 *
 * A task row that loses a race (the same task id launched on another agent meanwhile) gives its
 * resources back and ends TASK_ERROR; the others go ahead. A handler that dies, or whose row write
 * fails (the call then answers 500), between the ledger write and the launch commands leaves entries
 * the sweeper ends after the launch timeout (functions/fleet/sweeper.ts); a row that comes after the
 * sweeper ended its launch is refused (LAUNCH_DROPPED), and nothing of that ACCEPT is launched.
 */
import { randomUUID } from 'node:crypto';
import { groupBy } from '#shared/collections.js';
import { isTerminal } from '#shared/tasks/state-machine.js';
import type { FrameworkRecord, TaskRecord } from '../registrar/index.js';
import { publishEvents, sendAgentCommands, type Master } from '../master/master.js';
import {
  acceptedAgentId,
  dropPlan,
  planAccept,
  tasksOf,
  type Accept,
  type AcceptState,
  type CommitPlan,
  type DropPlan,
  type Launch,
} from './accept-plan.js';
import { Feedback, type Told } from './accept-feedback.js';
import { launchCommands } from './launch-commands.js';
import { installFilters } from './recover.js';
import type { Authority } from './task-authorization.js';
import type { CallOf } from './validation.js';
import { ACCEPTED, type CallResponse } from './responses.js';

/** Processes an ACCEPT. Outcomes reach the framework as events; the call itself is accepted (202). */
export async function accept(
  master: Master,
  framework: FrameworkRecord,
  call: CallOf<'ACCEPT'>,
  authority: Authority,
): Promise<CallResponse> {
  const plan = planAccept(await readAcceptState(master, framework, call.accept, authority));
  if (plan.kind === 'drop') await commitDrop(master, framework, plan);
  else await commitAccept(master, framework, call.accept, plan);
  return ACCEPTED;
}

/** The offers' agent and which of the tasks to launch are still active: all the plan reads. */
export async function readAcceptState(
  master: Master,
  framework: FrameworkRecord,
  accept: Accept,
  authority: Authority,
): Promise<AcceptState> {
  const agentId = acceptedAgentId(accept);
  const taskIds = new Set((accept.operations ?? []).flatMap(tasksOf).map((task) => task.task_id.value));
  taskIds.delete('');
  // The tasks' rows in consistent batch reads (one call per 100), not one read each.
  const [agent, rows] = await Promise.all([
    agentId === undefined ? undefined : master.registrar.agents.get(agentId),
    taskIds.size === 0
      ? new Map<string, TaskRecord>()
      : master.registrar.tasks.getMany([...taskIds].map((taskId) => ({ frameworkId: framework.frameworkId, taskId }))),
  ]);
  const activeTaskIds = new Set([...rows.values()].filter((row) => !isTerminal(row.state)).map((row) => row.taskId));
  return { framework, accept, agent, activeTaskIds, authority, now: master.now() };
}

function count(master: Pick<Master, 'metrics'>, told: Told): void {
  for (const counter of told.counters) master.metrics.increment(counter);
}

/** Invalid offers: the framework's own offers named go back without a filter; every task is dropped. */
async function commitDrop(master: Master, framework: FrameworkRecord, plan: DropPlan): Promise<void> {
  count(master, plan);
  for (const [agentId, offers] of groupBy(plan.recover, (offer) => offer.agentId)) {
    const offerIds = offers.map((offer) => offer.offerId);
    await master.registrar.agents.removeOffers({ agentId, offerIds, frameworkId: framework.frameworkId });
    await master.allocation.request({ reason: 'RESOURCES_RECOVERED', agentIds: [agentId] });
  }
  await publishEvents(master, framework, plan.events);
}

/** The ledger write, then the task rows, the launch commands, the events and the unused resources. */
export async function commitAccept(
  master: Master,
  framework: FrameworkRecord,
  accept: Accept,
  plan: CommitPlan,
): Promise<void> {
  const { agent, role } = plan;
  count(master, plan);
  for (const { type, why } of plan.refused) master.logger.info('Offer operation refused', { type, why });
  const launchId = randomUUID();
  const committed = await master.registrar.agents.acceptOffers({
    agentId: agent.agentId,
    frameworkId: framework.frameworkId,
    offers: plan.offers,
    launches: plan.launches.map((launch) => ({
      taskId: launch.task.task_id.value,
      resources: launch.resources,
      ...(launch.executor ? { executor: launch.executor } : {}),
    })),
    launchId,
    ...(plan.total ? { total: plan.total } : {}),
  });
  if (!committed.ok) {
    master.logger.info('ACCEPT lost its offers', { agentId: agent.agentId, why: committed.error.message });
    return commitDrop(
      master,
      framework,
      dropPlan(framework, accept, committed.error.message, plan.offers, master.now()),
    );
  }
  const feedback = new Feedback(framework.info, agent.agentId, master.now());
  const notWritten = new Set((committed.value.notWritten ?? []).map((task) => task.taskId));
  for (const launch of plan.launches) {
    if (notWritten.has(launch.task.task_id.value)) {
      feedback.task(launch.task, 'TASK_DROPPED', 'REASON_INVALID_OFFERS', committed.value.why ?? 'Not launched');
    }
  }
  const launches = plan.launches.filter((launch) => !notWritten.has(launch.task.task_id.value));
  const written = await addTaskRows(master, framework, { ...plan, launches }, launchId, feedback);
  count(master, feedback);
  if (written === 'dropped') {
    master.logger.warn('ACCEPT outlived the launch timeout: the sweeper dropped its launch; nothing launched', {
      agentId: agent.agentId,
      launchId,
    });
  }
  await sendAgentCommands(master, agent, [
    ...(written === 'dropped' ? [] : launchCommands(framework, written, launchId, plan.grant)),
    ...(plan.destroyed.length > 0 ? [{ type: 'DESTROY_VOLUMES' as const, volumes: [...plan.destroyed] }] : []),
  ]);
  await publishEvents(master, framework, [...plan.events, ...feedback.events]);
  const unused = committed.value.unused;
  if (unused.length > 0) {
    await installFilters(master, framework.frameworkId, accept.filters?.refuse_seconds, [
      { role, agentId: agent.agentId, resources: unused },
    ]);
  }
}

/**
 * Writes the launches' task rows, all at once (one after another, 40 rows took 40 round trips before the first launch
 * command went out); a row that loses a race gives its resources back. 'dropped': the sweeper ended this launch first
 * (the ACCEPT outlived the launch timeout); it told the framework and gave the resources back, and ends whichever of
 * the launch's rows were written, whenever they were, so none is launched.
 */
async function addTaskRows(
  master: Master,
  framework: FrameworkRecord,
  plan: CommitPlan,
  launchId: string,
  feedback: Feedback,
): Promise<Launch[] | 'dropped'> {
  const added = await Promise.all(
    plan.launches.map(async (launch) => ({
      launch,
      added: await master.registrar.tasks.add({
        frameworkId: framework.frameworkId,
        agentId: plan.agent.agentId,
        role: plan.role,
        resources: launch.resources,
        info: launch.task,
        launchId,
      }),
    })),
  );
  if (added.some(({ added }) => !added.ok && added.error.code === 'LAUNCH_DROPPED')) return 'dropped';
  const written: Launch[] = [];
  for (const { launch, added: row } of added) {
    if (!row.ok) {
      // Another launch of the same task id won a race on another agent.
      await master.registrar.agents.releaseTasks({
        agentId: plan.agent.agentId,
        tasks: [{ frameworkId: framework.frameworkId, taskId: launch.task.task_id.value, launchId }],
      });
      feedback.task(launch.task, 'TASK_ERROR', 'REASON_TASK_INVALID', row.error.message);
      continue;
    }
    master.metrics.increment('master/tasks_launched');
    written.push(launch);
  }
  return written;
}
