/**
 * What becomes of the sandboxes' content: stdout and stderr shipped to the task log store while tasks
 * run (output-shipper.ts, through the store the master names: task-logs.ts), and ended sandboxes
 * garbage-collected (sandbox-gc.ts).
 */
import type { RegisterAgentResponse } from '#shared/protocol/internal.js';
import type { AgentContext } from './context.js';
import { OutputShipper } from './output-shipper.js';
import { SandboxGc } from './sandbox-gc.js';
import { TaskLogConnection } from './task-logs.js';

export class Sandboxes {
  readonly shipper: OutputShipper;
  readonly gc: SandboxGc;
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
  }

  /** The master's registration answer names the task log store (or none). */
  registered(response: RegisterAgentResponse): void {
    this.logs.update(response.task_logs);
  }

  /** The garbage collector's loop, until the agent ends. */
  run(): Promise<void> {
    return this.gc.run();
  }

  close(): void {
    this.logs.close();
  }
}
