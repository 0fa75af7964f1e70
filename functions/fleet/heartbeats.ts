/**
 * The master's side of agent heartbeats (docs/architecture.md, "Failure detection"). Agents send a message to the
 * heartbeat queue every `agent_ping_timeout`; the handler takes a whole batch at once: it reads the agents' statuses
 * in one batch read, records the active ones in one write (registrar/heartbeats.ts), and asks the others — marked
 * unreachable meanwhile, or unknown to this master — to re-register, as Mesos's master does with an agent it does not
 * take as registered. The sweeper turns silence into unreachability.
 *
 * Who sent a heartbeat is checked where it can be: SQS stamps each message with its sender, and on EC2
 * that is the instance's role session, `<role id>:<instance id>`. A heartbeat for an agent bound to
 * another session (the whole of it, not just the instance) is dropped: one agent cannot keep another
 * that died looking alive.
 */
import { HeartbeatMessageSchema, parseMessageBody, type AgentCommand } from '#shared/protocol/internal.js';
import { queueNames, type Queues } from '#shared/queues/queues.js';
import type { AgentStatusView } from '../registrar/index.js';
import { expectedSender, sentBy } from './instance-id.js';
import { sendAgentCommands, type Master } from '../master/master.js';

/** A heartbeat as it came off the queue. */
export interface ReceivedHeartbeat {
  readonly body: string;
  /** SQS's SenderId: the sending principal ("AROA…:i-0123…" for an instance role). */
  readonly senderId?: string;
}

export interface HeartbeatReport {
  readonly recorded: number;
  readonly reregister: number;
  readonly dropped: number;
}

/** Heartbeats are worth nothing after a few minutes; the queue keeps them five. */
export async function ensureHeartbeatQueue(queues: Queues, cluster: string): Promise<string> {
  return queues.ensure(queueNames.heartbeats(cluster), { retentionSeconds: 300, visibilityTimeoutSeconds: 30 });
}

/** True when the sender may speak for the agent: its instance's role session, or the agent is not on EC2. */
function fromItsInstance(master: Master, agent: AgentStatusView, senderId: string | undefined): boolean {
  return sentBy(expectedSender(agent, master.config.agentRoleId), senderId);
}

/** The command queue of an agent the registrar does not know (its URL follows from the status queue's). */
function commandQueueOf(master: Master, agentId: string): string {
  const base = master.statusQueueUrl.slice(0, master.statusQueueUrl.lastIndexOf('/') + 1);
  return `${base}${queueNames.agentCommands(master.config.cluster, agentId)}`;
}

export async function handleHeartbeats(
  master: Master,
  heartbeats: readonly ReceivedHeartbeat[],
): Promise<HeartbeatReport> {
  const now = master.now();
  const latest = new Map<string, { sentAt: number; senderId: string | undefined }>();
  let dropped = 0;
  for (const heartbeat of heartbeats) {
    const beat = parseMessageBody(HeartbeatMessageSchema, heartbeat.body);
    if (!beat) {
      dropped++;
      continue;
    }
    const agentId = beat.agent_id.value;
    const previous = latest.get(agentId);
    if (!previous || beat.sent_at > previous.sentAt) {
      latest.set(agentId, { sentAt: beat.sent_at, senderId: heartbeat.senderId });
    }
  }

  const agents = await master.registrar.agents.statuses([...latest.keys()]);
  const alive = new Map<string, number>();
  const strangers: Array<{ agentId: string; queueUrl: string; why: string }> = [];
  for (const [agentId, { sentAt, senderId }] of latest) {
    const agent = agents.get(agentId);
    if (agent && !fromItsInstance(master, agent, senderId)) {
      dropped++;
      master.metrics.increment('master/invalid_heartbeats');
      master.logger.warn('Dropping a heartbeat sent from another instance than its agent', { agentId, senderId });
      continue;
    }
    master.metrics.observe('master/heartbeat_lag_ms', Math.max(0, now - sentAt));
    if (agent?.status === 'ACTIVE') {
      alive.set(agentId, now);
      continue;
    }
    // A gone agent's queue is deleted: its next receive fails and it re-registers by itself.
    if (agent?.status === 'GONE') continue;
    strangers.push({
      agentId,
      queueUrl: agent?.commandQueueUrl || commandQueueOf(master, agentId),
      why: agent ? `the master marked this agent ${agent.status}` : 'the master does not know this agent',
    });
  }

  await master.registrar.heartbeats.record(alive);
  master.metrics.increment('master/agent_heartbeats', alive.size);
  for (const stranger of strangers) {
    const command: AgentCommand = { type: 'REREGISTER', reason: stranger.why };
    try {
      await sendAgentCommands(master, { agentId: stranger.agentId, commandQueueUrl: stranger.queueUrl }, [command]);
      master.logger.info('Asked an agent to re-register', { agentId: stranger.agentId, why: stranger.why });
    } catch (error) {
      // No queue: an agent of another master or a wiped registrar; its registration tells it so.
      master.logger.warn('Could not ask an agent to re-register', {
        agentId: stranger.agentId,
        error: String(error),
      });
    }
  }
  return { recorded: alive.size, reregister: strangers.length, dropped };
}
