/**
 * What becomes of the sandboxes' content: stdout and stderr shipped to the task log store while tasks
 * run (output-shipper.ts, through the store the master names: task-logs.ts), live sandboxes held to
 * their disk with `--enforce_container_disk_quota` (disk-quota.ts), and ended sandboxes
 * garbage-collected (sandbox-gc.ts).
 */
import type { RegisterAgentResponse } from '#shared/protocol/internal.js';
import type { AgentContext } from './context.js';
import { DiskQuota } from './disk-quota.js';
import { OutputShipper } from './output-shipper.js';
import { SandboxGc } from './sandbox-gc.js';
import { TaskLogConnection } from './task-logs.js';

export class Sandboxes {
  readonly shipper: OutputShipper;
  readonly gc: SandboxGc;
  readonly quota: DiskQuota | undefined;
  private readonly logs: TaskLogConnection;

  constructor(agent: Pick<AgentContext, 'config' | 'checkpoint' | 'life' | 'logger' | 'metrics' | 'executors'>) {
    const { config, life, logger, metrics } = agent;
    this.shipper = new OutputShipper({ checkpoint: agent.checkpoint, life, logger, metrics });
    this.logs = new TaskLogConnection(this.shipper, config.region);
    this.gc = new SandboxGc({
      workDir: config.workDir,
      gcDelayMs: config.gcDelayMs,
      gcDiskHeadroom: config.gcDiskHeadroom,
      intervalMs: config.diskWatermarkIntervalMs,
      live: () => new Set([...agent.executors.values()].map((executor) => executor.sandboxRun)),
      life,
      logger,
      metrics,
    });
    this.quota = config.enforceContainerDiskQuota
      ? new DiskQuota({
          intervalMs: config.containerDiskWatchIntervalMs,
          tasks: () => agent.executors.values(),
          life,
          logger,
          metrics,
        })
      : undefined;
  }

  /** The master's registration answer names the task log store (or none). */
  registered(response: RegisterAgentResponse): void {
    this.logs.update(response.task_logs);
  }

  /** The garbage collector's loop and the disk quota's, until the agent ends. */
  async run(): Promise<void> {
    await Promise.all([this.gc.run(), this.quota?.run()]);
  }

  close(): void {
    this.logs.close();
  }
}
