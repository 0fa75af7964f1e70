/**
 * The credential of a local cluster's own agents when it authenticates (`--authenticate`): an agent
 * principal in the registrar, whose secret goes to the agents in process and is never printed or
 * logged. A persistent cluster (`--data_dir`) keeps it in `agent-credential` there, mode 0600, in the
 * format of Mesos's credential files (`principal secret`), so that its agents authenticate as before
 * after a restart.
 */
import { randomBytes } from 'node:crypto';
import { newSecret } from '../functions/master/auth.js';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCredential, type AgentCredentials } from '../agent/master-client.js';
import type { Registrar } from '../functions/registrar/index.js';

export const AGENT_CREDENTIAL_FILE = 'agent-credential';

async function readKept(file: string): Promise<AgentCredentials | undefined> {
  try {
    return parseCredential(await readFile(file, 'utf8'));
  } catch {
    // Missing or unreadable: a new principal replaces it.
    return undefined;
  }
}

/** The agents' credential: the kept one while the registrar still accepts it, else a new principal. */
export async function provisionAgentCredential(registrar: Registrar, keepIn?: string): Promise<AgentCredentials> {
  const file = keepIn === undefined ? undefined : join(keepIn, AGENT_CREDENTIAL_FILE);
  const kept = file === undefined ? undefined : await readKept(file);
  if (kept && (await registrar.principals.authenticate(kept.principal, kept.secret)).ok) return kept;
  const credential = {
    principal: `local-agent-${randomBytes(4).toString('hex')}`,
    secret: newSecret(),
  };
  const created = await registrar.principals.create({ ...credential, kind: 'agent', roles: [] });
  if (!created.ok) throw new Error(`Could not create the agents' principal: ${created.error.message}`);
  if (file !== undefined) {
    await writeFile(file, `${credential.principal} ${credential.secret}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
  }
  return credential;
}
