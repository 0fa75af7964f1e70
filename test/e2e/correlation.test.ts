/**
 * Correlation ids through every hop (docs/operator.md, "Logs"): a queue-delivered framework launches a task on the
 * local cluster with the logs captured (the loggers write JSON lines to stdout), and the log lines of each hop —
 * the ACCEPT call, the LAUNCH command sent, the agent receiving it, the agent's status update, the master's status
 * handler, the UPDATE event sent and the framework handling it — carry the ACCEPT's correlation id and the
 * framework, task and agent ids. The response to a call says its id (X-Request-Id), the caller's own when it gave one.
 */
import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/handlers/app.js';
import { createLogger } from '#shared/log.js';
import { inProcess, QueueScheduler } from '../../sdk/queue-scheduler.js';
import { eventually, startTestCluster, type TestCluster } from '../support/cluster.js';
import { oneTaskFramework } from '../support/queue-framework.js';

type Line = Record<string, unknown>;
const lines: Line[] = [];
const write = process.stdout.write.bind(process.stdout);
const level = process.env.POWERTOOLS_LOG_LEVEL;

let cluster: TestCluster;
beforeAll(async () => {
  // Every logger the cluster makes reads the level when it is made.
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk);
    if (text.startsWith('{')) {
      for (const line of text.split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Line);
      return true;
    }
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  cluster = await startTestCluster({ agents: 1, containerizer: 'mesos', agentResources: 'cpus:1;mem:512;disk:512' });
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
  process.stdout.write = write;
  if (level === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
  else process.env.POWERTOOLS_LOG_LEVEL = level;
});

describe('correlation ids on the local cluster', () => {
  it('carries the ACCEPT call’s correlation id and the task’s ids through every hop’s log lines', async () => {
    const logger = createLogger('test-framework');
    const scheduler = new QueueScheduler(
      oneTaskFramework('traced', 'true', (status) => logger.info('Framework got an update', { state: status.state })),
      {
        master: cluster.url,
        fetch: inProcess(createApp(cluster.master)),
        framework: { user: userInfo().username, name: 'traced', failover_timeout: 0 },
        name: 'traced',
      },
    );
    await cluster.frameworkQueues.register({ name: 'traced', handler: scheduler.handler() });
    const { frameworkId } = await scheduler.subscribe();
    const seen = (message: string, where: (line: Line) => boolean = () => true) =>
      lines.find((line) => line.message === message && where(line));
    const accept = await eventually(
      async () => seen('Scheduler call', (line) => line.type === 'ACCEPT'),
      60_000,
      'the ACCEPT',
    );
    const correlation = accept.correlation_id as string;
    expect(correlation).toMatch(/^[0-9a-f-]{36}$/);
    expect(accept.framework_id).toBe(frameworkId);
    const agentId = await eventually(
      async () => (await cluster.master.registrar.tasks.get(frameworkId, 'traced'))?.agentId,
      30_000,
      'the task record',
    );
    expect(agentId).toBeTruthy();
    const ids = { correlation_id: correlation, framework_id: frameworkId, task_id: 'traced', agent_id: agentId };
    const hop = (message: string, where?: (line: Line) => boolean) =>
      eventually(
        async () => seen(message, (line) => line.correlation_id === correlation && (where?.(line) ?? true)),
        30_000,
        message,
      );
    expect(await hop('Agent command sent', (line) => line.type === 'LAUNCH')).toMatchObject({
      service: 'mantle-master',
      ...ids,
    });
    expect(await hop('Command received', (line) => line.type === 'LAUNCH')).toMatchObject({
      service: 'mantle-agent',
      ...ids,
    });
    const finished = (line: Line) => line.state === 'TASK_FINISHED';
    expect(await hop('Status update sent', finished)).toMatchObject({ service: 'mantle-agent', ...ids });
    expect(await hop('Agent message received', finished)).toMatchObject({ service: 'mantle-master', ...ids });
    expect(await hop('Framework event sent', (line) => line.type === 'UPDATE')).toMatchObject(ids);
    expect(await hop('Framework got an update', finished)).toMatchObject({ service: 'test-framework', ...ids });
    await scheduler.teardown();
  });

  it('answers each call with its X-Request-Id, the caller’s own when it sent a sane one', async () => {
    const app = createApp(cluster.master);
    const own = await app.request('/health', { headers: { 'X-Request-Id': 'ticket-42' } });
    expect(own.headers.get('x-request-id')).toBe('ticket-42');
    const generated = await app.request('/master/health', { headers: { 'X-Request-Id': 'not sane' } });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const refused = await app.request('/api/v1/scheduler', {
      method: 'POST',
      headers: { 'X-Request-Id': 'ticket-43' },
    });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('x-request-id')).toBe('ticket-43');
  });

  it('never logs credentials', () => {
    expect(lines.length).toBeGreaterThan(0);
    expect(JSON.stringify(lines)).not.toMatch(/authorization|Basic [A-Za-z0-9+/=]{8,}/i);
  });
});
