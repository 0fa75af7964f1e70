import { describe, expect, it } from 'vitest';
import {
  AgentCommandSchema,
  AgentMessageSchema,
  parseMessageBody,
  SAFE_GRANT,
  type LaunchGrant,
} from '#shared/protocol/internal.js';
import { MAX_CONTAINER_ID_DEPTH, type ContainerID } from '#shared/protocol/mesos.js';

function nested(levels: number, value = (level: number) => `c${level}`): ContainerID {
  let id: ContainerID = { value: value(0) };
  for (let level = 1; level < levels; level++) id = { value: value(level), parent: id };
  return id;
}

function statusWith(containerId: unknown): string {
  return JSON.stringify({
    type: 'STATUS_UPDATE',
    agent_id: { value: 'S1' },
    framework_id: { value: 'F1' },
    status: { task_id: { value: 't' }, state: 'TASK_RUNNING', container_status: { container_id: containerId } },
  });
}

describe('ContainerID in status updates', () => {
  it(`accepts up to ${MAX_CONTAINER_ID_DEPTH} levels of Mesos-valid ids of up to 255 characters`, () => {
    const parsed = parseMessageBody(
      AgentMessageSchema,
      statusWith(nested(MAX_CONTAINER_ID_DEPTH, () => 'x'.repeat(255))),
    );
    expect(parsed?.type).toBe('STATUS_UPDATE');
  });

  it('refuses deeper nesting without overflowing the stack, however deep', () => {
    for (const levels of [MAX_CONTAINER_ID_DEPTH + 1, 5_000, 200_000]) {
      // Written out by hand: JSON.stringify itself would overflow on such a value.
      const containerId = `${'{"value":"c","parent":'.repeat(levels - 1)}{"value":"c"}${'}'.repeat(levels - 1)}`;
      const body = statusWith({ value: 'placeholder' }).replace('{"value":"placeholder"}', containerId);
      expect(() => parseMessageBody(AgentMessageSchema, body)).not.toThrow();
      expect(parseMessageBody(AgentMessageSchema, body)).toBeUndefined();
    }
  });

  it.each([
    ['empty', ''],
    ['longer than 255 characters', 'x'.repeat(256)],
    ['with a period (the separator of nested ids)', 'a.b'],
    ['with a slash', 'a/b'],
    ['with a space', 'a b'],
    ['with a control character', 'a\u0001b'],
  ])('refuses a value %s, at any level', (_what, value) => {
    expect(parseMessageBody(AgentMessageSchema, statusWith({ value }))).toBeUndefined();
    expect(parseMessageBody(AgentMessageSchema, statusWith({ value: 'child', parent: { value } }))).toBeUndefined();
  });
});

describe('the launch grant', () => {
  const launch = (grant: unknown) => ({
    type: 'LAUNCH',
    framework_id: { value: 'F1' },
    framework_info: { user: 'alice', name: 'f' },
    task: { name: 't', task_id: { value: 't' }, agent_id: { value: 'S1' } },
    launch_id: 'L1',
    ...(grant === undefined ? {} : { grant }),
  });

  it('is optional: a LAUNCH from a master before grants parses, with no grant', () => {
    const parsed = AgentCommandSchema.parse(launch(undefined));
    expect(parsed.type === 'LAUNCH' && parsed.grant).toBeUndefined();
  });

  it('has safe defaults: no root, nothing privileged, no host paths or parameters, every network mode', () => {
    expect(SAFE_GRANT).toEqual({
      root: false,
      privileged: false,
      host_paths: [],
      docker_parameters: [],
      network_modes: ['HOST', 'BRIDGE', 'NONE', 'USER'],
      capabilities: [],
      ipc_modes: ['private', 'shareable', 'none'],
      ulimits: ['memlock', 'stack', 'nofile'],
      max_shm_size_mb: null,
      s3_buckets: [],
    } satisfies LaunchGrant);
    const parsed = AgentCommandSchema.parse(launch({ root: true, network_modes: ['NONE'] }));
    expect(parsed.type === 'LAUNCH' && parsed.grant).toEqual({ ...SAFE_GRANT, root: true, network_modes: ['NONE'] });
  });

  it('refuses a malformed grant rather than reading it as anything', () => {
    expect(AgentCommandSchema.safeParse(launch({ root: 'yes please' })).success).toBe(false);
    expect(AgentCommandSchema.safeParse(launch({ network_modes: ['EVERYTHING'] })).success).toBe(false);
  });
});
