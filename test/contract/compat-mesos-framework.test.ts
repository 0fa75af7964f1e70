/**
 * An existing third-party Mesos v1 HTTP scheduler client, unchanged, against Mantle: mesos-framework
 * (tobilg/mesos-framework on npm), written against the Mesos docs. It subscribes over the RecordIO
 * stream, accepts an offer with a LAUNCH built from its own protobufjs objects (nulls for unset fields,
 * the pre-refinement resource format), and acknowledges the status updates it gets.
 */
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { commands, offer, registerAgent, sendStatus, uuid, type TestAgent } from '../support/scheduler.js';

interface MesosFramework {
  Scheduler: new (options: Record<string, unknown>) => ThirdPartyScheduler;
  Mesos: { getMesos(): { CommandInfo: new (...args: unknown[]) => unknown } };
}
interface ThirdPartyScheduler {
  frameworkId: string | null;
  on(event: string, listener: (...args: unknown[]) => void): void;
  once(event: string, listener: (...args: unknown[]) => void): void;
  subscribe(): void;
  teardown(): void;
  httpRequest: { abort?: () => void; destroy?: () => void };
}

const { Scheduler, Mesos } = createRequire(import.meta.url)('mesos-framework') as MesosFramework;

let tm: TestMaster;
let agent: TestAgent;
beforeAll(async () => {
  tm = await startTestMaster({ heartbeatIntervalSeconds: 2 });
  agent = await registerAgent(tm, 'cpus:4;mem:4096;disk:1000;ports:[31000-31010]');
});
afterAll(async () => tm.close());

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('mesos-framework, a third-party Mesos v1 HTTP scheduler client', () => {
  it('subscribes, launches on an offer, and acknowledges updates, unchanged', async () => {
    const port = Number(new URL(tm.url).port);
    const logs = mkdtempSync(join(tmpdir(), 'mesos-framework-'));
    const mesos = Mesos.getMesos();
    const errors: unknown[] = [];
    const events: string[] = [];
    const scheduler = new Scheduler({
      masterUrl: '127.0.0.1',
      port,
      frameworkName: 'compat',
      user: 'compat',
      logging: { path: logs, fileName: 'compat.log', level: 'error' },
      tasks: {
        worker: {
          priority: 1,
          instances: 1,
          // CommandInfo(uris, environment, shell, value)
          commandInfo: new mesos.CommandInfo(null, null, true, 'echo hello'),
          resources: { cpus: 0.5, mem: 128, disk: 0, ports: 1 },
        },
      },
    });
    scheduler.on('error', (error) => errors.push(error));
    for (const type of ['subscribed', 'heartbeat', 'offers', 'update', 'sent_accept', 'sent_acknowledge']) {
      scheduler.on(type, () => events.push(type));
    }
    scheduler.once('ready', () => scheduler.subscribe());
    try {
      await until(() => scheduler.frameworkId !== null && events.includes('heartbeat'));
      const frameworkId = scheduler.frameworkId as string;
      expect((await tm.master.registrar.frameworks.get(frameworkId))?.info.name).toBe('compat');

      await offer(tm, { frameworkId }, agent, 'cpus:2;mem:1024;disk:100;ports:[31000-31010]');
      await until(() => events.includes('sent_accept'));
      const launched = await commands(tm, agent, 3);
      expect(launched).toHaveLength(1);
      const command = launched[0];
      if (command?.type !== 'LAUNCH') throw new Error(`expected a LAUNCH, got ${command?.type}`);
      const taskId = command.task.task_id.value;
      expect(command.task.command?.value).toBe('echo hello');
      expect(command.task.resources?.find((r) => r.name === 'ports')?.ranges?.range).toEqual([
        { begin: 31000, end: 31000 },
      ]);
      expect((await tm.master.registrar.tasks.get(frameworkId, taskId))?.state).toBe('TASK_STAGING');

      const running = uuid();
      await sendStatus(tm, agent, frameworkId, { task_id: { value: taskId }, state: 'TASK_RUNNING', uuid: running });
      await until(() => events.includes('sent_acknowledge'));
      expect(await commands(tm, agent, 3)).toContainEqual({
        type: 'ACKNOWLEDGE',
        framework_id: { value: frameworkId },
        task_id: { value: taskId },
        uuid: running,
      });
      expect(errors).toEqual([]);
    } finally {
      scheduler.teardown();
      scheduler.httpRequest.abort?.();
    }
  });
});
