/**
 * `mantle agent`: run an agent (its own flags, agent/config.ts), or act on one through the operator API:
 * `drain` (DRAIN_AGENT), `deactivate` (DEACTIVATE_AGENT), `reactivate` (REACTIVATE_AGENT), `gone`
 * (MARK_AGENT_GONE).
 */
import { Command } from 'commander';
import { usage as agentUsage } from '../agent/config.js';
import { act, EXIT, operatorClient, print, withConnection, type ConnectionFlags, type Outcome } from './command.js';
import { UsageError } from './jobs-client.js';
import { passThrough } from './pass-through.js';

interface DrainFlags extends ConnectionFlags {
  readonly grace?: string;
  readonly markGone?: boolean;
}

function seconds(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new UsageError(`--grace must be seconds (0 or more), not '${text}'`);
  return value;
}

function drain(outcome: Outcome): Command {
  const command = withConnection(
    new Command('drain')
      .description('kill its tasks and offer it no more (reactivate undoes the latter)')
      .argument('<agent-id>')
      .option('--grace <seconds>', "cap on each task's kill grace period")
      .option('--mark-gone', 'remove the agent for good once drained (its tasks end TASK_GONE_BY_OPERATOR)'),
    false,
  );
  return act(command, outcome, async function (agentId: string) {
    const flags = this.opts<DrainFlags>();
    const grace = seconds(flags.grace);
    await operatorClient(flags).drainAgent(agentId, {
      ...(grace !== undefined ? { maxGracePeriodSeconds: grace } : {}),
      markGone: flags.markGone === true,
    });
    print([`agent ${agentId} draining${flags.markGone ? '; it is marked gone once drained' : ''}`]);
    return EXIT.ok;
  });
}

/** A verb that sends one `{agent_id}` call. */
function oneCall(
  outcome: Outcome,
  name: string,
  description: string,
  send: (client: ReturnType<typeof operatorClient>, agentId: string) => Promise<void>,
  done: string,
): Command {
  const command = withConnection(new Command(name).description(description).argument('<agent-id>'), false);
  return act(command, outcome, async function (agentId: string) {
    await send(operatorClient(this.opts<ConnectionFlags>()), agentId);
    print([`agent ${agentId} ${done}`]);
    return EXIT.ok;
  });
}

export function agentCommand(outcome: Outcome): Command {
  const run = passThrough('run', outcome, async (args) => {
    const { runAgentCli } = await import('../agent/main.js');
    return runAgentCli(args);
  });
  return new Command('agent')
    .enablePositionalOptions()
    .description('run an agent and join a master; or drain, deactivate, reactivate an agent or mark it gone')
    .usage('[flags]   |   mantle agent <drain|deactivate|reactivate|gone> <agent-id> [options]')
    .addCommand(drain(outcome))
    .addCommand(
      oneCall(
        outcome,
        'deactivate',
        'offer it no more; its tasks go on',
        (c, id) => c.deactivateAgent(id),
        'deactivated',
      ),
    )
    .addCommand(
      oneCall(
        outcome,
        'reactivate',
        'offer it again (after drain or deactivate)',
        (c, id) => c.reactivateAgent(id),
        'reactivated',
      ),
    )
    .addCommand(
      oneCall(
        outcome,
        'gone',
        'it is never coming back: its tasks end TASK_GONE_BY_OPERATOR (MARK_AGENT_GONE)',
        (c, id) => c.markAgentGone(id),
        'marked gone',
      ),
    )
    .addCommand(run, { isDefault: true, hidden: true })
    .addHelpText('after', () => `\nRunning an agent:\n${agentUsage()}`);
}
