/**
 * A queue-delivered framework on the local cluster (issue 12), as `npm start` would host a first-party one: no
 * stream and no process of its own — its handler runs on its named queue with the cluster's event-source poller
 * and calls the master's app in process. It launches a task that runs to TASK_FINISHED, outlives the sweeper's
 * stream liveness checks, and ends by TEARDOWN.
 */
import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/handlers/app.js';
import type { TaskStatus } from '#shared/protocol/mesos.js';
import { inProcess, QueueScheduler } from '../../sdk/queue-scheduler.js';
import { eventually, startTestCluster, type TestCluster } from '../support/cluster.js';
import { oneTaskFramework } from '../support/queue-framework.js';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startTestCluster({ agents: 1, containerizer: 'mesos', agentResources: 'cpus:1;mem:512;disk:512' });
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

/** The tiny framework: one task on the first offer that fits, every other offer declined. */
function tinyFramework() {
  const statuses: TaskStatus[] = [];
  const command = 'sleep 2; echo hello from a queue-delivered framework';
  const callbacks = oneTaskFramework('hello', command, (status) => void statuses.push(status));
  return { callbacks, statuses };
}

describe('a queue-delivered framework on the local cluster', () => {
  it('launches a task to TASK_FINISHED from its queue, stays subscribed without a stream, and ends by TEARDOWN', async () => {
    const { callbacks, statuses } = tinyFramework();
    const scheduler = new QueueScheduler(callbacks, {
      master: cluster.url,
      fetch: inProcess(createApp(cluster.master)),
      framework: { user: userInfo().username, name: 'tiny', failover_timeout: 0 },
      name: 'tiny',
    });
    await cluster.frameworkQueues.register({ name: 'tiny', handler: scheduler.handler() });
    const { frameworkId } = await scheduler.subscribe();
    const subscribedAt = Date.now();

    const finished = await eventually(
      async () => statuses.find((s) => s.task_id.value === 'hello' && s.state === 'TASK_FINISHED'),
      60_000,
      'TASK_FINISHED',
    );
    expect(Buffer.from(finished.data ?? '', 'base64').toString()).toBe('hello from a queue-delivered framework\n');
    expect(statuses.map((s) => s.state).filter((state, i, all) => all.indexOf(state) === i)).toEqual([
      'TASK_STARTING',
      'TASK_RUNNING',
      'TASK_FINISHED',
    ]);
    await eventually(
      async () => ((await cluster.master.registrar.tasks.get(frameworkId, 'hello'))?.acknowledged ? true : undefined),
      30_000,
      'the terminal update to be acknowledged',
    );
    // A stream silent for three heartbeat intervals (3 s here) is disconnected by the sweeper; this has none.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, subscribedAt + 5_000 - Date.now())));
    expect((await cluster.master.registrar.frameworks.get(frameworkId))?.status).toBe('SUBSCRIBED');

    await scheduler.teardown();
    expect((await cluster.master.registrar.frameworks.get(frameworkId))?.status).toBe('REMOVED');
  });
});
