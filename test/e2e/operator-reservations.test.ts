/**
 * An operator's reservation, end to end on a local cluster with its allocator: RESERVE_RESOURCES for role
 * R, and a framework of role R is offered the reserved resources; UNRESERVE_RESOURCES takes back the offer
 * that holds them (RESCIND) and the next offers carry no reservation: the resources are back in the pool.
 * Then the same as an operator types it: `mantle reserve`, `mantle volume create|destroy`, `mantle unreserve`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Offer } from '#shared/protocol/mesos.js';
import type { Event } from '#shared/protocol/scheduler.js';
import { pushReservation } from '#shared/resources/resources.js';
import { OperatorClient } from '../../sdk/operator.js';
import { run } from '../support/cli.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import { FRAMEWORK, resources, subscribe, type TestFramework } from '../support/scheduler.js';

const ROLE = 'analytics';

let cluster: TestCluster;
let client: OperatorClient;
let agentId: string;
let framework: TestFramework | undefined;

beforeAll(async () => {
  cluster = await startTestCluster({ agents: 1, agentResources: 'cpus:2;mem:1024;disk:512' });
  client = new OperatorClient({ master: cluster.url });
  agentId = (await client.getAgents())[0]?.agent_info.id?.value ?? '';
}, 120_000);
afterAll(async () => {
  framework?.close();
  await cluster?.stop();
});

/** Reserved for ROLE, in either form: a framework without RESERVATION_REFINEMENT is offered `role`, not `reservations`. */
const isReservedFor = (resource: { role?: string; reservations?: ReadonlyArray<{ role?: string }> }) =>
  resource.reservations?.at(-1)?.role === ROLE || resource.role === ROLE;
const offersOf = (event: Event): Offer[] => (event.type === 'OFFERS' ? (event.offers?.offers ?? []) : []);

describe('an operator reservation, offered and taken back', () => {
  it("is offered to the role's framework, and once unreserved is offered unreserved", async () => {
    const reservation = pushReservation(resources('cpus:1;mem:256'), { role: ROLE });
    await client.call('RESERVE_RESOURCES', { agent_id: { value: agentId }, resources: reservation });
    const total = (await client.getAgents())[0]?.total_resources ?? [];
    expect(total.filter(isReservedFor)).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'cpus', scalar: { value: 1 } })]),
    );

    framework = await subscribe(cluster, { ...FRAMEWORK, role: ROLE });
    const offered = await framework.next(
      (e) => offersOf(e).some((o) => (o.resources ?? []).some(isReservedFor)),
      30_000,
    );
    const offer = offersOf(offered).find((o) => (o.resources ?? []).some(isReservedFor)) as Offer;
    expect((offer.resources ?? []).filter(isReservedFor)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'cpus', scalar: { value: 1 }, role: ROLE }),
        expect.objectContaining({ name: 'mem', scalar: { value: 256 }, role: ROLE }),
      ]),
    );

    await client.call('UNRESERVE_RESOURCES', { agent_id: { value: agentId }, resources: reservation });
    const rescinded = await framework.next((e) => e.type === 'RESCIND', 10_000);
    expect(rescinded.rescind?.offer_id.value).toBe(offer.id.value);
    // The stream keeps every event: look only at the offers made after the rescind.
    const before = new Set(framework.stream.events);
    const after = await framework.next(
      (e) => !before.has(e) && offersOf(e).some((o) => (o.resources ?? []).some((r) => r.name === 'cpus')),
      30_000,
    );
    const cpus = offersOf(after).flatMap((o) => (o.resources ?? []).filter((r) => r.name === 'cpus'));
    expect(cpus.some(isReservedFor)).toBe(false);
    expect(cpus.reduce((sum, r) => sum + (r.scalar?.value ?? 0), 0)).toBe(2);
    expect(((await client.getAgents())[0]?.total_resources ?? []).filter(isReservedFor)).toEqual([]);
  }, 90_000);

  it('mantle reserve, volume create, volume destroy and unreserve', async () => {
    framework?.close();
    const cli = (...words: string[]) => run([...words, '--master', cluster.url]);
    const reservedDisk = async () =>
      ((await client.getAgents())[0]?.total_resources ?? []).filter((r) => r.name === 'disk' && isReservedFor(r));

    const reserved = await cli('reserve', agentId, 'disk:256', '--role', ROLE);
    expect(reserved.code, reserved.output).toBe(0);
    expect(await reservedDisk()).toEqual([expect.objectContaining({ scalar: { value: 256 } })]);

    const created = await cli('volume', 'create', agentId, 'pg-data', '--role', ROLE, '--size', '100');
    expect(created.code, created.output).toBe(0);
    expect((await reservedDisk()).map((r) => (r.disk as { persistence?: { id: string } })?.persistence?.id)).toContain(
      'pg-data',
    );
    const twice = await cli('volume', 'create', agentId, 'pg-data', '--role', ROLE, '--size', '100');
    expect(twice.code).toBe(1);
    expect(twice.output).toMatch(/400.*already in use/);

    const destroyed = await cli('volumes', 'destroy', agentId, 'pg-data', '--role', ROLE);
    expect(destroyed.code, destroyed.output).toBe(0);
    expect(await reservedDisk()).toEqual([expect.not.objectContaining({ disk: expect.anything() })]);

    const tooMuch = await cli('unreserve', agentId, 'disk:512', '--role', ROLE);
    expect(tooMuch.code).toBe(1);
    expect(tooMuch.output).toMatch(/409/);
    const unreserved = await cli('unreserve', agentId, 'disk:256', '--role', ROLE);
    expect(unreserved.code, unreserved.output).toBe(0);
    expect(await reservedDisk()).toEqual([]);
  }, 90_000);
});
