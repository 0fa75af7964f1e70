/**
 * The status pipeline (docs/architecture.md, "Status updates"): agents' updates come off the status
 * FIFO queue and go through the task state machine in the registrar (idempotent by uuid, never
 * regressing). Then `planStatusUpdate` (status-plan.ts) decides, purely, what follows — free the resources of a
 * terminal task, forward the update to the framework as an UPDATE event, or acknowledge it to the
 * agent — and `AgentMessageBatch` does it, for a whole batch of messages at once. The framework's ACKNOWLEDGE is
 * turned into an acknowledgement to the agent (see scheduler/acknowledge.ts).
 *
 * Updates the master cannot forward (unknown task, a framework that is gone, a transition the state
 * machine refuses, a task that is not on the sending agent) are acknowledged to the agent directly: the
 * master has taken responsibility for them, and the agent must stop retrying.
 *
 * Every message is bound to its agent ("Agent identity" in docs/security.md): an update applies only to
 * a task on the agent that sent it, and a message whose SQS SenderId is not the role session of the agent's
 * instance is dropped and counted — never freeing resources, never answered.
 */
import type { AgentMessage } from '#shared/protocol/internal.js';
import { taskKey } from '#shared/ids.js';
import { groupBy } from '#shared/collections.js';
import { logContext, type LogContext } from '#shared/log-context.js';
import { agentDrained } from '../fleet/drain.js';
import { publishEvents, sendToAgent, type Master } from './master.js';
import { expectedSender } from '../fleet/instance-id.js';
import type { TaskRecord } from '../registrar/index.js';
import { planForeignSender, planStatusUpdate, type StatusPlan, type StatusUpdate } from './status-plan.js';
import { updateEvent } from './statuses.js';
import { handleExecutorMessage } from './executor-messages.js';

/** The master's own acknowledgements of an agent's updates, in one send (none to an agent unknown or gone). */
async function acknowledgeToAgent(
  master: Pick<Master, 'registrar' | 'queues'>,
  agentId: string,
  updates: readonly StatusUpdate[],
): Promise<void> {
  const commands = updates.flatMap(({ framework_id, status }) =>
    status.uuid === undefined
      ? []
      : [{ type: 'ACKNOWLEDGE' as const, framework_id, task_id: status.task_id, uuid: status.uuid }],
  );
  if (commands.length > 0) await sendToAgent(master, agentId, commands);
}

/**
 * Who may speak for each agent, as last read. A role session recorded at registration never changes,
 * so it is kept; "anyone" (an agent bound to no instance) is read again after a minute, in case the
 * agent re-registered with a session since.
 */
const senders = new Map<string, { readonly expected: string | undefined; readonly until: number }>();
const UNBOUND_TTL_MS = 60_000;

function knownSender(agentId: string): { readonly expected: string | undefined } | undefined {
  const known = senders.get(agentId);
  return known && known.until > Date.now() ? known : undefined;
}

/** Reads the agents whose senders are not known, in one read, and keeps what they say. */
async function readSenders(master: Pick<Master, 'registrar' | 'config'>, agentIds: readonly string[]): Promise<void> {
  const unknown = [...new Set(agentIds)].filter((agentId) => !knownSender(agentId));
  if (unknown.length === 0) return;
  const agents = await master.registrar.agents.statuses(unknown);
  const now = Date.now();
  for (const [agentId, agent] of agents) {
    if (senders.size >= 10_000) senders.clear();
    senders.set(agentId, {
      expected: expectedSender(agent, master.config.agentRoleId),
      until: agent.instanceSession !== undefined ? Number.POSITIVE_INFINITY : now + UNBOUND_TTL_MS,
    });
  }
}

/** The role session that may speak for the agent (undefined: any sender, off EC2, or an unknown agent). */
async function senderOf(master: Pick<Master, 'registrar' | 'config'>, agentId: string): Promise<string | undefined> {
  if (!knownSender(agentId)) await readSenders(master, [agentId]);
  // An unknown agent has no tasks an update could apply to.
  return knownSender(agentId)?.expected;
}

function record(master: Master, message: AgentMessage, plan: StatusPlan): void {
  for (const counter of plan.counters) master.metrics.increment(counter);
  if (!plan.refused) return;
  const log = {
    type: message.type,
    agentId: message.agent_id.value,
    ...(message.type === 'STATUS_UPDATE'
      ? { frameworkId: message.framework_id.value, taskId: message.status.task_id.value, state: message.status.state }
      : {}),
  };
  master.logger.warn('Agent message not applied', { ...log, code: plan.refused.code, why: plan.refused.why });
}

/** A status update as the state machine ruled on it, and what follows. */
interface Ruled {
  readonly message: StatusUpdate;
  readonly plan: StatusPlan;
  /** The log scope it was applied in (its message's ids), for the lines `finish` writes about it. */
  readonly scope: LogContext;
}

/**
 * A batch of agent messages (one status-handler invocation), handled in two steps. `apply` takes each message
 * through the state machine, a message group's in order (the caller's), reading each task's row once for the batch
 * and each framework once. `finish` then does what follows for the whole batch: frees each agent's terminal tasks
 * in one ledger write, then sends each framework its updates and each agent the master's own acknowledgements, in
 * one call each (a task's in the order applied). Resources still go back before any update is forwarded (as in
 * Mesos). `K` is the caller's key of a message (its SQS record); messages other than status updates are done in
 * `apply`.
 */
export class AgentMessageBatch<K> {
  private readonly ruled = new Map<K, Ruled>();
  /** The batch's task rows as last read or written, by task key. */
  private readonly rows = new Map<string, TaskRecord>();

  constructor(private readonly master: Master) {}

  /**
   * Reads what `apply` needs, before it: the rows of the tasks these messages update, in one batch read; the
   * senders' agents, in another; their frameworks. The batch's message groups then reach their row writes together,
   * which go in one request (statement-batches.ts).
   */
  async preload(messages: readonly AgentMessage[]): Promise<void> {
    const updates = messages.flatMap((message) => (message.type === 'STATUS_UPDATE' ? [message] : []));
    const keys = updates.map((message) => ({
      frameworkId: message.framework_id.value,
      taskId: message.status.task_id.value,
    }));
    const { registrar } = this.master;
    const [rows] = await Promise.all([
      keys.length > 0 ? registrar.tasks.getMany(keys) : new Map<string, TaskRecord>(),
      readSenders(
        this.master,
        messages.map((message) => message.agent_id.value),
      ),
      ...[...new Set(keys.map((key) => key.frameworkId))].map((id) => registrar.recentFrameworks.get(id)),
    ]);
    for (const [key, task] of rows) this.rows.set(key, task);
  }

  /** Handles one message up to the state machine's ruling; `senderId` is SQS's stamp of who sent it. */
  async apply(key: K, message: AgentMessage, senderId?: string): Promise<void> {
    const { master } = this;
    const agentId = message.agent_id.value;
    const foreign = planForeignSender(agentId, await senderOf(master, agentId), senderId);
    if (foreign) return record(master, message, foreign);
    if (message.type === 'DRAINED') {
      // In AWS the instance's termination may now go ahead (the fleet tick would otherwise finish it);
      // an operator's drain with mark_gone ends here.
      await agentDrained(master, master.fleet?.lifecycle, agentId);
      return;
    }
    if (message.type !== 'STATUS_UPDATE') return handleExecutorMessage(master, message);
    const frameworkId = message.framework_id.value;
    const row = taskKey(frameworkId, message.status.task_id.value);
    const known = this.rows.get(row);
    // The batch's other message groups write their rows meanwhile: the writes go together (statement-batches.ts).
    const applied = await master.registrar.tasks.updateStatus(frameworkId, message.status, {
      agentId,
      batched: true,
      ...(known ? { known } : {}),
    });
    if (applied.ok) this.rows.set(row, applied.value.task);
    else this.rows.delete(row);
    // A record up to a second old is fine for where to send the update; the batch's reads of it are one.
    const framework = applied.ok ? await master.registrar.recentFrameworks.get(frameworkId) : undefined;
    const plan = planStatusUpdate(message, applied, framework, master.now());
    record(master, message, plan);
    this.ruled.set(key, { message, plan, scope: logContext() });
  }

  /**
   * Frees the resources, then forwards and acknowledges, for the messages applied and not in `failed` (those failed
   * or held back); returns those whose part failed, with the error (SQS redelivers them: every step is idempotent).
   */
  async finish(failed: ReadonlySet<K>): Promise<Map<K, unknown>> {
    const errors = new Map<K, unknown>();
    const left = [...this.ruled].filter(([key]) => !failed.has(key));
    await this.release(left, errors);
    await this.reply(
      left.filter(([key]) => !errors.has(key)),
      errors,
    );
    return errors;
  }

  /** One ledger write per agent for the batch's terminal tasks on it, and one allocation trigger. */
  private async release(ruled: ReadonlyArray<[K, Ruled]>, errors: Map<K, unknown>): Promise<void> {
    const byAgent = groupBy(
      ruled.filter(([, { plan }]) => plan.release),
      ([, { plan }]) => plan.release?.agentId ?? '',
    );
    await Promise.all(
      [...byAgent].map(async ([agentId, entries]) => {
        try {
          const released = await this.master.registrar.agents.releaseTasks({
            agentId,
            tasks: entries.flatMap(([, { plan }]) => (plan.release ? [plan.release] : [])),
          });
          if (released.ok && released.value.released.length > 0) {
            await this.master.allocation.request({ reason: 'RESOURCES_RECOVERED', agentIds: [agentId] });
          }
        } catch (error) {
          for (const [key] of entries) errors.set(key, error);
        }
      }),
    );
  }

  /** Each framework's updates in one publish, each agent's acknowledgements in one send. */
  private async reply(ruled: ReadonlyArray<[K, Ruled]>, errors: Map<K, unknown>): Promise<void> {
    const forwards = groupBy(
      ruled.filter(([, { plan }]) => plan.reply.kind === 'forward'),
      ([, { message }]) => message.framework_id.value,
    );
    const acknowledgements = groupBy(
      ruled.filter(([, { plan, message }]) => plan.reply.kind === 'acknowledge' && message.status.uuid !== undefined),
      ([, { message }]) => message.agent_id.value,
    );
    const sending = async (entries: ReadonlyArray<[K, Ruled]>, send: () => Promise<void>) => {
      try {
        await send();
      } catch (error) {
        for (const [key] of entries) errors.set(key, error);
      }
    };
    await Promise.all([
      ...[...forwards.values()].map((entries) =>
        sending(entries, async () => {
          const replies = entries.flatMap(([, { plan, scope }]) =>
            plan.reply.kind === 'forward' ? [{ ...plan.reply, scope }] : [],
          );
          const target = replies[0]?.framework;
          if (target)
            await publishEvents(
              this.master,
              target,
              replies.map((reply) => updateEvent(reply.status)),
              replies.map((reply) => reply.scope),
            );
        }),
      ),
      ...[...acknowledgements].map(([agentId, entries]) =>
        sending(entries, () =>
          acknowledgeToAgent(
            this.master,
            agentId,
            entries.map(([, { message }]) => message),
          ),
        ),
      ),
    ]);
  }
}
