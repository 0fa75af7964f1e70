/**
 * Draining agents before their instances go (Mesos DRAIN_AGENT; docs/deploy.md, "Scaling in without killing work"):
 * scale-in never kills running work unless the work outlives a grace.
 *
 * - The Auto Scaling group's termination lifecycle hook (EventBridge) starts a drain: the agent is
 *   deactivated and its outstanding offers are rescinded in one registrar write, so nothing new lands
 *   on it; its tasks keep running. The instance waits in Terminating:Wait.
 * - When its tasks are all finished (the ledger holds none), the lifecycle action is completed and the
 *   group terminates the instance. That is checked on every fleet tick, and at once when the agent
 *   reports DRAINED.
 * - When the grace runs out first, the agent is sent DRAIN (its tasks are killed, each with at most the
 *   kill grace); once it reports DRAINED, or the kill grace and a minute have passed, the action is
 *   completed anyway. The hook's own timeout (longer than all of this) is the backstop if the master
 *   itself fails: the group then goes on with the termination.
 * - A Spot interruption notice leaves two minutes: the agent is deactivated and sent DRAIN at once with
 *   a short kill grace, so that its tasks end cleanly and say so before the instance is reclaimed.
 *
 * An agent that is unreachable cannot be drained: it is not waited for.
 */
import type { LifecycleActions } from './hooks.js';
import type { AgentDrain, AgentRecord } from '../registrar/index.js';
import { instanceIdOf } from './instance-id.js';
import { agentsOnInstance, markAgentGone } from './instances.js';
import { announceRescinds } from '../master/lifecycle.js';
import { sendAgentCommands, type Master } from '../master/master.js';

export interface DrainSettings {
  /** How long tasks get to finish on their own once a scale-in starts draining their agent. */
  readonly graceSeconds: number;
  /** Then each task is killed with at most this grace (DRAIN max_grace_period). */
  readonly killGraceSeconds: number;
  /** The kill grace after a Spot interruption notice (EC2 gives two minutes in all). */
  readonly spotKillGraceSeconds: number;
}

export const DEFAULT_DRAIN_SETTINGS: DrainSettings = {
  graceSeconds: 3600,
  killGraceSeconds: 60,
  spotKillGraceSeconds: 60,
};

/** How long after DRAIN the terminal updates of killed tasks get to arrive before the instance goes. */
export const KILL_SLACK_SECONDS = 60;

/** MANTLE_DRAIN_GRACE_SECONDS, MANTLE_DRAIN_KILL_GRACE_SECONDS, MANTLE_SPOT_KILL_GRACE_SECONDS. */
export function drainSettingsFromEnvironment(env: NodeJS.ProcessEnv = process.env): DrainSettings {
  const read = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number of seconds, not '${raw}'`);
    return value;
  };
  return {
    graceSeconds: read('MANTLE_DRAIN_GRACE_SECONDS', DEFAULT_DRAIN_SETTINGS.graceSeconds),
    killGraceSeconds: read('MANTLE_DRAIN_KILL_GRACE_SECONDS', DEFAULT_DRAIN_SETTINGS.killGraceSeconds),
    spotKillGraceSeconds: read('MANTLE_SPOT_KILL_GRACE_SECONDS', DEFAULT_DRAIN_SETTINGS.spotKillGraceSeconds),
  };
}

export type DrainCause = 'SCALE_IN' | 'SPOT_INTERRUPTION';

export interface DrainOutcome {
  /** Agents on the instance now draining. */
  readonly draining: number;
  /** The instance's lifecycle action was completed (nothing, or nothing more, to wait for). */
  readonly completed: boolean;
}

/** Starts draining the agents on an instance that is about to go. */
export async function drainInstance(
  master: Master,
  lifecycle: LifecycleActions,
  settings: DrainSettings,
  instanceId: string,
  cause: DrainCause,
): Promise<DrainOutcome> {
  const agents = await agentsOnInstance(master, instanceId);
  const now = master.now();
  const killGraceSeconds = cause === 'SPOT_INTERRUPTION' ? settings.spotKillGraceSeconds : settings.killGraceSeconds;
  const deadline = cause === 'SPOT_INTERRUPTION' ? now : now + settings.graceSeconds * 1000;
  const drained: AgentRecord[] = [];
  for (const agent of agents) {
    // A second notice (a Spot reclaim of an instance already scaling in) can only shorten the grace.
    const drain: AgentDrain = {
      startedAt: agent.drain?.startedAt ?? now,
      deadline: Math.min(agent.drain?.deadline ?? Infinity, deadline),
      ...(agent.drain?.killSentAt !== undefined ? { killSentAt: agent.drain.killSentAt } : {}),
    };
    const result = await master.registrar.agents.setDrain(agent.agentId, drain);
    if (!result.ok) continue;
    master.metrics.increment('master/agents_drain_started');
    master.logger.info('Draining agent', { agentId: agent.agentId, instanceId, cause, deadline: drain.deadline });
    await announceRescinds(master, result.value.rescinded);
    drained.push(await killIfDue(master, result.value.agent, killGraceSeconds));
  }
  const completed = cause === 'SCALE_IN' && (await completeIfDone(master, lifecycle, settings, instanceId, drained));
  return { draining: drained.length, completed };
}

/**
 * The fleet tick, over a snapshot of the agents: kills what outlived its grace and lets go of the
 * instances whose agents are done. Returns the instances whose lifecycle actions were completed.
 */
export async function advanceDrains(
  master: Master,
  lifecycle: LifecycleActions,
  settings: DrainSettings,
  agents: Iterable<AgentRecord>,
): Promise<string[]> {
  const byInstance = new Map<string, AgentRecord[]>();
  for (const agent of agents) {
    const instanceId = instanceIdOf(agent);
    if (agent.status === 'GONE' || !agent.drain || instanceId === undefined) continue;
    byInstance.set(instanceId, [...(byInstance.get(instanceId) ?? []), agent]);
  }
  const completed: string[] = [];
  for (const [instanceId, onInstance] of byInstance) {
    const current: AgentRecord[] = [];
    for (const agent of onInstance) current.push(await killIfDue(master, agent, settings.killGraceSeconds));
    if (await completeIfDone(master, lifecycle, settings, instanceId, current)) completed.push(instanceId);
  }
  return completed;
}

/**
 * The agent reported DRAINED (every task terminal and acknowledged): an operator's drain with
 * `mark_gone` marks it gone now; in AWS its instance may go (without lifecycle hooks, only the first).
 */
export async function agentDrained(
  master: Master,
  lifecycle: LifecycleActions | undefined,
  agentId: string,
): Promise<boolean> {
  const agent = await master.registrar.agents.get(agentId);
  if (agent?.drain?.markGone && agent.status !== 'GONE') {
    await markAgentGone(master, agent, 'Drained by an operator with mark_gone', { byOperator: true });
  }
  const instanceId = agent ? instanceIdOf(agent) : undefined;
  if (!lifecycle || !agent?.drain || instanceId === undefined) {
    master.logger.info('Agent drained', { agentId, instanceId });
    return false;
  }
  const completed = await lifecycle.complete(instanceId);
  master.logger.info('Agent drained; instance released', { agentId, instanceId, completed });
  return completed;
}

export type OperatorDrainError = 'UNKNOWN_AGENT';

/**
 * An operator's DRAIN_AGENT (Mesos 1.9): the agent is deactivated and its offers rescinded in one
 * registrar write, then told to kill its tasks now, each with at most `maxGracePeriodSeconds` when
 * given; with `markGone` it is marked gone once drained (at once when it holds no task). A second
 * DRAIN_AGENT only re-sends the kill. An agent that is gone cannot be drained (Mesos: "Unknown agent").
 */
export async function operatorDrain(
  master: Master,
  agentId: string,
  options: { maxGracePeriodSeconds?: number; markGone: boolean },
): Promise<OperatorDrainError | undefined> {
  const agent = await master.registrar.agents.get(agentId);
  if (!agent || agent.status === 'GONE') return 'UNKNOWN_AGENT';
  const now = master.now();
  const drain: AgentDrain = {
    startedAt: agent.drain?.startedAt ?? now,
    deadline: now,
    markGone: options.markGone,
    ...(options.maxGracePeriodSeconds !== undefined ? { maxGracePeriodSeconds: options.maxGracePeriodSeconds } : {}),
  };
  const result = await master.registrar.agents.setDrain(agentId, drain);
  if (!result.ok) return 'UNKNOWN_AGENT';
  master.metrics.increment('master/agents_drain_started');
  master.logger.info('Draining agent (operator)', { agentId, ...options });
  await announceRescinds(master, result.value.rescinded);
  const drained = result.value.agent;
  if (Object.keys(drained.tasks).length === 0) {
    if (options.markGone && drained.status !== 'GONE') {
      await markAgentGone(master, drained, 'Drained by an operator with mark_gone', { byOperator: true });
    }
    return undefined;
  }
  if (drained.status === 'ACTIVE') await killIfDue(master, drained, options.maxGracePeriodSeconds);
  return undefined;
}

/**
 * Sends DRAIN once the grace is over and tasks remain (`killGraceSeconds` undefined: each task's own kill
 * grace). Returns the agent as it now is.
 */
async function killIfDue(
  master: Master,
  agent: AgentRecord,
  killGraceSeconds: number | undefined,
): Promise<AgentRecord> {
  const drain = agent.drain;
  const now = master.now();
  if (!drain || drain.killSentAt !== undefined || drain.deadline > now || Object.keys(agent.tasks).length === 0) {
    return agent;
  }
  await sendAgentCommands(master, agent, [
    {
      type: 'DRAIN',
      ...(killGraceSeconds !== undefined ? { max_grace_period_seconds: killGraceSeconds } : {}),
      mark_gone: drain.markGone === true,
    },
  ]);
  const result = await master.registrar.agents.setDrain(agent.agentId, { ...drain, killSentAt: now });
  master.metrics.increment('master/agents_drain_kills');
  master.logger.warn('Drain grace over; killing the remaining tasks', {
    agentId: agent.agentId,
    tasks: Object.keys(agent.tasks).length,
    killGraceSeconds,
  });
  return result.ok ? result.value.agent : agent;
}

/**
 * Completes the instance's lifecycle action when none of its agents holds work that can still end
 * cleanly: no tasks left, unreachable (it cannot be drained), or killed long enough ago.
 */
async function completeIfDone(
  master: Master,
  lifecycle: LifecycleActions,
  settings: DrainSettings,
  instanceId: string,
  agents: readonly AgentRecord[],
): Promise<boolean> {
  const now = master.now();
  const slack = (settings.killGraceSeconds + KILL_SLACK_SECONDS) * 1000;
  const done = agents.every(
    (agent) =>
      Object.keys(agent.tasks).length === 0 ||
      agent.status !== 'ACTIVE' ||
      (agent.drain?.killSentAt !== undefined && agent.drain.killSentAt + slack <= now),
  );
  if (!done) return false;
  const completed = await lifecycle.complete(instanceId);
  master.logger.info('Instance released', { instanceId, completed });
  return completed;
}
