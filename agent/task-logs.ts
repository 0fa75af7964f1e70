/**
 * The agent's link to the task log store the master names at registration (a CloudWatch Logs group,
 * or a local cluster's stand-in): the client the output shipper writes through, replaced only when a
 * re-registration names another store.
 */
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { RegisterAgentResponse } from '#shared/protocol/internal.js';
import { CloudWatchTaskLogWriter, createLogsClient } from '#shared/task-logs/cloudwatch.js';
import type { OutputShipper } from './output-shipper.js';

export class TaskLogConnection {
  private current: { group: string; endpoint: string | undefined; client: CloudWatchLogsClient } | undefined;

  constructor(
    private readonly shipper: OutputShipper,
    private readonly region: string | undefined,
  ) {}

  /** Follows the registration's answer: connects, reconnects elsewhere, or disconnects. */
  update(logs: RegisterAgentResponse['task_logs']): void {
    const current = this.current;
    if (current?.group === logs?.log_group && current?.endpoint === logs?.endpoint) return;
    this.close();
    if (!logs) return;
    const client = createLogsClient({
      ...(this.region ? { region: this.region } : {}),
      ...(logs.endpoint ? { endpoint: logs.endpoint } : {}),
    });
    this.current = { group: logs.log_group, endpoint: logs.endpoint, client };
    this.shipper.connect(new CloudWatchTaskLogWriter(client, logs.log_group));
  }

  close(): void {
    this.shipper.connect(undefined);
    this.current?.client.destroy();
    this.current = undefined;
  }
}
