/**
 * The credential of a built-in framework hosted in Lambda (Mantle Jobs' `mantle-jobs`, Mantle Services'
 * `mantle-services`). In AWS it lives in an SSM SecureString (MANTLE_<KIND>_CREDENTIAL_PARAMETER, written by
 * the stack's <Kind>Credential command as `<principal> <secret>`), read once per container, so the secret is
 * never in the template or the function's environment. MANTLE_<KIND>_PRINCIPAL / MANTLE_<KIND>_SECRET set
 * directly (a development setup) take precedence.
 */
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';

export interface HostedCredential {
  readonly principal: string;
  readonly secret: string;
}

/** Which hosted framework: its variables are MANTLE_JOBS_* or MANTLE_SERVICES_*. */
export type HostedKind = 'jobs' | 'services';

/** Reads a SecureString's decrypted value (undefined when the parameter has none). */
export type ParameterReader = (name: string) => Promise<string | undefined>;

const ssmReader: ParameterReader = async (name) => {
  const result = await new SSMClient({}).send(new GetParameterCommand({ Name: name, WithDecryption: true }));
  return result.Parameter?.Value;
};

/** The stack's output that writes the parameter: `JobsCredential`, `ServicesCredential`. */
function commandName(kind: HostedKind): string {
  return `${kind.charAt(0).toUpperCase()}${kind.slice(1)}Credential`;
}

/** The credential, or undefined where none is configured (authentication off). Throws on a malformed one. */
export async function hostedCredential(
  kind: HostedKind,
  env: NodeJS.ProcessEnv,
  read: ParameterReader = ssmReader,
): Promise<HostedCredential | undefined> {
  const prefix = `MANTLE_${kind.toUpperCase()}`;
  const principal = env[`${prefix}_PRINCIPAL`];
  const given = env[`${prefix}_SECRET`];
  if (principal && given) return { principal, secret: given };
  const parameter = env[`${prefix}_CREDENTIAL_PARAMETER`];
  if (!parameter) return undefined;
  const value = (await read(parameter))?.trim() ?? '';
  const [stored, secret, ...rest] = value.split(/\s+/);
  if (!stored || !secret || rest.length > 0) {
    // The value itself is never logged: it is the secret.
    throw new Error(
      `SSM parameter ${parameter} does not hold '<principal> <secret>': run the ${commandName(kind)} command`,
    );
  }
  if (principal && principal !== stored) {
    throw new Error(`SSM parameter ${parameter} holds principal '${stored}', not ${principal}`);
  }
  return { principal: stored, secret };
}
