/**
 * The agent's HTTP call to the master: registration (410: the id is unknown or gone, start afresh;
 * 409: resources shrank below the tasks'), authenticated as identity.ts says (HTTP Basic as an agent
 * principal, or the agent's AWS identity). The credential is never logged. Heartbeats go by SQS
 * (agent.ts).
 */
import { readFile } from 'node:fs/promises';
import { permanentFetchFailure } from '#shared/master-url.js';
import { describeZodError } from '#shared/protocol/errors.js';
import {
  RegisterAgentResponseSchema,
  type RegisterAgentRequest,
  type RegisterAgentResponse,
} from '#shared/protocol/internal.js';

export interface AgentCredentials {
  readonly principal: string;
  readonly secret: string;
}

/** A credential file holds `principal secret` on one line, or JSON `{"principal", "secret"}`. Pure. */
export function parseCredential(text: string): AgentCredentials {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const value = JSON.parse(trimmed) as Partial<AgentCredentials>;
    if (typeof value.principal !== 'string' || typeof value.secret !== 'string' || value.principal === '') {
      throw new Error('The credential JSON needs string fields "principal" and "secret"');
    }
    return { principal: value.principal, secret: value.secret };
  }
  const [principal, secret, ...rest] = trimmed.split(/\s+/);
  if (!principal || secret === undefined || rest.length > 0) {
    throw new Error("The credential file must hold 'principal secret'");
  }
  return { principal, secret };
}

export async function loadCredentials(
  file: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<AgentCredentials | undefined> {
  if (file !== undefined) return parseCredential(await readFile(file, 'utf8'));
  const principal = env.MANTLE_AGENT_PRINCIPAL;
  const secret = env.MANTLE_AGENT_SECRET;
  if (principal === undefined && secret === undefined) return undefined;
  if (!principal || secret === undefined) {
    throw new Error('MANTLE_AGENT_PRINCIPAL and MANTLE_AGENT_SECRET must be set together');
  }
  return { principal, secret };
}

/** The Authorization header of the next call, or none (identity.ts makes it). */
export type Authorization = () => Promise<string | undefined>;

export type RegistrationOutcome =
  | { readonly kind: 'registered'; readonly response: RegisterAgentResponse }
  /** The master does not know (or no longer wants) this agent id. */
  | { readonly kind: 'gone'; readonly message: string }
  | { readonly kind: 'refused'; readonly status: number; readonly message: string };

export class MasterClient {
  constructor(
    private readonly master: string,
    private readonly authorization: Authorization | undefined,
    private readonly timeoutMs = 10_000,
  ) {}

  private async headers(): Promise<Record<string, string>> {
    const authorization = await this.authorization?.();
    return { 'Content-Type': 'application/json', ...(authorization ? { Authorization: authorization } : {}) };
  }

  private async post(path: string, body: unknown, signal?: AbortSignal): Promise<{ status: number; text: string }> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const response = await fetch(`${this.master.replace(/\/$/, '')}${path}`, {
      method: 'POST',
      headers: await this.headers(),
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    return { status: response.status, text: await response.text() };
  }

  /**
   * Throws on transport failures and 5xx (the caller retries with backoff). A master whose host does
   * not exist is refused (status 0): retrying cannot fix it.
   */
  async register(request: RegisterAgentRequest, signal?: AbortSignal): Promise<RegistrationOutcome> {
    let answer: { status: number; text: string };
    try {
      answer = await this.post('/internal/v1/agents/register', request, signal);
    } catch (error) {
      const permanent = permanentFetchFailure(error);
      if (permanent) return { kind: 'refused', status: 0, message: `${permanent}: no master at ${this.master}` };
      throw error;
    }
    const { status, text } = answer;
    if (status === 200) {
      const parsed = RegisterAgentResponseSchema.safeParse(JSON.parse(text));
      if (!parsed.success) throw new Error(`Invalid registration response: ${describeZodError(parsed.error)}`);
      return { kind: 'registered', response: parsed.data };
    }
    if (status === 410) return { kind: 'gone', message: text };
    if (status >= 500) throw new Error(`Registration failed with ${status}: ${text}`);
    return { kind: 'refused', status, message: text };
  }
}
