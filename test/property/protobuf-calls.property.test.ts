/**
 * For any valid scheduler Call, JSON → protobuf → JSON gives the same Call (as the zod schema reads it): the
 * protobuf codec and the wire definitions lose nothing the JSON API accepts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '#shared/protocol/protobuf.js';
import { CallSchema } from '#shared/protocol/scheduler.js';
import { DOMAIN_A, resourcesIn, scalarValue } from '../support/arbitraries.js';
import { wireShape } from '../support/protobuf-client.js';

const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 });
const id = text.map((value) => ({ value }));
const base64 = fc.uint8Array({ minLength: 0, maxLength: 24 }).map((bytes) => Buffer.from(bytes).toString('base64'));
const filters = fc.record({ refuse_seconds: fc.double({ min: 0, max: 1e6, noNaN: true }) });
const labels = fc.record({ labels: fc.array(fc.record({ key: text, value: text }, { requiredKeys: ['key'] })) });

const task = fc.record(
  {
    name: text,
    task_id: id,
    agent_id: id,
    resources: resourcesIn(DOMAIN_A, 3),
    command: fc.record({ value: text, shell: fc.boolean(), arguments: fc.array(text, { maxLength: 3 }) }),
    labels,
    kill_policy: fc.record({ grace_period: fc.record({ nanoseconds: fc.integer({ min: 0, max: 2 ** 40 }) }) }),
    // An empty map and an absent one are one on the wire.
    limits: fc.dictionary(fc.constantFrom('cpus', 'mem'), fc.record({ value: scalarValue(64) }), { minKeys: 1 }),
  },
  { requiredKeys: ['name', 'task_id', 'agent_id'] },
);

const operation = fc.oneof(
  fc.record({ type: fc.constant('LAUNCH'), launch: fc.record({ task_infos: fc.array(task, { maxLength: 2 }) }) }),
  fc.record({ type: fc.constant('RESERVE'), reserve: fc.record({ resources: resourcesIn(DOMAIN_A, 2) }) }),
);

const frameworkInfo = fc.record(
  {
    user: text,
    name: text,
    failover_timeout: fc.double({ min: 0, max: 1e9, noNaN: true }),
    checkpoint: fc.boolean(),
    roles: fc.array(fc.constantFrom('ml', 'eng', 'web'), { maxLength: 3 }),
    capabilities: fc.array(fc.record({ type: fc.constantFrom('MULTI_ROLE', 'PARTITION_AWARE', 'GPU_RESOURCES') })),
    labels,
  },
  { requiredKeys: ['user', 'name'] },
);

const withFramework = (type: string, field: string, payload: fc.Arbitrary<unknown>) =>
  fc.record({ type: fc.constant(type), framework_id: id, [field]: payload });

const call = fc.oneof(
  fc.record({ type: fc.constant('SUBSCRIBE'), subscribe: fc.record({ framework_info: frameworkInfo }) }),
  withFramework(
    'ACCEPT',
    'accept',
    fc.record({
      offer_ids: fc.array(id, { maxLength: 3 }),
      operations: fc.array(operation, { maxLength: 2 }),
      filters,
    }),
  ),
  withFramework('DECLINE', 'decline', fc.record({ offer_ids: fc.array(id, { maxLength: 3 }), filters })),
  withFramework('KILL', 'kill', fc.record({ task_id: id, agent_id: id })),
  withFramework('ACKNOWLEDGE', 'acknowledge', fc.record({ agent_id: id, task_id: id, uuid: base64 })),
  withFramework(
    'RECONCILE',
    'reconcile',
    fc.record({ tasks: fc.array(fc.record({ task_id: id, agent_id: id }, { requiredKeys: ['task_id'] })) }),
  ),
  withFramework('MESSAGE', 'message', fc.record({ agent_id: id, executor_id: id, data: base64 })),
  withFramework(
    'REQUEST',
    'request',
    fc.record({
      requests: fc.array(
        fc.record(
          { agent_id: id, resources: resourcesIn(DOMAIN_A, 2), count: fc.integer({ min: 1, max: 1_000_000 }) },
          { requiredKeys: ['resources'] },
        ),
        { maxLength: 3 },
      ),
    }),
  ),
  withFramework('REVIVE', 'revive', fc.record({ roles: fc.array(fc.constantFrom('ml', 'eng')) })),
  withFramework('SUPPRESS', 'suppress', fc.record({ roles: fc.array(fc.constantFrom('ml', 'eng')) })),
  withFramework('UPDATE_FRAMEWORK', 'update_framework', fc.record({ framework_info: frameworkInfo })),
  fc.record({ type: fc.constantFrom('TEARDOWN', 'GET_PENDING_REASONS'), framework_id: id }),
);

describe('the protobuf codec', () => {
  it('round-trips every valid scheduler Call: JSON → protobuf → JSON', () => {
    fc.assert(
      fc.property(call, (json) => {
        // An empty list and an absent one are one on the wire.
        const expected = wireShape(CallSchema.parse(json));
        const decoded = decodeMessage('mesos.v1.scheduler.Call', encodeMessage('mesos.v1.scheduler.Call', json));
        expect(decoded.ok).toBe(true);
        expect(wireShape(CallSchema.parse(decoded.ok ? decoded.value : undefined))).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});
