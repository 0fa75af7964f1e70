/**
 * `mantle pending`: why work waits. The allocator's reasons per framework and role (and the Jobs framework's per
 * job) from the operator API's GET_PENDING_REASONS, a Mantle extension.
 */
import { Command } from 'commander';
import type { PendingReason } from '../sdk/operator-types.js';
import {
  act,
  EXIT,
  operatorClient,
  print,
  printJson,
  withConnection,
  type ConnectionFlags,
  type Outcome,
} from './command.js';
import { table } from './job-format.js';

export function pendingTable(reasons: readonly PendingReason[]): string[] {
  if (reasons.length === 0) return ['nothing is pending: every active framework was offered something'];
  return table(
    ['FRAMEWORK', 'ROLE', 'JOB', 'REASON', 'MESSAGE'],
    reasons.map((reason) => [
      reason.framework_id?.value ?? '-',
      reason.role ?? '-',
      reason.job_id ?? '-',
      reason.reason ?? reason.code ?? '-',
      reason.message ?? '',
    ]),
  );
}

export function pendingCommand(outcome: Outcome): Command {
  const command = withConnection(
    new Command('pending')
      .description("why frameworks, roles and jobs wait for offers (the allocator's reasons)")
      .option('--framework <id>', "only this framework's")
      .option('--role <role>', "only this role's"),
  );
  return act(command, outcome, async function () {
    const flags = this.opts<ConnectionFlags & { framework?: string; role?: string }>();
    const reasons = await operatorClient(flags).getPendingReasons({
      ...(flags.framework ? { frameworkId: flags.framework } : {}),
      ...(flags.role ? { role: flags.role } : {}),
    });
    if (flags.json) printJson({ reasons });
    else print(pendingTable(reasons));
    return EXIT.ok;
  });
}
