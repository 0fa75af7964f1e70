/**
 * Which executors an ACCEPT charges (Mesos `Master::_accept`: an executor's resources are added once,
 * when the agent does not run it yet). A task naming an executor already running on the agent, or
 * charged with an earlier task of the same ACCEPT, takes only its own resources; it must describe the
 * same ExecutorInfo (Mesos `validateCompatibleExecutorInfo`). Pure.
 */
import { createHash } from 'node:crypto';
import { taskKey } from '#shared/ids.js';
import type { ExecutorInfo, Resource } from '#shared/protocol/mesos.js';
import type { AgentRecord } from '../registrar/index.js';

/** A launch's executor as the ledger write takes it: `resources` only when this launch charges it. */
export interface LaunchExecutor {
  readonly executorId: string;
  readonly kind: 'CUSTOM' | 'DEFAULT';
  readonly infoHash: string;
  readonly resources?: Resource[];
}

/** A digest of an ExecutorInfo, kept in the ledger to compare later tasks' descriptions with. */
export function executorDigest(info: ExecutorInfo): string {
  return createHash('sha256').update(JSON.stringify(info)).digest('base64url').slice(0, 22);
}

export class ExecutorCharges {
  private readonly seen = new Map<string, ExecutorInfo>();

  constructor(
    private readonly agent: Pick<AgentRecord, 'executors'>,
    private readonly frameworkId: string,
  ) {}

  /** The executor of a task, charged with `resources` unless it runs already; or why it cannot be. */
  charge(
    info: ExecutorInfo,
    kind: LaunchExecutor['kind'],
    resources: Resource[],
  ): { ok: true; value: LaunchExecutor } | { ok: false; error: string } {
    const executorId = info.executor_id.value;
    const infoHash = executorDigest(info);
    const seen = this.seen.get(executorId);
    if (seen) {
      if (JSON.stringify(seen) !== JSON.stringify(info)) {
        return { ok: false, error: `ExecutorInfo for executor '${executorId}' differs from that of another task` };
      }
      return { ok: true, value: { executorId, kind, infoHash } };
    }
    const running = this.agent.executors[taskKey(this.frameworkId, executorId)];
    if (running && (running.infoHash !== infoHash || running.kind !== kind)) {
      return {
        ok: false,
        error: 'Task has invalid ExecutorInfo (existing ExecutorInfo with same ExecutorID is not compatible)',
      };
    }
    this.seen.set(executorId, info);
    return { ok: true, value: { executorId, kind, infoHash, ...(running ? {} : { resources }) } };
  }
}
