/**
 * Verifies an agent's AWS identity (agent-identity.ts): checks the token, sends STS the
 * `GetCallerIdentity` request the master builds around the agent's signature — to STS's endpoint for
 * the region, never to an address the agent names, with a short timeout and no redirects — and derives
 * the instance from STS's answer. The call needs no IAM permission of the master: STS answers with the
 * identity whose credentials signed the request.
 */
import { decodeIdentityToken } from '#shared/protocol/agent-identity.js';
import { failure, type Result } from '#shared/result.js';
import {
  checkToken,
  identityOf,
  parseCallerIdentity,
  stsErrorOf,
  stsRequest,
  type AgentIdentity,
  type IdentityFailure,
  type StsIdentityConfig,
} from './agent-identity.js';

/** Proves who an agent is from its Authorization header. */
export interface AgentIdentityVerifier {
  verify(authorization: string | undefined): Promise<Result<AgentIdentity, IdentityFailure>>;
}

/** STS answers in a few hundred bytes; anything much longer is not STS. */
const MAX_ANSWER_BYTES = 64 * 1024;

export class StsIdentityVerifier implements AgentIdentityVerifier {
  constructor(
    private readonly config: StsIdentityConfig,
    private readonly cluster: string,
    /** The agents' role id, when the master knows it (the stack sets it). */
    private readonly roleId: string | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  async verify(authorization: string | undefined): Promise<Result<AgentIdentity, IdentityFailure>> {
    if (!authorization) return failure('UNAUTHENTICATED', 'Agents of this cluster present their AWS identity');
    const { token, problem } = decodeIdentityToken(authorization);
    if (!token) return failure('UNAUTHENTICATED', problem ?? 'No identity token');
    const checked = checkToken(token, this.config, this.cluster, this.now());
    if (!checked.ok) return checked;
    const request = stsRequest(token, this.config, this.cluster);
    let answer: { status: number; text: string };
    try {
      const response = await fetch(request.url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.config.timeoutMs),
      });
      answer = { status: response.status, text: await limitedText(response) };
    } catch (error) {
      return failure('UNAVAILABLE', `STS did not answer: ${(error as Error).message}`);
    }
    if (answer.status >= 500) return failure('UNAVAILABLE', `STS failed: ${stsErrorOf(answer.text, answer.status)}`);
    if (answer.status !== 200) {
      return failure('UNAUTHENTICATED', `STS refused the identity (${stsErrorOf(answer.text, answer.status)})`);
    }
    const caller = parseCallerIdentity(answer.text);
    if (!caller) return failure('UNAVAILABLE', 'STS answered something other than GetCallerIdentity');
    return identityOf(caller, this.config, this.roleId);
  }
}

async function limitedText(response: Response): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > MAX_ANSWER_BYTES) {
    await response.body?.cancel();
    throw new Error(`an answer of ${declared} bytes`);
  }
  const text = await response.text();
  if (text.length > MAX_ANSWER_BYTES) throw new Error(`an answer of ${text.length} bytes`);
  return text;
}
