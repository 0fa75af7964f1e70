/**
 * Structured logs (Powertools for AWS Lambda): one JSON object per line, with the service, any keys the
 * caller adds, and the ids of the request or message being handled (shared/log-context.ts: correlation_id,
 * framework_id, task_id, agent_id). The same logger runs in Lambda, the local cluster and the tests; the
 * level comes from POWERTOOLS_LOG_LEVEL (the tests set it to SILENT unless MANTLE_TEST_LOGS is set).
 */
import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions, LogItemExtraInput, LogItemMessage } from '@aws-lambda-powertools/logger/types';
import { logContext } from './log-context.js';

export type { Logger };

/** A Powertools Logger whose every line carries the current scope's ids (keys the caller passes win). */
class ScopedLogger extends Logger {
  protected override createAndPopulateLogItem(level: number, input: LogItemMessage, extra: LogItemExtraInput): LogItem {
    const item = super.createAndPopulateLogItem(level, input, extra);
    const attributes = item.getAttributes();
    for (const [key, value] of Object.entries(logContext())) attributes[key] ??= value;
    return item;
  }

  protected override createLogger(options?: ConstructorOptions): Logger {
    return new ScopedLogger(options);
  }
}

export function createLogger(service: string): Logger {
  return new ScopedLogger({ serviceName: service });
}
