/** Lambda entry point of the status handler (SQS event source on the status FIFO queue). */
import { CounterExporter, STATUS_SERVICE, TASK_UPDATE_PREFIX } from '../master/cloudwatch.js';
import { masterFromEnvironment } from './master-from-env.js';
import { createStatusHandler } from './status.js';
import { traced } from '#shared/tracing.js';

const master = masterFromEnvironment();
// Task updates by state, for the dashboard (CloudWatch EMF).
const exporter = new CounterExporter(master.metrics, TASK_UPDATE_PREFIX, STATUS_SERVICE, master.config.cluster);

export const handler = traced(
  createStatusHandler(master).after(() => {
    exporter.flush();
  }),
  master.logger,
);
