/**
 * The connection flags of `mantle job` and `mantle queue`, over the SDK's Jobs client (sdk/jobs.ts).
 */
export { JOBS_PATH, JobsApiError, JobsClient, type Connection } from '../sdk/jobs.js';

/** Options every `mantle job` and `mantle queue` verb takes. */
export const CONNECTION_OPTIONS = {
  master: { type: 'string' },
  principal: { type: 'string' },
  secret: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

export const CONNECTION_USAGE = `  --master <host:port>    the master: host:port or http(s)://host:port[/path]
                          (default: MANTLE_MASTER, else MESOS_MASTER, else 127.0.0.1:5050)
  --principal <name>      authenticate as this principal (default: MANTLE_PRINCIPAL)
  --secret <secret>       its secret (default: MANTLE_SECRET)
  --json                  print the API's JSON as it is`;

/** Arguments that cannot make a request (exit 2). */
export class UsageError extends Error {}

/** A job id or queue name as one path segment. */
export function segment(value: string): string {
  return encodeURIComponent(value);
}
