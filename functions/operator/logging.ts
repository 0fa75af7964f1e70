/**
 * The logging level (Mesos GET_LOGGING_LEVEL / SET_LOGGING_LEVEL): Mesos's glog verbosity, 0 by
 * default, set for a while and then back to 0. Mantle keeps it in the registrar (every master process
 * shares it) and maps it onto the structured logger's level: 0 is the level the process started with,
 * 1 DEBUG, 2 and more TRACE. A process applies the stored level when it answers an operator call, re-
 * reading it at most every APPLY_EVERY_MS; a logger started SILENT (the tests) stays silent.
 */
import type { Master } from '../master/master.js';

const APPLY_EVERY_MS = 15_000;

type LevelName = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'CRITICAL' | 'SILENT';

interface Applied {
  readonly base: LevelName;
  readAt: number;
}

const applied = new WeakMap<object, Applied>();

/** The level in force: the stored one until it lapses, then 0. */
export async function currentLoggingLevel(master: Pick<Master, 'registrar' | 'now'>): Promise<number> {
  const stored = await master.registrar.settings.loggingLevel();
  return stored && stored.until > master.now() ? stored.level : 0;
}

export function levelName(level: number, base: LevelName): LevelName {
  if (base === 'SILENT' || level <= 0) return base;
  return level === 1 ? 'DEBUG' : 'TRACE';
}

/** Sets this process's logger from the level (`level` known, or read from the registrar when due). */
export async function applyLoggingLevel(
  master: Pick<Master, 'registrar' | 'now' | 'logger'>,
  level?: number,
): Promise<void> {
  const state = applied.get(master.logger) ?? { base: master.logger.getLevelName() as LevelName, readAt: -Infinity };
  applied.set(master.logger, state);
  if (level === undefined) {
    if (master.now() - state.readAt < APPLY_EVERY_MS) return;
    state.readAt = master.now();
    level = await currentLoggingLevel(master);
  }
  master.logger.setLogLevel(levelName(level, state.base));
}
