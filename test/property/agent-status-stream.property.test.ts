import fc from 'fast-check';
import { expect, it } from 'vitest';
import { journalRecords, StatusUpdateStream, type JournalRecord } from '../../agent/status-update-stream.js';
import { taskStatus } from '../../agent/statuses.js';
import type { TaskState } from '#shared/protocol/mesos.js';
import { isTerminal } from '#shared/tasks/state-machine.js';

const STATES: TaskState[] = [
  'TASK_STARTING',
  'TASK_RUNNING',
  'TASK_KILLING',
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
];

type Step = { kind: 'update'; state: TaskState } | { kind: 'ack'; pick: number } | { kind: 'redeliver'; pick: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('update' as const), state: fc.constantFrom(...STATES) }),
  fc.record({ kind: fc.constant('ack' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('redeliver' as const), pick: fc.nat() }),
);

it('delivers updates in order, one at a time, each acknowledged once, nothing after the terminal one', () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
      const stream = new StatusUpdateStream();
      const journal: JournalRecord[] = [];
      const added: string[] = [];
      const acknowledged: string[] = [];
      let terminal = false;
      for (const s of steps) {
        if (s.kind === 'update') {
          const status = taskStatus({ taskId: 't', state: s.state });
          const outcome = stream.update(status);
          expect(outcome).toBe(terminal ? 'terminated' : 'queued');
          if (outcome === 'queued') {
            journal.push({ type: 'UPDATE', status });
            added.push(status.uuid as string);
            terminal = isTerminal(s.state);
          }
        } else if (s.kind === 'redeliver' && added.length > 0) {
          // A redelivered copy of an update already added is a duplicate.
          const uuid = added[s.pick % added.length] as string;
          expect(stream.update({ task_id: { value: 't' }, state: 'TASK_RUNNING', uuid })).toBe('duplicate');
        } else if (s.kind === 'ack' && added.length > 0) {
          // Acknowledgements may name any update; only the head's moves the stream.
          const uuid = added[s.pick % added.length] as string;
          const wasHead = stream.head?.uuid === uuid;
          const outcome = stream.acknowledge(uuid);
          expect(outcome).toBe(wasHead ? 'acknowledged' : 'duplicate');
          if (wasHead) {
            journal.push({ type: 'ACK', uuid });
            acknowledged.push(uuid);
          }
        }
        // The head is always the oldest unacknowledged update.
        const pending = added.filter((uuid) => !acknowledged.includes(uuid));
        expect(stream.head?.uuid).toBe(pending[0]);
        expect(stream.size).toBe(pending.length);
      }
      expect(acknowledged).toEqual(added.slice(0, acknowledged.length));
      expect(stream.closed).toBe(terminal && acknowledged.length === added.length);
      // Replaying the journal gives back the same stream.
      const replayed = StatusUpdateStream.replay(journalRecords(JSON.parse(JSON.stringify(journal)) as unknown[]));
      expect(replayed.head?.uuid).toBe(stream.head?.uuid);
      expect(replayed.size).toBe(stream.size);
      expect(replayed.latestState).toBe(stream.latestState);
      expect(replayed.closed).toBe(stream.closed);
    }),
  );
});
