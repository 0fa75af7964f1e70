/**
 * Mantle's protobuf wire definitions (shared/protocol/proto/) against an independent copy of Mesos's: the v0
 * definitions of Mesos 0.28.2 that the `mesos-framework` package ships. Field numbers and types are the wire
 * contract, so every field both define must agree, and a message encoded with one must decode with the other.
 */
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, wireRoot } from '#shared/protocol/protobuf.js';
import { CallSchema, EventSchema } from '#shared/protocol/scheduler.js';
import { mesos028 } from '../support/mesos-0.28.js';

/** 0.28.2's counterpart of one of our types: `mesos.v1.AgentInfo` → `mesos.AgentInfo`. */
function counterpart(old: protobuf.Root, type: protobuf.ReflectionObject): protobuf.ReflectionObject | null {
  const name = type.fullName.replace(/^\.mesos\.v1\./, '.mesos.');
  // lookup() also searches nested namespaces; only the same full name counts.
  const found = old.lookup(name);
  return found?.fullName === name ? found : null;
}

/** What 0.28.2 calls by another name (a type's name is not on the wire). */
const RENAMED: Readonly<Record<string, string>> = {
  '.mesos.v1.HealthCheck.HTTP': '.mesos.v1.HealthCheck.HTTPCheckInfo',
};

/**
 * Varints of one signedness are one wire type: 0.28.2's copy has `uint32` where Mesos has `uint64` (a range's
 * begin and end), which reads the same bytes.
 */
const WIRE_CLASS: Readonly<Record<string, string>> = { uint32: 'uint', uint64: 'uint', int32: 'int', int64: 'int' };

/** A field's type, in our package names. */
function wireTypeName(field: protobuf.Field, old: boolean): string {
  if (!field.resolvedType) return WIRE_CLASS[field.type] ?? field.type;
  const name = old ? field.resolvedType.fullName.replace(/^\.mesos\./, '.mesos.v1.') : field.resolvedType.fullName;
  return RENAMED[name] ?? name;
}

interface Comparison {
  fields: number;
  enumValues: number;
  problems: string[];
}

function compareType(old: protobuf.Root, type: protobuf.Type, result: Comparison): void {
  const theirs = counterpart(old, type);
  if (!(theirs instanceof protobuf.Type)) return;
  for (const field of type.fieldsArray) {
    const other = theirs.fieldsArray.find((candidate) => candidate.id === field.id);
    if (!other) continue;
    result.fields += 1;
    const ours = `${field.repeated ? 'repeated ' : ''}${wireTypeName(field, false)} ${field.name}`;
    const theirType = `${other.repeated ? 'repeated ' : ''}${wireTypeName(other, true)} ${other.name}`;
    if (ours !== theirType)
      result.problems.push(`${type.fullName} #${field.id}: ours '${ours}', 0.28.2 '${theirType}'`);
  }
}

function compareEnum(old: protobuf.Root, type: protobuf.Enum, result: Comparison): void {
  const theirs = counterpart(old, type);
  if (!(theirs instanceof protobuf.Enum)) return;
  for (const [name, id] of Object.entries(type.values)) {
    const other = theirs.values[name];
    if (other === undefined) continue;
    result.enumValues += 1;
    if (other !== id) result.problems.push(`${type.fullName}.${name}: ours ${id}, 0.28.2 ${other}`);
  }
}

function compareAll(): Comparison {
  const old = mesos028();
  const result: Comparison = { fields: 0, enumValues: 0, problems: [] };
  const visit = (namespace: protobuf.NamespaceBase): void => {
    for (const nested of namespace.nestedArray) {
      if (nested instanceof protobuf.Type) compareType(old, nested, result);
      if (nested instanceof protobuf.Enum) compareEnum(old, nested, result);
      if (nested instanceof protobuf.Namespace) visit(nested);
    }
  };
  visit(wireRoot().lookup('mesos.v1') as protobuf.Namespace);
  return result;
}

const UUID = Buffer.from('0123456789abcdef').toString('base64');

/** A v1 scheduler Call in the JSON dialect, and in 0.28.2's names, for messages both define. */
const CALLS: Array<Record<string, unknown>> = [
  {
    type: 'SUBSCRIBE',
    subscribe: {
      framework_info: {
        user: 'root',
        name: 'compat',
        failover_timeout: 60.5,
        checkpoint: true,
        role: 'ml',
        capabilities: [{ type: 'REVOCABLE_RESOURCES' }],
        labels: { labels: [{ key: 'a', value: 'b' }] },
      },
    },
  },
  {
    type: 'ACCEPT',
    framework_id: { value: 'f-1' },
    accept: {
      offer_ids: [{ value: 'o-1' }, { value: 'o-2' }],
      operations: [
        {
          type: 'LAUNCH',
          launch: {
            task_infos: [
              {
                name: 'web',
                task_id: { value: 't-1' },
                agent_id: { value: 'a-1' },
                resources: [
                  { name: 'cpus', type: 'SCALAR', scalar: { value: 0.5 } },
                  { name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31000, end: 31001 }] } },
                  { name: 'bugs', type: 'SET', set: { item: ['a', 'b'] } },
                ],
                command: {
                  value: 'echo hi',
                  shell: true,
                  uris: [{ value: 'https://example.com/a.tgz', extract: true }],
                  environment: { variables: [{ name: 'A', value: '1' }] },
                },
                container: {
                  type: 'DOCKER',
                  docker: { image: 'busybox', network: 'HOST', force_pull_image: false },
                  volumes: [{ container_path: '/data', host_path: '/tmp', mode: 'RW' }],
                },
                kill_policy: { grace_period: { nanoseconds: 3_000_000_000 } },
              },
            ],
          },
        },
        {
          type: 'RESERVE',
          reserve: { resources: [{ name: 'mem', type: 'SCALAR', scalar: { value: 64 }, role: 'ml' }] },
        },
      ],
      filters: { refuse_seconds: 5 },
    },
  },
  { type: 'DECLINE', framework_id: { value: 'f-1' }, decline: { offer_ids: [{ value: 'o-3' }] } },
  { type: 'KILL', framework_id: { value: 'f-1' }, kill: { task_id: { value: 't-1' }, agent_id: { value: 'a-1' } } },
  {
    type: 'ACKNOWLEDGE',
    framework_id: { value: 'f-1' },
    acknowledge: { agent_id: { value: 'a-1' }, task_id: { value: 't-1' }, uuid: UUID },
  },
  {
    type: 'RECONCILE',
    framework_id: { value: 'f-1' },
    reconcile: { tasks: [{ task_id: { value: 't-1' }, agent_id: { value: 'a-1' } }] },
  },
  {
    type: 'MESSAGE',
    framework_id: { value: 'f-1' },
    message: { agent_id: { value: 'a-1' }, executor_id: { value: 'e-1' }, data: UUID },
  },
  {
    type: 'REQUEST',
    framework_id: { value: 'f-1' },
    request: { requests: [{ resources: [{ name: 'gpus', type: 'SCALAR', scalar: { value: 1 } }] }] },
  },
  { type: 'REVIVE', framework_id: { value: 'f-1' } },
];

const EVENTS: Array<Record<string, unknown>> = [
  { type: 'SUBSCRIBED', subscribed: { framework_id: { value: 'f-1' }, heartbeat_interval_seconds: 15 } },
  {
    type: 'OFFERS',
    offers: {
      offers: [
        {
          id: { value: 'o-1' },
          framework_id: { value: 'f-1' },
          agent_id: { value: 'a-1' },
          hostname: 'ip-10-0-0-1',
          resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 4 }, role: '*' }],
          attributes: [{ name: 'zone', type: 'TEXT', text: { value: 'a' } }],
        },
      ],
    },
  },
  {
    type: 'UPDATE',
    update: {
      status: {
        task_id: { value: 't-1' },
        state: 'TASK_FAILED',
        message: 'exit 1',
        source: 'SOURCE_EXECUTOR',
        reason: 'REASON_COMMAND_EXECUTOR_FAILED',
        agent_id: { value: 'a-1' },
        timestamp: 1765000000.25,
        uuid: UUID,
        healthy: false,
        labels: { labels: [{ key: 'k' }] },
      },
    },
  },
  { type: 'RESCIND', rescind: { offer_id: { value: 'o-1' } } },
  { type: 'FAILURE', failure: { agent_id: { value: 'a-1' }, executor_id: { value: 'e-1' }, status: 137 } },
  { type: 'ERROR', error: { message: 'Framework failed over' } },
  { type: 'HEARTBEAT' },
];

const TO_OBJECT = { enums: String, longs: Number, bytes: String, defaults: false } as const;

describe('the protobuf wire definitions', () => {
  it('agree with Mesos 0.28.2 on every field number, type and enum value both define', () => {
    const { fields, enumValues, problems } = compareAll();
    expect(problems).toEqual([]);
    // Most of the scheduler API is in both: a comparison of a handful of fields would prove little.
    expect(fields).toBeGreaterThan(250);
    expect(enumValues).toBeGreaterThan(80);
  });

  it.each(CALLS.map((call) => [call.type, call]))('decode a %s Call encoded with 0.28.2', (_, call) => {
    const v0 = mesos028().lookupType('mesos.scheduler.Call');
    const bytes = v0.encode(v0.fromObject(call)).finish();
    const decoded = decodeMessage('mesos.v1.scheduler.Call', bytes);
    expect(decoded).toEqual({ ok: true, value: call });
    expect(CallSchema.safeParse(decoded.ok ? decoded.value : undefined).success).toBe(true);
  });

  it.each(EVENTS.map((event) => [event.type, event]))('encode a %s Event that 0.28.2 decodes', (_, event) => {
    expect(EventSchema.safeParse(event).success).toBe(true);
    const v0 = mesos028().lookupType('mesos.scheduler.Event');
    const decoded = v0.toObject(v0.decode(encodeMessage('mesos.v1.scheduler.Event', event)), TO_OBJECT);
    expect(decoded).toEqual(event);
  });

  it('refuses bytes that are not the message, and reads an unknown enum value as unset', () => {
    const garbage = decodeMessage('mesos.v1.scheduler.Call', new Uint8Array([0x0a, 0xff, 0xff, 0xff]));
    expect(garbage.ok).toBe(false);
    // Call.type = 77 (field 2, a varint): no such type.
    expect(decodeMessage('mesos.v1.scheduler.Call', new Uint8Array([0x10, 77]))).toEqual({ ok: true, value: {} });
    // An ACKNOWLEDGE (8) whose sub-message (field 8) lacks its required agent_id.
    const missingRequired = decodeMessage('mesos.v1.scheduler.Call', new Uint8Array([0x10, 8, 0x42, 0]));
    expect(missingRequired).toEqual({ ok: false, error: "missing required 'agent_id'" });
  });

  it("carries Mantle's extensions in fields of their own", () => {
    const call = {
      type: 'REQUEST',
      framework_id: { value: 'f-1' },
      request: { requests: [{ resources: [{ name: 'gpus', type: 'SCALAR', scalar: { value: 1 } }], count: 40 }] },
    };
    const bytes = wireRoot()
      .lookupType('mesos.v1.scheduler.Call')
      .encode(wireRoot().lookupType('mesos.v1.scheduler.Call').fromObject(call))
      .finish();
    expect(decodeMessage('mesos.v1.scheduler.Call', bytes)).toEqual({ ok: true, value: call });
    // 0.28.2 skips the field it does not know and reads the rest.
    const v0 = mesos028().lookupType('mesos.scheduler.Call');
    expect(v0.toObject(v0.decode(bytes), TO_OBJECT)).toMatchObject({ request: { requests: [{ resources: [{}] }] } });
  });
});
