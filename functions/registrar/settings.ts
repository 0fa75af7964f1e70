/**
 * The master's run-time settings, one item each, written by operators with a condition on the version
 * read (two operators' writes never interleave unseen). Today: the logging level (Mesos
 * SET_LOGGING_LEVEL), which holds until a time and then reverts, as Mesos's does.
 */
import { RETRY, retrying, type RegistrarContext } from './context.js';
import { Expression } from './expression.js';

export interface LoggingLevel {
  /** Mesos's verbosity: 0 is the default level; more logs more. */
  readonly level: number;
  /** Until when (epoch ms); then the level is 0 again. */
  readonly until: number;
  readonly version: number;
}

const LOGGING = 'logging_level';

export class SettingsRegistry {
  constructor(private readonly context: RegistrarContext) {}

  private get table(): string {
    return this.context.tables.settings;
  }

  /** The logging level as stored (its `until` may have passed). */
  async loggingLevel(): Promise<LoggingLevel | undefined> {
    const item = await this.context.get(this.table, { setting: LOGGING });
    if (!item) return undefined;
    return { level: item.level as number, until: item.until as number, version: item.version as number };
  }

  /** Sets the logging level until `until`. */
  async setLoggingLevel(level: number, until: number): Promise<LoggingLevel> {
    const result = await retrying(16, async () => {
      const current = await this.loggingLevel();
      const x = new Expression();
      const version = (current?.version ?? 0) + 1;
      const outcome = await this.context.update({
        TableName: this.table,
        Key: { setting: LOGGING },
        UpdateExpression: `SET ${x.name('level')} = ${x.value(level)}, ${x.name('until')} = ${x.value(until)}, ${x.name('version')} = ${x.value(version)}`,
        ConditionExpression: current
          ? `${x.name('version')} = ${x.value(current.version)}`
          : `attribute_not_exists(${x.name('setting')})`,
        ...x.attributes(),
      });
      return outcome.written ? { level, until, version } : RETRY;
    });
    if (result === RETRY) throw new Error('The logging level kept changing; the update gave up');
    return result;
  }
}
