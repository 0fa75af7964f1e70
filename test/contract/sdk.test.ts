/**
 * The scheduler SDK against a real master (issue 3): subscribe, receive offers, launch, receive updates,
 * acknowledge, and reconnect after the server drops the stream — with nothing lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Offer, TaskStatus } from '../../shared/protocol/mesos.js';
import { SchedulerDriver, type Scheduler } from '../../sdk/scheduler.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { commands, offer, registerAgent, resources, sendStatus, uuid, type TestAgent } from '../support/scheduler.js';

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
    let sent = await commands(tm, agent, 2);
    expect(sent.map((c) => c.type)).toEqual(['LAUNCH']);

    const running = uuid();
    await sendStatus(tm, agent, frameworkId, { task_id: { value: 'sdk-task' }, state: 'TASK_RUNNING', uuid: running });
    await until(() => statuses.some((s) => s.uuid === running));
    sent = await commands(tm, agent, 2);
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
    sent = await commands(tm, agent, 2);
    expect(sent).toContainEqual({
      type: 'ACKNOWLEDGE',
      framework_id: { value: frameworkId },
      task_id: { value: 'sdk-task' },
      uuid: finished,
    });
    expect(statuses.map((s) => s.state)).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
    expect((await tm.master.registrar.tasks.get(frameworkId, 'sdk-task'))?.acknowledged).toBe(true);

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
