/**
 * Executors in the ledger's arithmetic, over random accepts: whatever tasks name whatever executors
 * (running on the agent or new), an executor is charged at most once per agent, and what the offers
 * held, taken by the tasks and the new executors, never leaves offered + allocated above the total.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { taskKey } from '#shared/ids.js';
import type { ExecutorInfo } from '#shared/protocol/mesos.js';
import { allocate } from '#shared/resources/resources.js';
import { acceptChange } from '../../functions/registrar/accept-changes.js';
import type { AgentRecord } from '../../functions/registrar/agent-records.js';
import {
  freeResources,
  ledgerViolation,
  type AllocatedExecutor,
  type Ledger,
  type OfferRecord,
} from '../../functions/registrar/ledger.js';
import { ExecutorCharges, executorDigest } from '../../functions/scheduler/executor-charges.js';
import { resources } from '../support/resources.js';

const FRAMEWORK = 'f';
const TOTAL = resources('cpus:4;mem:4096');

function info(id: string): ExecutorInfo {
  return { type: 'CUSTOM', executor_id: { value: id }, command: { value: 'run' } };
}

function running(id: string, cpus: number): [string, AllocatedExecutor] {
  const executor: AllocatedExecutor = {
    frameworkId: FRAMEWORK,
    executorId: id,
    kind: 'CUSTOM',
    role: '*',
    resources: allocate(resources(`cpus:${cpus};mem:64`), '*'),
    infoHash: executorDigest(info(id)),
    launchId: 'old',
    launchedAt: 0,
  };
  return [taskKey(FRAMEWORK, id), executor];
}

const taskArbitrary = fc.record({
  executor: fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { nil: undefined }),
  cpus: fc.integer({ min: 1, max: 8 }).map((n) => n / 8),
});

describe('executors in the ledger', () => {
  it('are charged at most once per agent, and offered + allocated never exceed the total', () => {
    fc.assert(
      fc.property(
        fc.subarray(['a', 'b']),
        fc.array(taskArbitrary, { maxLength: 12 }),
        fc.integer({ min: 1, max: 8 }).map((n) => n / 8),
        (runningIds, tasks, executorCpus) => {
          const executors = Object.fromEntries(runningIds.map((id) => running(id, 0.5)));
          const ledger: Ledger = { total: TOTAL, offers: {}, tasks: {}, executors };
          const offer: OfferRecord = {
            offerId: 'o1',
            agentId: 'A',
            frameworkId: FRAMEWORK,
            role: '*',
            resources: allocate(freeResources(ledger), '*'),
            createdAt: 0,
          };
          const charges = new ExecutorCharges({ executors } as Pick<AgentRecord, 'executors'>, FRAMEWORK);
          const launches = tasks.map((task, i) => {
            const charged = task.executor
              ? charges.charge(info(task.executor), 'CUSTOM', resources(`cpus:${executorCpus};mem:32`))
              : undefined;
            if (charged && !charged.ok) throw new Error(charged.error);
            return {
              taskId: `t${i}`,
              resources: resources(`cpus:${task.cpus};mem:16`),
              ...(charged ? { executor: charged.value } : {}),
            };
          });
          const input = { agentId: 'A', frameworkId: FRAMEWORK, offers: [offer], launches, launchId: 'l' };
          const result = acceptChange(input, 1);
          if (!result.ok) {
            expect(result.error.code).toBe('INSUFFICIENT_RESOURCES');
            return;
          }
          const ids = result.value.executors.map((executor) => executor.executorId);
          expect(new Set(ids).size).toBe(ids.length);
          for (const id of ids) expect(runningIds).not.toContain(id);
          const after: Ledger = {
            total: TOTAL,
            offers: {},
            tasks: Object.fromEntries(result.value.tasks.map((task) => [taskKey(FRAMEWORK, task.taskId), task])),
            executors: {
              ...executors,
              ...Object.fromEntries(result.value.executors.map((e) => [taskKey(FRAMEWORK, e.executorId), e])),
            },
          };
          expect(ledgerViolation(after)).toBeUndefined();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a task for a running executor described otherwise', () => {
    const charges = new ExecutorCharges({ executors: Object.fromEntries([running('a', 0.5)]) }, FRAMEWORK);
    const other = charges.charge({ ...info('a'), name: 'another' }, 'CUSTOM', []);
    expect(other.ok ? '' : other.error).toMatch(/not compatible/);
    const same = charges.charge(info('a'), 'CUSTOM', resources('cpus:1'));
    expect(same).toEqual({ ok: true, value: { executorId: 'a', kind: 'CUSTOM', infoHash: executorDigest(info('a')) } });
  });
});
