/**
 * The child process that runs the SQS stand-in for a local cluster (startSqsStandInProcess,
 * local/sqs-standin.ts). Its one argument is the port (0: a free one); it says the port it listens on, or why
 * it could not start, and exits when its parent goes away (the IPC channel closes) or sends SIGTERM.
 */
import { startSqsStandIn, type SqsHostReply } from './sqs-standin.js';

function reply(message: SqsHostReply, then?: () => void): void {
  process.send?.(message, undefined, {}, () => then?.());
}

// The parent stopped us, or died (even by SIGKILL): the queues have nobody left to serve.
process.once('disconnect', () => process.exit(0));
process.once('SIGTERM', () => process.exit(0));
// Ctrl-C reaches the terminal's whole process group: the cluster stops us once its agents are done with the queues.
process.on('SIGINT', () => undefined);

try {
  const { port } = await startSqsStandIn({ port: Number(process.argv[2] ?? 0) });
  reply({ type: 'ready', port });
} catch (error) {
  reply({ type: 'error', message: (error as Error).message }, () => process.exit(1));
}
