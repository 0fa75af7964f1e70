import { describe, expect, it } from 'vitest';
import { describeZodError } from '#shared/protocol/errors.js';
import { FrameworkInfoSchema, TaskInfoSchema, TaskStatusSchema } from '#shared/protocol/mesos.js';
import { CallSchema, EventSchema } from '#shared/protocol/scheduler.js';

function parseCall(body: unknown) {
  const result = CallSchema.safeParse(body);
  if (!result.success) throw new Error(describeZodError(result.error));
  return result.data;
}

describe('the Mesos JSON dialect', () => {
  it('parses the SUBSCRIBE call of the spec', () => {
    const call = parseCall({
      type: 'SUBSCRIBE',
      subscribe: {
        framework_info: {
          user: 'svc-train',
          name: 'gpu-batch',
          principal: 'gpu-batch',
          roles: ['ml'],
          failover_timeout: 604800.0,
          checkpoint: true,
          capabilities: [{ type: 'MULTI_ROLE' }, { type: 'GPU_RESOURCES' }, { type: 'PARTITION_AWARE' }],
          offer_filters: {
            ml: {
              min_allocatable_resources: { quantities: [{ quantities: { gpus: { value: 1 }, cpus: { value: 1 } } }] },
            },
          },
        },
        suppressed_roles: [],
      },
    });
    expect(call.type).toBe('SUBSCRIBE');
    expect(call.subscribe?.framework_info.capabilities?.map((c) => c.type)).toEqual([
      'MULTI_ROLE',
      'GPU_RESOURCES',
      'PARTITION_AWARE',
    ]);
    expect(
      call.subscribe?.framework_info.offer_filters?.ml?.min_allocatable_resources?.quantities?.[0]?.quantities,
    ).toEqual({ gpus: { value: 1 }, cpus: { value: 1 } });
  });

  it('ignores unknown keys, reads null as unset, and takes a lone value for a repeated field', () => {
    const call = parseCall({
      type: 'DECLINE',
      framework_id: { value: 'f1', extra: true },
      decline: { offer_ids: { value: 'o1' }, filters: null },
      something_new: { nested: [1, 2, 3] },
    });
    expect(call).toEqual({ type: 'DECLINE', framework_id: { value: 'f1' }, decline: { offer_ids: [{ value: 'o1' }] } });
  });

  it('accepts numbers and bools as strings, and Infinity for doubles', () => {
    const info = TaskInfoSchema.parse({
      name: 't',
      task_id: { value: 't' },
      agent_id: { value: 'a' },
      kill_policy: { grace_period: { nanoseconds: '5000000000' } },
      command: { shell: 'false', value: 'sleep' },
      limits: { cpus: { value: 'Infinity' }, mem: { value: '64' } },
    });
    expect(info.kill_policy?.grace_period?.nanoseconds).toBe(5e9);
    expect(info.command?.shell).toBe(false);
    expect(info.limits).toEqual({ cpus: { value: Number.POSITIVE_INFINITY }, mem: { value: 64 } });
  });

  it('drops unknown names of optional enums and rejects them on required ones', () => {
    const info = FrameworkInfoSchema.parse({ user: 'u', name: 'n', capabilities: [{ type: 'TELEPORTATION' }] });
    expect(info.capabilities).toEqual([{}]);
    // Call.type is optional in the proto: an unknown type reads as absent.
    expect(parseCall({ type: 'LAUNCH_MISSILES' }).type).toBeUndefined();
    const status = TaskStatusSchema.safeParse({ task_id: { value: 't' }, state: 'TASK_EXPLODED' });
    expect(status.success).toBe(false);
    if (!status.success)
      expect(describeZodError(status.error)).toMatch(/field 'state': unknown enum value "TASK_EXPLODED"/);
  });

  it('requires required fields and the right JSON types', () => {
    const missing = CallSchema.safeParse({ type: 'KILL', kill: {} });
    expect(missing.success).toBe(false);
    if (!missing.success) expect(describeZodError(missing.error)).toMatch(/kill\.task_id/);
    expect(CallSchema.safeParse({ type: 'KILL', kill: { task_id: { value: 5 } } }).success).toBe(false);
    expect(CallSchema.safeParse({ type: 42 }).success).toBe(false); // enums must be strings, as in stout
    expect(CallSchema.safeParse([]).success).toBe(false);
    expect(
      TaskInfoSchema.safeParse({
        name: 't',
        task_id: { value: 't' },
        agent_id: { value: 'a' },
        kill_policy: { grace_period: { nanoseconds: 1.5 } },
      }).success,
    ).toBe(false);
  });

  it('checks bytes are base64', () => {
    const ack = { agent_id: { value: 'a' }, task_id: { value: 't' }, uuid: 'P2osHptNTo+hwn1eb3CBkg==' };
    expect(parseCall({ type: 'ACKNOWLEDGE', framework_id: { value: 'f' }, acknowledge: ack }).acknowledge?.uuid).toBe(
      'P2osHptNTo+hwn1eb3CBkg==',
    );
    expect(CallSchema.safeParse({ type: 'ACKNOWLEDGE', acknowledge: { ...ack, uuid: 'not base64!' } }).success).toBe(
      false,
    );
  });

  it('parses the events of the spec, with offers nested as the proto says', () => {
    const event = EventSchema.parse({
      type: 'OFFERS',
      offers: {
        offers: [
          {
            id: { value: 'o42' },
            framework_id: { value: 'f' },
            agent_id: { value: 's3' },
            hostname: 'ip-10-0-1-23.ec2.internal',
            allocation_info: { role: 'ml' },
            resources: [
              { name: 'gpus', type: 'SCALAR', scalar: { value: 1.0 }, role: '*', allocation_info: { role: 'ml' } },
              { name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31000, end: 32000 }] }, role: '*' },
            ],
            attributes: [{ name: 'instance_type', type: 'TEXT', text: { value: 'g5.2xlarge' } }],
            domain: { fault_domain: { region: { name: 'us-east-1' }, zone: { name: 'us-east-1a' } } },
          },
        ],
      },
    });
    expect(event.offers?.offers?.[0]?.resources).toHaveLength(2);
    const update = EventSchema.parse({
      type: 'UPDATE',
      update: {
        status: {
          task_id: { value: 'train-shard-7-a1' },
          state: 'TASK_RUNNING',
          source: 'SOURCE_EXECUTOR',
          timestamp: 1732198800.123,
          uuid: 'P2osHptNTo+hwn1eb3CBkg==',
        },
      },
    });
    expect(update.update?.status.state).toBe('TASK_RUNNING');
    expect(EventSchema.parse({ type: 'ERROR', error: { message: 'Framework failed over' } }).error?.message).toBe(
      'Framework failed over',
    );
  });
});
