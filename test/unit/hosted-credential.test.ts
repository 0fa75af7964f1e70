import { describe, expect, it } from 'vitest';
import { hostedCredential, type ParameterReader } from '../../functions/handlers/hosted-credential.js';

const jobsCredential = (env: NodeJS.ProcessEnv, read: ParameterReader) => hostedCredential('jobs', env, read);

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

describe('the Services functions’ credential', () => {
  const parameter = '/mantle/c1/services-credential';

  it('reads its own variables and parameter, not the Jobs ones', async () => {
    const read = reader('mantle-services s3cr3t');
    const env = {
      MANTLE_SERVICES_PRINCIPAL: 'mantle-services',
      MANTLE_SERVICES_CREDENTIAL_PARAMETER: parameter,
      MANTLE_JOBS_PRINCIPAL: 'mantle-jobs',
      MANTLE_JOBS_SECRET: 'jobs-secret',
    };
    expect(await hostedCredential('services', env, read)).toEqual({ principal: 'mantle-services', secret: 's3cr3t' });
    expect(read.asked).toEqual([parameter]);
    expect(await hostedCredential('services', { MANTLE_JOBS_CREDENTIAL_PARAMETER: 'x' }, read)).toBeUndefined();
  });

  it('names its own command when the parameter is malformed', async () => {
    const env = { MANTLE_SERVICES_CREDENTIAL_PARAMETER: parameter };
    await expect(hostedCredential('services', env, reader('one'))).rejects.toThrow(/ServicesCredential command/);
  });
});
