/**
 * What every `mantle` verb built on commander shares: the exit codes, the connection flags of the operator
 * verbs (--master, --principal, --secret, MANTLE_MASTER / MESOS_MASTER / MANTLE_PRINCIPAL / MANTLE_SECRET), and
 * running a verb so that its refusals go to stderr with the right exit code.
 */
import type { Command } from 'commander';
import { resolveMaster } from '#shared/master-url.js';
import { OperatorClient, OperatorError } from '../sdk/operator.js';
import { CallError, type ConnectionOptions } from '../sdk/calls.js';
import { JobsApiError } from '../sdk/jobs.js';
import { UsageError } from './jobs-client.js';

/** The exit codes of every verb (docs/operator.md "The CLI"). */
export const EXIT = { ok: 0, request: 1, usage: 2, failed: 3, cancelled: 4, interrupted: 130 } as const;

/** Where a verb's exit code is left for main() (commander's actions return nothing). */
export interface Outcome {
  code: number;
}

export interface ConnectionFlags {
  readonly master?: string;
  readonly principal?: string;
  readonly secret?: string;
  readonly json?: boolean;
}

/** Adds the connection flags (and --json where the verb prints something worth parsing). */
export function withConnection(command: Command, json = true): Command {
  command
    .option('--master <host:port>', 'the master (default: MANTLE_MASTER, else MESOS_MASTER, else 127.0.0.1:5050)')
    .option('--principal <name>', 'authenticate as this principal (default: MANTLE_PRINCIPAL)')
    .option('--secret <secret>', 'its secret (default: MANTLE_SECRET)');
  if (json) command.option('--json', "print the operator API's JSON as it is");
  return command;
}

/** Where the master is and who asks, from the flags and environment; a UsageError when they cannot say. */
export function connectionOf(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ConnectionOptions {
  const master = resolveMaster({ given: flags.master, env, fallback: '127.0.0.1:5050' });
  if (!master.ok) throw new UsageError(master.error);
  const principal = flags.principal ?? env.MANTLE_PRINCIPAL;
  const secret = flags.secret ?? env.MANTLE_SECRET;
  if (Boolean(principal) !== Boolean(secret)) {
    throw new UsageError('--principal and --secret go together (or MANTLE_PRINCIPAL and MANTLE_SECRET)');
  }
  return { master: master.value, ...(principal && secret ? { credentials: { principal, secret } } : {}) };
}

/** The operator client for the flags and environment. */
export function operatorClient(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): OperatorClient {
  return new OperatorClient(connectionOf(flags, env));
}

/** `mantle quota set`, the words a message starts with. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let at: Command | null = command; at; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

/** What a refusal or bad argument exits with, said on stderr; anything else is a bug and is thrown. */
export function failure(path: string, error: unknown): number {
  if (error instanceof UsageError) {
    console.error(`${path}: ${error.message}\n(run '${path} --help' for its usage)`);
    return EXIT.usage;
  }
  if (error instanceof OperatorError || error instanceof JobsApiError || error instanceof CallError) {
    console.error(`${path}: ${error.message}`);
    return EXIT.request;
  }
  throw error;
}

/** The last argument commander passes an action: the command itself. */
type Action = (this: Command, ...args: never[]) => Promise<number>;

/** Makes `run` the command's action: its exit code lands in `outcome`, its failures on stderr. */
export function act(command: Command, outcome: Outcome, run: Action): Command {
  return command.action(async function (this: Command, ...args: unknown[]) {
    try {
      outcome.code = await run.apply(this, args as never[]);
    } catch (error) {
      outcome.code = failure(commandPath(this), error);
    }
  });
}

/** Prints lines to stdout. */
export function print(lines: readonly string[]): void {
  for (const line of lines) console.log(line);
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}
