/**
 * What the agent remembers about commands across restarts, `meta/state.json`: the drain in progress,
 * task ids it answered for without running them (killed before launch, unknown at reconciliation) so
 * that a late LAUNCH never runs, and finished launches so that a redelivered LAUNCH starts nothing.
 * Entries expire; they are pruned whenever the state is written. Pure.
 */
import { taskKey } from '#shared/ids.js';

/** How long a refused task id (killed before launch, unknown at reconciliation) stays refused. */
export const REFUSAL_MS = 15 * 60_000;
/** How long a finished launch is remembered against redelivery of its command. */
export const COMPLETED_LAUNCH_MS = 60 * 60_000;

/** A drain in progress; forgotten once DRAINED is sent. */
export interface DrainState {
  maxGracePeriodMs?: number;
  markGone: boolean;
}

export interface AgentState {
  draining?: DrainState;
  /** taskKey -> until (ms). */
  refused: Record<string, number>;
  /** launchKey -> until (ms). */
  completedLaunches: Record<string, number>;
}

export function emptyAgentState(): AgentState {
  return { refused: {}, completedLaunches: {} };
}

/** One task of one launch (a LAUNCH_GROUP has several). */
export function launchKey(launchId: string, frameworkId: string, taskId: string): string {
  return `${launchId}/${taskKey(frameworkId, taskId)}`;
}

function unexpired(entries: Record<string, number>, now: number): Record<string, number> {
  return Object.fromEntries(Object.entries(entries).filter(([, until]) => until > now));
}

/** The state without its expired entries. */
export function prunedState(state: AgentState, now: number): AgentState {
  return {
    ...state,
    refused: unexpired(state.refused, now),
    completedLaunches: unexpired(state.completedLaunches, now),
  };
}

/** state.json as earlier agents wrote it: they kept a finished drain, marked `drainedSent`. */
export interface SavedAgentState extends Omit<AgentState, 'draining'> {
  draining?: DrainState & { drainedSent?: boolean };
}

/**
 * A state.json as read from disk. Agents before this format joined ids with a NUL (`fw\0task`,
 * `launch\0fw\0task`); their keys are rewritten, so that an upgrade keeps refusing what it refused and
 * ignoring redelivered launches. The rewrite is exact for every task that can be launched: the master
 * refuses task ids with control characters, and framework and launch ids are its own. A drain they
 * had finished (DRAINED sent) is over.
 */
export function upgradedState(saved: SavedAgentState): AgentState {
  const rekey = (entries: Record<string, number>) =>
    Object.fromEntries(Object.entries(entries).map(([key, until]) => [key.replaceAll('\u0000', '/'), until]));
  const { draining, ...rest } = saved;
  const upgraded: AgentState = {
    ...rest,
    refused: rekey(saved.refused),
    completedLaunches: rekey(saved.completedLaunches),
  };
  if (draining && !draining.drainedSent) {
    const { drainedSent: _finished, ...drain } = draining;
    upgraded.draining = drain;
  }
  return upgraded;
}
