/**
 * What Jobs' placement is told of a queue's quota, read from a master on DynamoDB Local: the role's limits from
 * the registrar and what its tasks hold on the agents (not the offers outstanding), only for queues with a limit;
 * a failed read places without quotas.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '#shared/log.js';
import { roleQuotaSource } from '../../functions/operator/role-quotas.js';
import { queueQuotas, type QuotaSource } from '../../frameworks/jobs/quotas.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import {
  commands,
  commandTask,
  FRAMEWORK,
  launch,
  offer,
  registerAgent,
  sendStatus,
  subscribe,
  uuid,
  type TestAgent,
  type TestFramework,
} from '../support/scheduler.js';

let tm: TestMaster;
let framework: TestFramework;
let agent: TestAgent;

beforeAll(async () => {
  tm = await startTestMaster();
  agent = await registerAgent(tm, 'cpus:8;mem:8192;disk:1000');
  framework = await subscribe(tm, { ...FRAMEWORK, role: 'capped' });
  const made = await offer(tm, framework, agent, 'cpus:1;mem:128', 'capped');
  expect((await framework.call('ACCEPT', launch([made.offerId], [commandTask('t-1', agent)]))).status).toBe(202);
  await commands(tm, agent);
  await sendStatus(tm, agent, framework.frameworkId, {
    task_id: { value: 't-1' },
    state: 'TASK_RUNNING',
    uuid: uuid(),
  });
  // Outstanding, not accepted: placement is deciding what to do with it, so it is not consumption.
  await offer(tm, framework, agent, 'cpus:2;mem:256', 'capped');
  expect((await tm.master.registrar.roles.setQuota('capped', { guarantees: {}, limits: { cpus: 1.5 } })).ok).toBe(true);
  expect((await tm.master.registrar.roles.setWeight('weighted', 2)).ok).toBe(true);
});
afterAll(async () => {
  framework.close();
  await tm.close();
});

/** The master's source, counting its reads. */
function counted(source: QuotaSource): QuotaSource & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    limits: (roles) => (reads.push(`limits:${roles.join(',')}`), source.limits(roles)),
    consumption: (roles) => (reads.push(`consumption:${roles.join(',')}`), source.consumption(roles)),
  };
}

describe("a queue's quota for placement", () => {
  it("reads the role's limits, and what its tasks hold (not its offers)", async () => {
    const source = roleQuotaSource(tm.master.registrar);
    expect(await source.limits(['capped', 'weighted', 'unknown'])).toEqual(new Map([['capped', { cpus: 1.5 }]]));
    const used = (await source.consumption(['capped', 'weighted'])).get('capped');
    expect(used).toMatchObject({ cpus: 1, mem: 128 });
    expect((await source.consumption(['weighted'])).get('weighted')).toEqual({});
  });

  it('gives placement the queues with a limit, reading consumption only for them', async () => {
    const source = counted(roleQuotaSource(tm.master.registrar));
    const quotas = await queueQuotas(source, ['capped', 'weighted']);
    expect([...quotas.keys()]).toEqual(['capped']);
    expect(quotas.get('capped')).toMatchObject({ limits: { cpus: 1.5 }, used: { cpus: 1, mem: 128 } });
    expect(source.reads).toEqual(['limits:capped,weighted', 'consumption:capped']);
    const unlimited = counted(roleQuotaSource(tm.master.registrar));
    expect((await queueQuotas(unlimited, ['weighted', 'unknown'])).size).toBe(0);
    expect(unlimited.reads).toEqual(['limits:weighted,unknown']);
  });

  it('places without quotas, and says so, when the read fails', async () => {
    const logger = createLogger('jobs-test');
    const warn = vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
    const failing: QuotaSource = {
      limits: () => Promise.resolve(new Map([['capped', { cpus: 1 }]])),
      consumption: () => Promise.reject(new Error('ProvisionedThroughputExceededException')),
    };
    expect((await queueQuotas(failing, ['capped'], logger)).size).toBe(0);
    expect(warn).toHaveBeenCalledWith('Queue quotas not read: placing without them', {
      queues: ['capped'],
      error: 'Error: ProvisionedThroughputExceededException',
    });
  });
});
