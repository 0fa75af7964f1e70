/**
 * Per-principal caps on frameworks and open SUBSCRIBE streams (issue 10): one tenant cannot take the
 * cluster's Lambda concurrency with streams. Beyond a cap SUBSCRIBE answers 429 naming the setting;
 * other principals are not affected, and resubscribing a known framework adds no framework.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { FRAMEWORK, subscribe, type TestFramework } from '../support/scheduler.js';

let tm: TestMaster;
beforeAll(async () => {
  tm = await startTestMaster({ maxFrameworksPerPrincipal: 3, maxStreamsPerPrincipal: 2 });
});
afterAll(async () => tm.close());

const info = (principal: string) => ({ ...FRAMEWORK, principal });

async function refused(principal: string, frameworkId?: string): Promise<string> {
  const body = {
    type: 'SUBSCRIBE',
    ...(frameworkId ? { framework_id: { value: frameworkId } } : {}),
    subscribe: { framework_info: { ...info(principal), ...(frameworkId ? { id: { value: frameworkId } } : {}) } },
  };
  const response = await fetch(`${tm.url}/api/v1/scheduler`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  expect(response.status, text).toBe(429);
  return text;
}

async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('SUBSCRIBE caps per principal', () => {
  it('caps open streams and frameworks per principal with 429, naming the setting', async () => {
    const open: TestFramework[] = [await subscribe(tm, info('team-a')), await subscribe(tm, info('team-a'))];
    expect(await refused('team-a')).toMatch(
      /Too many open subscriptions for principal 'team-a': at most 2 \(maxStreamsPerPrincipal, MANTLE_MAX_STREAMS_PER_PRINCIPAL\)/,
    );
    // Another principal has caps of its own.
    const other = await subscribe(tm, info('team-b'));
    // A framework whose client went away holds no stream, but it is still a framework.
    const [first] = open as [TestFramework];
    first.close();
    await until(async () => (await tm.master.registrar.frameworks.get(first.frameworkId))?.status !== 'SUBSCRIBED');
    open.push(await subscribe(tm, info('team-a')));
    expect(await refused('team-a')).toMatch(
      /Too many frameworks for principal 'team-a': at most 3 \(maxFrameworksPerPrincipal/,
    );
    // A framework torn down counts no more; resubscribing a known framework adds no framework.
    await (open[1] as TestFramework).call('TEARDOWN');
    const back = await subscribe(tm, info('team-a'), { frameworkId: first.frameworkId });
    expect(back.frameworkId).toBe(first.frameworkId);
    expect(tm.master.metrics.snapshot()['master/framework_subscribe_errors']).toBeGreaterThanOrEqual(2);
    for (const framework of [...open, other, back]) framework.close();
  });
});
