/**
 * Allocation triggers (docs/allocator.md, "Triggers"): whoever changes what can be offered — an agent added,
 * resources freed, a framework subscribed or revived — puts a trigger on the allocation queue, and
 * timers (filter and offer expiry) are delayed triggers. The allocator Lambda receives them in batches
 * and runs one pass per batch, over the union of the agents they name (Mesos coalesces pending
 * allocation requests the same way). A periodic trigger is the safety net.
 */
import { z } from 'zod';
import { queueNames, type Queues } from '#shared/queues/queues.js';

export const TRIGGER_REASONS = [
  'AGENT_ADDED',
  'RESOURCES_RECOVERED',
  'FRAMEWORK_SUBSCRIBED',
  'REVIVE',
  'FILTER_EXPIRED',
  'OFFER_EXPIRED',
  'PERIODIC',
] as const;
export type TriggerReason = (typeof TRIGGER_REASONS)[number];

/**
 * What a framework's arrival or revival changes concerns every agent (Mesos allocates all agents then),
 * though no agent's ledger changed; so does the periodic pass.
 */
const ALL_AGENTS: ReadonlySet<TriggerReason> = new Set(['FRAMEWORK_SUBSCRIBED', 'REVIVE', 'PERIODIC']);

/** Whether a trigger asks for all agents without any agent having changed (a warm snapshot's pass covers it). */
export function changesNoAgent(message: TriggerMessage): boolean {
  return ALL_AGENTS.has(message.reason) && !message.agent_ids;
}

export interface AllocationTrigger {
  readonly reason: TriggerReason;
  /** The agents whose resources changed; absent: all agents. */
  readonly agentIds?: readonly string[];
  readonly frameworkId?: string;
}

/** More agent ids than this and the trigger simply asks for all agents (the message stays small). */
export const MAX_TRIGGER_AGENTS = 1000;
/**
 * SQS delays a message by at most 15 minutes. Longer timers are not sent: the periodic pass, which runs
 * far more often, offers what they would have (a refuse_seconds of a year is not a year of messages).
 */
export const MAX_DELAY_SECONDS = 900;

/** The message on the allocation queue. Only `reason` is required, so that any sender's triggers work. */
export const TriggerMessageSchema = z.object({
  reason: z.enum(TRIGGER_REASONS),
  agent_ids: z.array(z.string().min(1)).optional(),
  framework_id: z.string().min(1).optional(),
  /** When it was sent (ms since the epoch): allocation_run_latency_ms counts from here. */
  sent_at: z.number().finite().optional(),
  /** A timer is due at this time (ms since the epoch): a pass that started later covers it. */
  due_at: z.number().finite().optional(),
  /** Long timers of earlier versions (due then); the periodic pass covers them, so they are dropped. */
  not_before: z.number().finite().optional(),
});
export type TriggerMessage = z.infer<typeof TriggerMessageSchema>;

export function triggerMessage(trigger: AllocationTrigger, now: number, delaySeconds = 0): TriggerMessage {
  const agentIds =
    trigger.agentIds && trigger.agentIds.length <= MAX_TRIGGER_AGENTS ? [...new Set(trigger.agentIds)] : undefined;
  return {
    reason: trigger.reason,
    ...(agentIds ? { agent_ids: agentIds } : {}),
    ...(trigger.frameworkId !== undefined ? { framework_id: trigger.frameworkId } : {}),
    sent_at: now,
    ...(delaySeconds > 0 ? { due_at: now + Math.ceil(delaySeconds * 1000) } : {}),
  };
}

/** Sends triggers to the allocation queue: what API handlers, the status handler and timers call. */
export class AllocationTriggers {
  constructor(
    private readonly queues: Queues,
    private readonly queueUrl: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Asks for an allocation pass now, or after `delaySeconds`; a delay beyond MAX_DELAY_SECONDS sends
   * nothing (the periodic pass covers it).
   */
  async request(trigger: AllocationTrigger, delaySeconds = 0): Promise<void> {
    const delay = Number.isFinite(delaySeconds) && delaySeconds > 0 ? delaySeconds : 0;
    if (delay > MAX_DELAY_SECONDS) return;
    await this.queues.send(this.queueUrl, [{ body: triggerMessage(trigger, this.now(), delay), delaySeconds: delay }]);
  }
}

/**
 * The allocation queue (standard: triggers need no order, and delays work per message). A trigger that
 * keeps failing goes to the dead-letter queue after five tries; the periodic pass covers what it asked.
 */
export async function ensureAllocationQueue(queues: Queues, cluster: string): Promise<string> {
  return queues.ensure(queueNames.allocation(cluster), { visibilityTimeoutSeconds: 300, maxReceiveCount: 5 });
}

/** What a batch of triggers asks for: one pass, over some agents or all of them. */
export interface AllocationRequest {
  /** undefined: all agents. */
  readonly agentIds: ReadonlySet<string> | undefined;
  /**
   * The agents the triggers named (their ledgers changed); undefined when a trigger says agents changed
   * without naming them (more than MAX_TRIGGER_AGENTS, or a sender that names none): then every agent is read.
   */
  readonly changedAgents: ReadonlySet<string> | undefined;
  readonly reasons: readonly TriggerReason[];
  /** When the oldest trigger was sent: the pass's queueing delay. */
  readonly requestedAt: number | undefined;
}

export function coalesce(messages: readonly TriggerMessage[]): AllocationRequest | undefined {
  if (messages.length === 0) return undefined;
  let agentIds: Set<string> | undefined = new Set();
  let changedAgents: Set<string> | undefined = new Set();
  for (const message of messages) {
    if (!message.agent_ids || ALL_AGENTS.has(message.reason)) agentIds = undefined;
    else if (agentIds) for (const agentId of message.agent_ids) agentIds.add(agentId);
    if (message.agent_ids) for (const agentId of message.agent_ids) changedAgents?.add(agentId);
    else if (!changesNoAgent(message)) changedAgents = undefined;
  }
  return {
    agentIds,
    changedAgents,
    reasons: [...new Set(messages.map((message) => message.reason))],
    requestedAt: messages.reduce<number | undefined>(
      (oldest, message) => (message.sent_at === undefined ? oldest : Math.min(oldest ?? Infinity, message.sent_at)),
      undefined,
    ),
  };
}

/** The local cluster's stand-in for the scheduled rule: a PERIODIC trigger every `intervalSeconds`. */
export function startPeriodicTriggers(
  triggers: Pick<AllocationTriggers, 'request'>,
  intervalSeconds: number,
  onError: (error: unknown) => void,
): { stop(): void } {
  const timer = setInterval(() => {
    triggers.request({ reason: 'PERIODIC' }).catch(onError);
  }, intervalSeconds * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * Collects the RESOURCES_RECOVERED triggers of one batch of work (a status handler invocation) and
 * sends them as one, naming every agent: a batch of ten terminal updates asks for one pass, not ten.
 * Other triggers go straight through.
 */
export class CoalescedTriggers implements Pick<AllocationTriggers, 'request'> {
  private readonly recovered = new Set<string>();

  constructor(private readonly inner: Pick<AllocationTriggers, 'request'>) {}

  request(trigger: AllocationTrigger, delaySeconds = 0): Promise<void> {
    if (trigger.reason !== 'RESOURCES_RECOVERED' || delaySeconds > 0 || !trigger.agentIds) {
      return this.inner.request(trigger, delaySeconds);
    }
    for (const agentId of trigger.agentIds) this.recovered.add(agentId);
    return Promise.resolve();
  }

  /** Sends what was collected, if anything. */
  async flush(): Promise<void> {
    if (this.recovered.size === 0) return;
    const agentIds = [...this.recovered];
    this.recovered.clear();
    await this.inner.request({ reason: 'RESOURCES_RECOVERED', agentIds });
  }
}
