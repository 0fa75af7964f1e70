/**
 * What every master handler needs: the registrar, the queues, event delivery, configuration,
 * metrics, logs and a clock. Built once per Lambda container, per local cluster, per test.
 */
import type { TaskLogReader } from '#shared/task-logs/store.js';
import type { AllocationTrigger } from '../allocation/triggers.js';
import type { FleetHooks } from '../fleet/hooks.js';
import type { Logger } from '#shared/log.js';
import { inLogContext, withLogContext, type LogContext } from '#shared/log-context.js';
import { eventContext, type EventPublisher, type EventTarget } from './event-publisher.js';
import type { Metrics } from '#shared/metrics.js';
import type { AgentCommand } from '#shared/protocol/internal.js';
import type { Event } from '#shared/protocol/scheduler.js';
import type { Queues } from '#shared/queues/queues.js';
import type { Registrar } from '../registrar/index.js';
import type { MasterConfig } from './config.js';
import type { AgentIdentityVerifier } from './sts-identity.js';

export type { AllocationTrigger };

export interface AllocationRequester {
  /** Asks for an allocation pass now, or after `delaySeconds` (timers). */
  request(trigger: AllocationTrigger, delaySeconds?: number): Promise<void>;
}

/** A job of Mantle Jobs waiting to run, and why (frameworks/jobs: a job's `pending_reason`). */
export interface PendingJob {
  readonly id: string;
  readonly name: string;
  /** The queue: the role its tasks run in. */
  readonly queue: string;
  readonly reason: string;
  readonly createdAt: string;
}

export interface Master {
  readonly config: MasterConfig;
  readonly registrar: Registrar;
  readonly queues: Queues;
  readonly events: EventPublisher;
  readonly allocation: AllocationRequester;
  /** The status FIFO queue agents send to. */
  readonly statusQueueUrl: string;
  /** Where agents send their heartbeats (a standard queue). */
  readonly heartbeatQueueUrl: string;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly fleet?: FleetHooks;
  /** Proves agents' AWS identities (config `agentIdentity` in `aws-sts` mode). */
  readonly agentIdentity?: AgentIdentityVerifier;
  /** Mantle Jobs' pending jobs, where Jobs runs beside this master (the app binds it: handlers/app.ts). */
  readonly pendingJobs?: (limit: number) => Promise<readonly PendingJob[]>;
  /** The tasks' output as the agents ship it (config `taskLogGroup`), for the files API. */
  readonly taskLogs?: TaskLogReader;
  now(): number;
}

/**
 * Sends commands to an agent's command queue; per-task commands keep their order (one group per task). Each carries
 * the ids it is about (and the sender's correlation id) as message attributes, and is logged (debug) under them.
 */
export async function sendAgentCommands(
  master: Pick<Master, 'queues'> & { readonly logger?: Logger },
  agent: { agentId: string; commandQueueUrl: string },
  commands: readonly AgentCommand[],
): Promise<void> {
  if (commands.length === 0) return;
  if (!agent.commandQueueUrl) throw new Error(`Agent ${agent.agentId} has no command queue`);
  await master.queues.send(
    agent.commandQueueUrl,
    commands.map((command) => ({
      body: command,
      groupId: commandGroup(command),
      deduplicationId: crypto.randomUUID(),
      context: commandContext(agent.agentId, command),
    })),
  );
  for (const command of commands) {
    withLogContext(commandContext(agent.agentId, command), () =>
      master.logger?.debug('Agent command sent', { type: command.type }),
    );
  }
}

/**
 * Sends commands to an agent known by its id alone (acknowledgements), found through the registrar's recent agents:
 * false, sending nothing, for an agent unknown or GONE. A failed send is checked against a fresh read: an agent gone
 * meanwhile (its queue deleted with it) is false as well, any other failure is thrown.
 */
export async function sendToAgent(
  master: Pick<Master, 'registrar' | 'queues'> & { readonly logger?: Logger },
  agentId: string,
  commands: readonly AgentCommand[],
): Promise<boolean> {
  const { recentAgents } = master.registrar;
  const agent = await recentAgents.get(agentId);
  if (!agent || agent.status === 'GONE' || !agent.commandQueueUrl) return false;
  try {
    await sendAgentCommands(master, { agentId, commandQueueUrl: agent.commandQueueUrl }, commands);
    return true;
  } catch (error) {
    recentAgents.forget(agentId);
    const current = await recentAgents.get(agentId);
    if (!current || current.status === 'GONE') return false;
    throw error;
  }
}

function commandContext(agentId: string, command: AgentCommand): LogContext {
  const task =
    command.type === 'LAUNCH'
      ? command.task.task_id.value
      : command.type === 'KILL' || command.type === 'ACKNOWLEDGE'
        ? command.task_id.value
        : command.type === 'LAUNCH_GROUP'
          ? command.task_group.tasks?.[0]?.task_id.value
          : undefined;
  const framework = 'framework_id' in command ? command.framework_id.value : undefined;
  return { agent_id: agentId, ...(framework ? { framework_id: framework } : {}), ...(task ? { task_id: task } : {}) };
}

function commandGroup(command: AgentCommand): string {
  switch (command.type) {
    case 'LAUNCH':
      return `${command.framework_id.value}/${command.task.task_id.value}`;
    case 'KILL':
    case 'ACKNOWLEDGE':
      return `${command.framework_id.value}/${command.task_id.value}`;
    case 'LAUNCH_GROUP':
      return `${command.framework_id.value}/${command.task_group.tasks?.[0]?.task_id.value ?? 'group'}`;
    default:
      return '_agent';
  }
}

/**
 * Publishes events to a framework, counting them under Mesos's per-framework metric names (and logging them, debug).
 * `logScopes[i]`, when given, is the log scope event i is logged in (a batch's events come from different messages,
 * each with its own correlation id); else the caller's.
 */
export async function publishEvents(
  master: Pick<Master, 'events' | 'metrics'> & { readonly logger?: Logger },
  target: EventTarget,
  events: readonly Event[],
  logScopes?: readonly LogContext[],
): Promise<void> {
  if (events.length === 0) return;
  await master.events.publish(target, events, logScopes);
  for (const [index, event] of events.entries()) {
    master.metrics.increment(`master/events/${event.type}`);
    const log = () =>
      withLogContext(eventContext(target.frameworkId, event), () =>
        master.logger?.debug('Framework event sent', { type: event.type }),
      );
    const scope = logScopes?.[index];
    if (scope) inLogContext(scope, log);
    else log();
  }
}
