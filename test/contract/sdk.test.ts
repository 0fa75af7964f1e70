/**
 * The scheduler SDK against a real master (issue 3): subscribe, receive offers, launch, receive updates,
 * acknowledge, and reconnect after the server drops the stream — with nothing lost. And the master as
 * users name it, failing fast on what retrying cannot fix (issue 10).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort } from '../../local/aws-standins.js';
import type { Offer, TaskStatus } from '#shared/protocol/mesos.js';
import { SchedulerDriver, type Scheduler } from '../../sdk/scheduler.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import {
  commandsUntil,
  offer,
  registerAgent,
  resources,
  sendStatus,
  uuid,
  type TestAgent,
} from '../support/scheduler.js';

let tm: TestMaster;
let agent: TestAgent;
beforeAll(async () => {
  // Streams last 3 s, so the server drops the SDK's stream during the test.
  tm = await startTestMaster({ maxStreamSeconds: 3 });
  agent = await registerAgent(tm, 'cpus:4;mem:4096');
});
afterAll(async () => tm.close());

async function until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the scheduler SDK', () => {
  it('subscribes, launches from an offer, gets and acknowledges updates, and survives a dropped stream', async () => {
    const statuses: TaskStatus[] = [];
    const offers: Offer[] = [];
    let disconnects = 0;
    const scheduler: Scheduler = {
      async resourceOffers(driver, received) {
        offers.push(...received);
        for (const made of received) {
          await driver.launch(
            [made.id.value],
            [
              {
                name: 'sdk-task',
                task_id: { value: 'sdk-task' },
                agent_id: made.agent_id,
                resources: resources('cpus:1;mem:128'),
                command: { value: 'echo hello' },
              },
            ],
          );
        }
      },
      statusUpdate(_driver, status) {
        statuses.push(status);
      },
      disconnected() {
        disconnects++;
      },
    };
    const driver = new SchedulerDriver(scheduler, {
      master: tm.url,
      framework: { user: 'sdk', name: 'sdk-test', failover_timeout: 60 },
      backoff: { initialMs: 100, maxMs: 1000 },
    });
    const frameworkId = await driver.start();
    expect(driver.subscribed).toBe(true);

    await offer(tm, { frameworkId }, agent, 'cpus:2;mem:512');
    await until(() => offers.length === 1);
    // The launch, and each acknowledgement below, is sent a moment after the callback the test waited for.
    let sent = await commandsUntil(tm, agent, (read) => read.length > 0);
    expect(sent.map((c) => c.type)).toEqual(['LAUNCH']);

    const running = uuid();
    await sendStatus(tm, agent, frameworkId, { task_id: { value: 'sdk-task' }, state: 'TASK_RUNNING', uuid: running });
    await until(() => statuses.some((s) => s.uuid === running));
    sent = await commandsUntil(tm, agent, (read) => read.some((c) => c.type === 'ACKNOWLEDGE' && c.uuid === running));
    expect(sent).toContainEqual({
      type: 'ACKNOWLEDGE',
      framework_id: { value: frameworkId },
      task_id: { value: 'sdk-task' },
      uuid: running,
    });

    // The server drops the stream at 3 s; an update sent meanwhile must not be lost.
    await until(() => disconnects >= 1);
    const finished = uuid();
    await sendStatus(tm, agent, frameworkId, {
      task_id: { value: 'sdk-task' },
      state: 'TASK_FINISHED',
      uuid: finished,
    });
    await until(() => statuses.some((s) => s.uuid === finished));
    expect(driver.frameworkId).toBe(frameworkId);
    sent = await commandsUntil(tm, agent, (read) => read.some((c) => c.type === 'ACKNOWLEDGE' && c.uuid === finished));
    expect(sent).toContainEqual({
      type: 'ACKNOWLEDGE',
      framework_id: { value: frameworkId },
      task_id: { value: 'sdk-task' },
      uuid: finished,
    });
    expect(statuses.map((s) => s.state)).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
    // The master marks the task acknowledged after it sent the agent the acknowledgement seen above.
    await expect
      .poll(async () => (await tm.master.registrar.tasks.get(frameworkId, 'sdk-task'))?.acknowledged, {
        timeout: 15_000,
      })
      .toBe(true);

    await driver.stop();
    expect((await tm.master.registrar.frameworks.get(frameworkId))?.status).toBe('REMOVED');
  });

  it('stops on an ERROR, and reports why', async () => {
    const errors: string[] = [];
    const first = new SchedulerDriver({}, { master: tm.url, framework: { user: 'u', name: 'first' } });
    const id = await first.start();
    const second = new SchedulerDriver(
      {},
      { master: tm.url, framework: { user: 'u', name: 'second' }, frameworkId: id },
    );
    const failedOver = new SchedulerDriver(
      { error: (_d, message) => void errors.push(message) },
      { master: tm.url, framework: { user: 'u', name: 'first' }, frameworkId: id },
    );
    await failedOver.start();
    await second.start();
    expect(await failedOver.join()).toBe('Framework failed over');
    expect(errors).toEqual(['Framework failed over']);
    await first.stop(true);
    await second.stop();
    await expect(failedOver.revive()).rejects.toThrow(/stopped/);
  });
});

describe('the master, and what retrying cannot fix', () => {
  const framework = { user: 'u', name: 'fail-fast' };
  let secured: TestMaster;
  beforeAll(async () => {
    secured = await startTestMaster({ authenticate: true });
    await secured.master.registrar.principals.create({
      principal: 'team-a',
      secret: 'correct-horse-battery-staple',
      kind: 'framework',
      roles: ['*'],
    });
    await secured.master.registrar.principals.create({
      principal: 'an-agent',
      secret: 'correct-horse-battery-staple',
      kind: 'agent',
      roles: [],
    });
  });
  afterAll(async () => secured.close());

  it('takes host:port, and MANTLE_MASTER or MESOS_MASTER when no master is given', async () => {
    const hostPort = tm.url.replace(/^http:\/\//, '');
    for (const options of [
      { master: hostPort },
      { env: { MESOS_MASTER: hostPort } },
      { env: { MANTLE_MASTER: tm.url } },
    ]) {
      const driver = new SchedulerDriver({}, { framework, ...options });
      expect(driver.master).toBe(tm.url);
      await driver.start();
      await driver.stop();
    }
  });

  it('refuses a master that cannot be a URL at once', () => {
    expect(() => new SchedulerDriver({}, { master: 'zk://10.0.0.1:2181/mesos', framework })).toThrow(
      /the master option 'zk:\/\/10\.0\.0\.1:2181\/mesos': ZooKeeper \(zk:\/\/\) is not supported/,
    );
    expect(() => new SchedulerDriver({}, { master: '127.0.0.1:port', framework })).toThrow(/expected host:port/);
    expect(() => new SchedulerDriver({}, { framework, env: {} })).toThrow(/no master/);
  });

  async function fails(options: Partial<ConstructorParameters<typeof SchedulerDriver>[1]>): Promise<string[]> {
    const errors: string[] = [];
    const driver = new SchedulerDriver(
      { error: (_driver, message) => void errors.push(message) },
      { master: secured.url, framework, backoff: { initialMs: 50, maxMs: 100 }, ...options },
    );
    const started = Date.now();
    const failure = await driver.start().then(
      () => 'subscribed',
      (error: Error) => error.message,
    );
    // The default call timeout is 30 s: failing well within it is failing fast.
    expect(Date.now() - started).toBeLessThan(5_000);
    return [failure, ...errors];
  }

  it('stops at once on 401 and 403 from the master', async () => {
    const [unauthenticated, heard] = await fails({});
    expect(unauthenticated).toMatch(/^The driver stopped: SUBSCRIBE answered 401: /);
    expect(heard).toMatch(/^SUBSCRIBE answered 401/);
    const [wrongSecret] = await fails({ credentials: { principal: 'team-a', secret: 'not-the-secret-at-all' } });
    expect(wrongSecret).toMatch(/SUBSCRIBE answered 401/);
    const [wrongKind] = await fails({ credentials: { principal: 'an-agent', secret: 'correct-horse-battery-staple' } });
    expect(wrongKind).toMatch(/SUBSCRIBE answered 403: A agent principal may not call this API/);
  });

  it('stops at once when its framework has been removed', async () => {
    const credentials = { principal: 'team-a', secret: 'correct-horse-battery-staple' };
    const first = new SchedulerDriver({}, { master: secured.url, framework, credentials });
    const frameworkId = await first.start();
    await first.stop();
    const [again, heard] = await fails({ credentials, frameworkId });
    expect(again).toBe('The driver stopped: Framework has been removed');
    expect(heard).toBe('Framework has been removed');
  });

  it('stops at once on a host that does not exist', async () => {
    // The resolver's answer is injected: tests reach only loopback.
    const notFound = Object.assign(new Error('getaddrinfo ENOTFOUND nobody.invalid'), {
      code: 'ENOTFOUND',
      hostname: 'nobody.invalid',
    });
    vi.stubGlobal('fetch', () => Promise.reject(new TypeError('fetch failed', { cause: notFound })));
    try {
      const [failure, heard] = await fails({ master: 'nobody.invalid:5050' });
      expect(heard).toBe("Cannot reach the master at http://nobody.invalid:5050: unknown host 'nobody.invalid'");
      expect(failure).toBe(`The driver stopped: ${heard}`);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('keeps retrying a master that answers 5xx or is not there, until the call timeout', async () => {
    let attempts = 0;
    const busy = createServer((_request, response) => {
      attempts++;
      response.writeHead(503).end('busy');
    });
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (busy.address() as AddressInfo).port;
      for (const [master, last] of [
        [`127.0.0.1:${port}`, /last attempt: SUBSCRIBE answered 503/],
        [`127.0.0.1:${await freePort()}`, /last attempt: .*ECONNREFUSED/],
      ] as const) {
        const driver = new SchedulerDriver(
          {},
          { master, framework, callTimeoutMs: 1_500, backoff: { initialMs: 50, maxMs: 100 } },
        );
        await expect(driver.start()).rejects.toThrow(last);
        await driver.stop(true);
      }
      expect(attempts).toBeGreaterThan(2);
    } finally {
      busy.closeAllConnections();
      await new Promise((resolve) => busy.close(resolve));
    }
  });
});
