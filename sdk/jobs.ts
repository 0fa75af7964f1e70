/**
 * A client for Mantle Jobs' REST API (`/api/jobs/v1` on the master, docs/jobs.md): the master named as
 * everywhere (an option, MANTLE_MASTER, MESOS_MASTER, else 127.0.0.1:5050), credentials from the options or
 * MANTLE_PRINCIPAL/MANTLE_SECRET sent as HTTP Basic. A refusal carries the API's own message.
 */
import { permanentFetchFailure, resolveMaster } from '#shared/master-url.js';

export const JOBS_PATH = '/api/jobs/v1';

/** A request the API refused (its status and message), or one that never got an answer (status 0). */
export class JobsApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'JobsApiError';
  }
}

export interface Connection {
  readonly master?: string | undefined;
  readonly principal?: string | undefined;
  readonly secret?: string | undefined;
}

export class JobsClient {
  private constructor(
    readonly base: string,
    private readonly authorization: string | undefined,
  ) {}

  /** The client for the options and environment, or throws when they cannot name one. */
  static from(connection: Connection, env: NodeJS.ProcessEnv = process.env): JobsClient {
    const master = resolveMaster({ given: connection.master, env, fallback: '127.0.0.1:5050' });
    if (!master.ok) throw new Error(master.error);
    const principal = connection.principal ?? env.MANTLE_PRINCIPAL;
    const secret = connection.secret ?? env.MANTLE_SECRET;
    if (Boolean(principal) !== Boolean(secret)) {
      throw new Error('--principal and --secret go together (or MANTLE_PRINCIPAL and MANTLE_SECRET)');
    }
    const authorization =
      principal && secret ? `Basic ${Buffer.from(`${principal}:${secret}`).toString('base64')}` : undefined;
    return new JobsClient(master.value, authorization);
  }

  /** Sends a request; the JSON answer, or the text of a text/plain one. Throws JobsApiError otherwise. */
  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = `${this.base}${JOBS_PATH}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          Accept: 'application/json',
          ...(this.authorization ? { Authorization: this.authorization } : {}),
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const why = permanentFetchFailure(error) ?? cause?.code ?? cause?.message ?? (error as Error).message;
      throw new JobsApiError(0, `Could not reach the master at ${this.base}: ${why}`);
    }
    const text = await response.text();
    const json = (response.headers.get('content-type') ?? '').includes('application/json');
    if (!response.ok) {
      const message = json ? (JSON.parse(text) as { message?: string }).message : text;
      throw new JobsApiError(response.status, `${message ?? response.statusText} (HTTP ${response.status})`);
    }
    return json ? (JSON.parse(text) as unknown) : text;
  }
}
