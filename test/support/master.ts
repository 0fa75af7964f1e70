/**
 * A master for a test suite: its own tables and queues on the shared stand-ins, served on a loopback
 * port, with the status and heartbeat queues fed to their handlers. Its clock can be moved forward.
 * Unless a suite says otherwise, authentication is off and the ACLs permissive, as on a local cluster
 * (the master's own defaults are the opposite: authentication on, safe ACLs).
 */
import { randomBytes } from 'node:crypto';
import type { AwsClients } from '#shared/aws/clients.js';
import type { MasterConfigInput } from '../../functions/master/config.js';
import type { AllocationRequester, AllocationTrigger, Master } from '../../functions/master/master.js';
import type { FleetHooks } from '../../functions/fleet/hooks.js';
import type { EventSource } from '../../local/event-source.js';
import {
  bootstrapMaster,
  serveMaster,
  startHeartbeatSource,
  startStatusSource,
  type HttpServer,
} from '../../local/master.js';
import { standInClients } from './aws.js';

/** Records allocation triggers instead of running the allocator (tests create offers themselves). */
export class RecordedAllocation implements AllocationRequester {
  readonly triggers: Array<{ trigger: AllocationTrigger; delaySeconds: number }> = [];
  request(trigger: AllocationTrigger, delaySeconds = 0): Promise<void> {
    this.triggers.push({ trigger, delaySeconds });
    return Promise.resolve();
  }
}

export interface TestMaster {
  readonly master: Master;
  readonly url: string;
  readonly clients: AwsClients;
  readonly cluster: string;
  readonly statusQueueUrl: string;
  readonly allocation: RecordedAllocation;
  /** Moves the master's clock forward (the stream's own waits stay in real time). */
  advance(ms: number): void;
  /**
   * Stops the master's clock until `resume` (only `advance` moves it meanwhile), for a test whose steps must see
   * one time however long they take on a loaded machine; `resume` goes on from there, not skipping the pause.
   */
  hold(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startTestMaster(
  config: Partial<MasterConfigInput> = {},
  options: { fleet?: FleetHooks } = {},
): Promise<TestMaster> {
  const clients = standInClients();
  const cluster = `t${randomBytes(4).toString('hex')}`;
  const allocation = new RecordedAllocation();
  let offset = 0;
  let held: number | undefined;
  const local = await bootstrapMaster({
    clients,
    cluster,
    config: {
      heartbeatIntervalSeconds: 1,
      streamCheckSeconds: 0.2,
      authenticate: false,
      acls: 'permissive',
      ...config,
    },
    allocation,
    ...options,
    now: () => held ?? Date.now() + offset,
  });
  const server: HttpServer = await serveMaster(local.master);
  const status: EventSource = await startStatusSource(local);
  const heartbeats: EventSource = await startHeartbeatSource(local.master);
  return {
    master: local.master,
    url: server.url,
    clients,
    cluster,
    statusQueueUrl: local.statusQueueUrl,
    allocation,
    advance(ms: number) {
      offset += ms;
      if (held !== undefined) held += ms;
    },
    hold() {
      held ??= Date.now() + offset;
    },
    resume() {
      if (held === undefined) return;
      offset = held - Date.now();
      held = undefined;
    },
    async close() {
      await status.stop();
      await heartbeats.stop();
      await server.close();
      clients.destroy();
    },
  };
}
