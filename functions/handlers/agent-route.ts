/**
 * Who may call the agents' registration route. With `agentIdentity: principal` (the local cluster,
 * legacy deployments) an agent principal, as any other caller (when authentication is on). With
 * `aws-sts`, whatever `authenticate` says, only an agent that proves its AWS identity: 401 for a missing,
 * malformed, forged or expired identity, 403 for an identity that is not an agent instance's, 503 when
 * STS does not answer (the agent retries). The proven identity is handed on (`c.get('agentIdentity')`).
 */
import { createMiddleware } from 'hono/factory';
import { AGENT_IDENTITY_SCHEME } from '#shared/protocol/agent-identity.js';
import type { Authenticator } from '../master/auth.js';
import type { Master } from '../master/master.js';
import { authenticated, text, type MasterEnv } from './scheduler-route.js';

export function agentCaller(
  master: Pick<Master, 'config' | 'metrics' | 'logger' | 'agentIdentity'>,
  authenticator: Authenticator,
) {
  if (master.config.agentIdentity.mode === 'principal') return authenticated(master, authenticator, ['agent']);
  const verifier = master.agentIdentity;
  if (!verifier) throw new Error('agentIdentity aws-sts needs a verifier of agent identities');
  return createMiddleware<MasterEnv>(async (c, next) => {
    const verified = await verifier.verify(c.req.header('authorization'));
    if (!verified.ok) {
      const { code, message } = verified.error;
      master.metrics.increment('master/http_authentication_failures');
      // The reason only: never the header.
      master.logger.warn('Agent identity refused', { code, why: message });
      if (code === 'UNAVAILABLE') return text(c, 503, message, { 'Retry-After': '5' });
      if (code === 'FORBIDDEN') return text(c, 403, message);
      return text(c, 401, message, { 'WWW-Authenticate': `${AGENT_IDENTITY_SCHEME} realm="mantle-agents"` });
    }
    c.set('agentIdentity', verified.value);
    await next();
  });
}
