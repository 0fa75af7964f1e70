/**
 * The `mantle-jobs` principal's credential for the Jobs framework hosted in Lambda. In AWS it lives in an SSM
 * SecureString (MANTLE_JOBS_CREDENTIAL_PARAMETER, written by the stack's JobsCredential command as
 * `<principal> <secret>`), read once per container, so the secret is never in the template or the function's
 * environment. MANTLE_JOBS_PRINCIPAL / MANTLE_JOBS_SECRET set directly (a development setup) take precedence.
 */
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';

export interface JobsCredential {
  readonly principal: string;
  readonly secret: string;
}

/** Reads a SecureString's decrypted value (undefined when the parameter has none). */
export type ParameterReader = (name: string) => Promise<string | undefined>;

const ssmReader: ParameterReader = async (name) => {
  const result = await new SSMClient({}).send(new GetParameterCommand({ Name: name, WithDecryption: true }));
  return result.Parameter?.Value;
};

/** The credential, or undefined where none is configured (authentication off). Throws on a malformed one. */
export async function jobsCredential(
  env: NodeJS.ProcessEnv,
  read: ParameterReader = ssmReader,
): Promise<JobsCredential | undefined> {
  const principal = env.MANTLE_JOBS_PRINCIPAL;
  if (principal && env.MANTLE_JOBS_SECRET) return { principal, secret: env.MANTLE_JOBS_SECRET };
  const parameter = env.MANTLE_JOBS_CREDENTIAL_PARAMETER;
  if (!parameter) return undefined;
  const value = (await read(parameter))?.trim() ?? '';
  const [stored, secret, ...rest] = value.split(/\s+/);
  if (!stored || !secret || rest.length > 0) {
    // The value itself is never logged: it is the secret.
    throw new Error(`SSM parameter ${parameter} does not hold '<principal> <secret>': run the JobsCredential command`);
  }
  if (principal && principal !== stored) {
    throw new Error(`SSM parameter ${parameter} holds principal '${stored}', not ${principal}`);
  }
  return { principal: stored, secret };
}
