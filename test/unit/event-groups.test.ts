import { describe, expect, it } from 'vitest';
import { eventGroup, type EventTarget } from '../../functions/master/event-publisher.js';
import type { Event } from '#shared/protocol/scheduler.js';

const update = (task: string): Event => ({
  type: 'UPDATE',
  update: { status: { task_id: { value: task }, state: 'TASK_RUNNING' } },
});
const queue: EventTarget = { frameworkId: 'c-F1', eventQueueUrl: 'q', delivery: 'queue' };

describe('eventGroup', () => {
  it("keeps every event of a stream framework in the framework's group", () => {
    expect(eventGroup({ ...queue, delivery: 'stream' }, update('t'))).toBe('c-F1');
    expect(eventGroup({ frameworkId: 'c-F1', eventQueueUrl: 'q' }, update('t'))).toBe('c-F1');
  });

  it("gives a queue framework's updates a group per task, under its id; its other events its own group", () => {
    const a = eventGroup(queue, update('a'));
    expect(a).toMatch(/^c-F1\/[A-Za-z0-9_-]{22}$/);
    expect(eventGroup(queue, update('a'))).toBe(a);
    expect(eventGroup(queue, update('b'))).not.toBe(a);
    // Task ids may be any Unicode; the group is SQS's characters only.
    expect(eventGroup(queue, update('träning/ü 1'))).toMatch(/^c-F1\/[A-Za-z0-9_-]{22}$/);
    expect(eventGroup(queue, { type: 'RESCIND', rescind: { offer_id: { value: 'o' } } })).toBe('c-F1');
  });

  it("falls back to the framework's group where the task's would be over SQS's 128 characters", () => {
    const long = { ...queue, frameworkId: `${'x'.repeat(110)}-F1` };
    expect(eventGroup(long, update('a'))).toBe(long.frameworkId);
  });
});
