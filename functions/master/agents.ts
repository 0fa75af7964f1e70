/**
 * The master's side of agent registration (Mesos `Master::registerSlave`, `reregisterSlave`;
 * docs/architecture.md, "Agent registration"). Heartbeats are functions/fleet/heartbeats.ts.
 *
 * A new agent gets an id and its own command queue, and allocation is triggered. A restarted agent
 * re-registers with its checkpointed id and the tasks it still runs; the master reconciles: tasks it
 * has that the agent does not are asked about (RECONCILE, the agent answers TASK_DROPPED/LOST), tasks
 * the agent runs that the master no longer has are killed, and tasks of an agent that was unreachable
 * take the state it reports (REASON_AGENT_REREGISTERED), as Mesos does since 1.5.
 *
 * On EC2 an agent is bound to its instance ("Agent identity" in docs/security.md): with a proven AWS
 * identity the master derives the instance itself, records the instance's role session on the agent, and refuses an
 * agent id that another instance holds; its command queue is tagged for that session only once the
 * agent is admitted.
 */
import { newAgentId } from '#shared/ids.js';
import type {
  RegisterAgentRequest,
  RegisterAgentResponse,
  ReportedExecutor,
  ReportedTask,
} from '#shared/protocol/internal.js';
import type { Attribute } from '#shared/protocol/mesos.js';
import { queueNames, RUNTIME_MAX_RECEIVES } from '#shared/queues/queues.js';
import { err, ok, type Failure, type Result } from '#shared/result.js';
import type { AgentRecord, AgentRegistration } from '../registrar/index.js';
import { taskKey } from '#shared/ids.js';
import { isTerminal } from '#shared/tasks/state-machine.js';
import { unreportedExecutors } from '../registrar/ledger-releases.js';
import { agentSessionId, boundAttributes, instanceIdOf } from '../fleet/instance-id.js';
import type { AgentIdentity } from './agent-identity.js';
import { machineOfAgent } from '../maintenance/schedule.js';
import { notifyFramework, announceRescinds } from './lifecycle.js';
import { sendAgentCommands, type Master } from './master.js';
import { masterStatus } from './statuses.js';

/** A refused registration, with the HTTP status the agents' API answers it with. */
export type RegistrationFailure =
  | (Failure<'INVALID'> & { readonly status: 400 })
  /** The agent is not the instance it claims to be, or its id belongs to another instance. */
  | (Failure<'FORBIDDEN'> & { readonly status: 403 })
  /** The agent must wipe its state and register as a new agent (Mesos tells it to shut down). */
  | (Failure<'AGENT_GONE' | 'UNKNOWN_AGENT'> & { readonly status: 410 })
  /** It came back with fewer resources than its tasks hold: it must drain first. */
  | (Failure<'RESOURCES_SHRANK'> & { readonly status: 409 });

function refused(failure: RegistrationFailure): { readonly ok: false; readonly error: RegistrationFailure } {
  return err(failure);
}

function response(master: Master, agent: AgentRecord): RegisterAgentResponse {
  return {
    agent_id: { value: agent.agentId },
    command_queue_url: agent.commandQueueUrl,
    status_queue_url: master.statusQueueUrl,
    heartbeat_queue_url: master.heartbeatQueueUrl,
    heartbeat_interval_seconds: master.config.agentPingTimeoutSeconds,
    ...(master.config.taskLogGroup
      ? {
          task_logs: {
            log_group: master.config.taskLogGroup,
            ...(master.config.taskLogsEndpoint ? { endpoint: master.config.taskLogsEndpoint } : {}),
          },
        }
      : {}),
  };
}

/** Who registers: the principal it authenticated as and, in `aws-sts` mode, its proven identity. */
export interface AgentCaller {
  readonly principal: string;
  readonly identity?: AgentIdentity;
}

/** The attributes and role session of the registering agent: derived from its identity, or as reported. */
function binding(
  master: Master,
  request: RegisterAgentRequest,
  identity: AgentIdentity | undefined,
): Result<{ attributes: Attribute[]; instanceSession?: string }, RegistrationFailure> {
  const reported = request.attributes ?? [];
  if (identity) {
    const attributes = boundAttributes(reported, identity.instanceId);
    if (!attributes.ok) return refused({ status: 403, code: 'FORBIDDEN', message: attributes.error });
    return ok({ attributes: attributes.value, instanceSession: identity.session });
  }
  // A shared agent principal: the instance is as reported, its session as the role's on it.
  const instance = instanceIdOf({ attributes: reported });
  const roleId = master.config.agentRoleId;
  return ok({
    attributes: reported,
    ...(instance !== undefined && roleId !== undefined ? { instanceSession: agentSessionId(roleId, instance) } : {}),
  });
}

export async function registerAgent(
  master: Master,
  request: RegisterAgentRequest,
  caller: AgentCaller,
): Promise<Result<RegisterAgentResponse, RegistrationFailure>> {
  const bound = binding(master, request, caller.identity);
  if (!bound.ok) return bound;
  // Mesos refuses agents of a machine under maintenance (and tells them to shut down).
  const machine = machineOfAgent(await master.registrar.maintenance.get(), {
    hostname: request.hostname,
    ip: request.ip ?? request.hostname,
  });
  if (machine?.mode === 'DOWN') {
    return refused({ status: 403, code: 'FORBIDDEN', message: `Machine '${machine.key}' is \`DOWN\`` });
  }
  const registration = {
    hostname: request.hostname,
    ...(request.ip !== undefined ? { ip: request.ip } : {}),
    ...(request.port !== undefined ? { port: request.port } : {}),
    resources: request.resources,
    ...bound.value,
    ...(request.domain ? { domain: request.domain } : {}),
    capabilities: (request.capabilities ?? []).map((capability) => capability.type),
    containerizers: request.containerizers,
    isolation: request.isolation,
    ...(request.gpus ? { gpuDevices: request.gpus } : {}),
    principal: caller.principal,
  };
  if (request.agent_id) return reregisterAgent(master, request, request.agent_id.value, registration);

  const agentId = newAgentId(master.config.clusterId);
  const commandQueueUrl = await commandQueue(master, agentId);
  const admitted = await master.registrar.agents.admit({ ...registration, commandQueueUrl }, agentId);
  if (!admitted.ok) {
    await master.queues.remove(commandQueueUrl);
    return refused({ status: 400, code: 'INVALID', message: admitted.error.message });
  }
  await tagCommandQueue(master, admitted.value);
  master.metrics.increment('master/slave_registrations');
  master.logger.info('Agent registered', {
    agentId,
    hostname: admitted.value.hostname,
    containerizers: admitted.value.containerizers,
    isolation: admitted.value.isolation,
    instanceSession: admitted.value.instanceSession,
  });
  await master.allocation.request({ reason: 'AGENT_ADDED', agentIds: [agentId] });
  return ok(response(master, admitted.value));
}

async function reregisterAgent(
  master: Master,
  request: RegisterAgentRequest,
  agentId: string,
  registration: AgentRegistration,
): Promise<Result<RegisterAgentResponse, RegistrationFailure>> {
  const commandQueueUrl = await commandQueue(master, agentId);
  const result = await master.registrar.agents.readmit(agentId, { ...registration, commandQueueUrl });
  if (!result.ok) {
    const { code, message } = result.error;
    if (code === 'AGENT_GONE' || code === 'UNKNOWN_AGENT') return refused({ status: 410, code, message });
    if (code === 'INSUFFICIENT_RESOURCES') return refused({ status: 409, code: 'RESOURCES_SHRANK', message });
    if (code === 'INSTANCE_MISMATCH') {
      master.metrics.increment('master/invalid_reregistrations');
      master.logger.warn('Refused an agent re-registering from another instance', { agentId, why: message });
      return refused({ status: 403, code: 'FORBIDDEN', message });
    }
    return refused({ status: 400, code: 'INVALID', message });
  }
  const { agent, rescinded, wasUnreachable, dropped } = result.value;
  await tagCommandQueue(master, agent);
  master.metrics.increment('master/slave_reregistrations');
  master.logger.info('Agent re-registered', { agentId, hostname: agent.hostname, wasUnreachable });
  if (dropped.length > 0) {
    master.logger.warn('Agent re-registered without what some of its reservations or volumes were made from: dropped', {
      agentId,
      hostname: agent.hostname,
      dropped,
    });
  }
  await announceRescinds(master, rescinded);
  await reconcileReportedTasks(master, agent, request.tasks ?? [], wasUnreachable);
  if (request.executors) await releaseUnreportedExecutors(master, agent, request.executors);
  await master.allocation.request({ reason: 'AGENT_ADDED', agentIds: [agentId] });
  return ok(response(master, agent));
}

/**
 * The agent's own command queue becomes readable (in AWS) from the instance it is bound to: only once
 * the agent is admitted, so that a refused registration never opens another agent's queue.
 */
async function tagCommandQueue(master: Master, agent: AgentRecord): Promise<void> {
  if (agent.instanceSession !== undefined)
    await master.fleet?.tagAgentQueue?.(agent.commandQueueUrl, agent.instanceSession);
}

/** The agent's own command queue, with its dead-letter queue (tagged only once the agent is admitted). */
function commandQueue(master: Master, agentId: string): Promise<string> {
  return master.queues.ensure(queueNames.agentCommands(master.config.cluster, agentId), {
    maxReceiveCount: RUNTIME_MAX_RECEIVES,
    deadLetterName: queueNames.agentCommandsDeadLetter(master.config.cluster),
  });
}

/** What the custom executors the agent no longer runs held comes back (none ends by EXECUTOR_EXITED now). */
async function releaseUnreportedExecutors(
  master: Master,
  agent: AgentRecord,
  reported: readonly ReportedExecutor[],
): Promise<void> {
  const keys = new Set(reported.map((executor) => taskKey(executor.framework_id.value, executor.executor_id.value)));
  const chargedBefore = master.now() - master.config.launchTimeoutSeconds * 1000;
  const executors = unreportedExecutors(agent, keys, chargedBefore);
  if (executors.length === 0) return;
  master.logger.info('Agent re-registered without some custom executors: their resources come back', {
    agentId: agent.agentId,
    executorIds: executors.map((executor) => executor.executorId),
  });
  await master.registrar.agents.releaseExecutors({ agentId: agent.agentId, executors });
}

async function reconcileReportedTasks(
  master: Master,
  agent: AgentRecord,
  reported: readonly ReportedTask[],
  wasUnreachable: boolean,
): Promise<void> {
  const reportedKeys = new Set(reported.map((task) => taskKey(task.framework_id.value, task.task_id.value)));
  // The master's tasks the agent did not report: the agent answers for them (TASK_DROPPED/LOST).
  const missing = Object.values(agent.tasks).filter(
    (task) => !reportedKeys.has(taskKey(task.frameworkId, task.taskId)),
  );
  if (missing.length > 0) {
    await sendAgentCommands(master, agent, [
      {
        type: 'RECONCILE',
        tasks: missing.map((task) => ({ framework_id: { value: task.frameworkId }, task_id: { value: task.taskId } })),
      },
    ]);
  }
  const now = master.now();
  for (const task of reported) {
    const frameworkId = task.framework_id.value;
    const taskId = task.task_id.value;
    const known = agent.tasks[taskKey(frameworkId, taskId)];
    const row = await master.registrar.tasks.get(frameworkId, taskId);
    const framework = await master.registrar.frameworks.get(frameworkId);
    if (!known || !row || isTerminal(row.state) || !framework || framework.status === 'REMOVED') {
      // Not the master's task any more: the agent kills it.
      await sendAgentCommands(master, agent, [
        { type: 'KILL', framework_id: task.framework_id, task_id: task.task_id },
      ]);
      continue;
    }
    if (wasUnreachable && row.state === 'TASK_UNREACHABLE' && !isTerminal(task.state)) {
      const status = masterStatus(framework.info, {
        taskId,
        state: task.state,
        reason: 'REASON_AGENT_REREGISTERED',
        message: 'Agent re-registered',
        agentId: agent.agentId,
        now,
      });
      const applied = await master.registrar.tasks.updateStatus(frameworkId, { ...status, state: task.state });
      if (applied.ok) await notifyFramework(master, framework, [status]);
    }
  }
}
