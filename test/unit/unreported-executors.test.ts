/**
 * Which executors a re-registering agent's report gives back (unreportedExecutors): the custom ones it
 * did not report, but for those charged too recently for their LAUNCH to have reached it; a DEFAULT
 * executor goes with its tasks, never by the report.
 */
import { describe, expect, it } from 'vitest';
import { taskKey } from '#shared/ids.js';
import { allocate } from '#shared/resources/resources.js';
import type { AgentRecord } from '../../functions/registrar/agent-records.js';
import type { AllocatedExecutor } from '../../functions/registrar/ledger.js';
import { unreportedExecutors } from '../../functions/registrar/ledger-releases.js';
import { resources } from '../support/resources.js';

const FRAMEWORK = 'f';

function executor(executorId: string, launchedAt: number, kind: 'CUSTOM' | 'DEFAULT' = 'CUSTOM'): AllocatedExecutor {
  return {
    frameworkId: FRAMEWORK,
    executorId,
    kind,
    role: '*',
    resources: allocate(resources('cpus:0.5;mem:64'), '*'),
    infoHash: 'h',
    launchId: `l-${executorId}`,
    launchedAt,
  };
}

function agentWith(...executors: AllocatedExecutor[]): AgentRecord {
  return {
    agentId: 'a',
    hostname: 'h',
    ip: '127.0.0.1',
    port: 5051,
    commandQueueUrl: 'q',
    containerizers: ['mesos'],
    principal: '',
    attributes: [],
    capabilities: [],
    total: resources('cpus:4;mem:1024'),
    offers: {},
    tasks: {},
    executors: Object.fromEntries(executors.map((e) => [taskKey(e.frameworkId, e.executorId), e])),
    version: 1,
    status: 'ACTIVE',
    deactivated: false,
    registeredAt: 0,
    lastHeartbeat: 0,
  };
}

const ids = (executors: AllocatedExecutor[]) => executors.map((e) => e.executorId);
const reported = (...executorIds: string[]) => new Set(executorIds.map((id) => taskKey(FRAMEWORK, id)));

describe('unreportedExecutors', () => {
  it('gives back the custom executors charged before the cut-off that the agent did not report', () => {
    const agent = agentWith(executor('gone', 100), executor('runs', 100));
    expect(ids(unreportedExecutors(agent, reported('runs'), 1000))).toEqual(['gone']);
    expect(ids(unreportedExecutors(agent, reported(), 1000))).toEqual(['gone', 'runs']);
    expect(unreportedExecutors(agent, reported('gone', 'runs'), 1000)).toEqual([]);
  });

  it('keeps one charged at or after the cut-off: its LAUNCH may not have reached the agent yet', () => {
    const agent = agentWith(executor('old', 999), executor('at', 1000), executor('young', 1001));
    expect(ids(unreportedExecutors(agent, reported(), 1000))).toEqual(['old']);
  });

  it('never gives back a DEFAULT executor, which ends with its last task', () => {
    const agent = agentWith(executor('pod', 0, 'DEFAULT'));
    expect(unreportedExecutors(agent, reported(), 1000)).toEqual([]);
  });

  it("matches by framework and executor id: another framework's executor of the same id is not reported", () => {
    const agent = agentWith(executor('e', 0));
    expect(ids(unreportedExecutors(agent, new Set([taskKey('other', 'e')]), 1000))).toEqual(['e']);
  });
});
