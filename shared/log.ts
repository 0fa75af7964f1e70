/**
 * Structured logs (Powertools for AWS Lambda): one JSON object per line, with the service and any keys
 * the caller adds. The same logger runs in Lambda, the local cluster and the tests; the level comes from
 * POWERTOOLS_LOG_LEVEL (the tests set it to SILENT unless MANTLE_TEST_LOGS is set).
 */
import { Logger } from '@aws-lambda-powertools/logger';

export type { Logger };

export function createLogger(service: string): Logger {
  return new Logger({ serviceName: service });
}
