import { describe, expect, it } from 'vitest';
import { jobsCredential, type ParameterReader } from '../../functions/handlers/jobs-credential.js';

/** SSM itself cannot run here: the reader stands in for GetParameter and records what it was asked. */
function reader(value: string | undefined): ParameterReader & { asked: string[] } {
  const asked: string[] = [];
  const read = async (name: string) => {
    asked.push(name);
    return value;
  };
  return Object.assign(read, { asked });
}

describe('the Jobs functions’ credential', () => {
  const parameter = '/mantle/c1/jobs-credential';

  it('reads `<principal> <secret>` from the SSM SecureString the stack names', async () => {
    const read = reader('mantle-jobs s3cr3t-value\n');
    const env = { MANTLE_JOBS_PRINCIPAL: 'mantle-jobs', MANTLE_JOBS_CREDENTIAL_PARAMETER: parameter };
    expect(await jobsCredential(env, read)).toEqual({ principal: 'mantle-jobs', secret: 's3cr3t-value' });
    expect(read.asked).toEqual([parameter]);
  });

  it('takes a secret set in the environment first, without reading SSM', async () => {
    const read = reader('other x');
    const env = { MANTLE_JOBS_PRINCIPAL: 'p', MANTLE_JOBS_SECRET: 's', MANTLE_JOBS_CREDENTIAL_PARAMETER: parameter };
    expect(await jobsCredential(env, read)).toEqual({ principal: 'p', secret: 's' });
    expect(read.asked).toEqual([]);
  });

  it('has none where nothing is configured (authentication off)', async () => {
    expect(await jobsCredential({}, reader(undefined))).toBeUndefined();
  });

  it('refuses a malformed or missing value without putting the value in the error', async () => {
    const env = { MANTLE_JOBS_CREDENTIAL_PARAMETER: parameter };
    await expect(jobsCredential(env, reader(undefined))).rejects.toThrow(/does not hold/);
    const error = await jobsCredential(env, reader('only-one-word-secret')).catch((e: Error) => e);
    expect(String(error)).toMatch(/JobsCredential command/);
    expect(String(error)).not.toContain('only-one-word-secret');
    await expect(jobsCredential(env, reader('a b c'))).rejects.toThrow(/does not hold/);
  });

  it('refuses a credential of another principal than the one the stack names', async () => {
    const env = { MANTLE_JOBS_PRINCIPAL: 'mantle-jobs', MANTLE_JOBS_CREDENTIAL_PARAMETER: parameter };
    await expect(jobsCredential(env, reader('intruder secret'))).rejects.toThrow(/holds principal 'intruder'/);
  });
});
