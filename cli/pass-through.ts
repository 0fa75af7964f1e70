/**
 * Commands whose words commander hands on untouched to their own parser (node:util parseArgs, with Mesos's
 * `--flag=value` spellings and a job's command after `--`): `local`, `execute`, `job`, `queue`, `principal`
 * and running an agent. Their usage text stays theirs; `-h`/`--help` before `--` prints it.
 */
import { Command } from 'commander';
import { commandPath, failure, type Outcome } from './command.js';

export type Runner = (args: readonly string[]) => Promise<number>;

/** Whether the words ask for help (words after `--` are a job's command, never this program's flags). */
export function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  const flags = end === -1 ? args : args.slice(0, end);
  return flags.includes('--help') || flags.includes('-h');
}

/**
 * A command that runs `run` with its words; `usage` (when given) answers -h/--help: the text to print, or the
 * exit code when it could not be had (and said why).
 */
export function passThrough(
  name: string,
  outcome: Outcome,
  run: Runner,
  usage?: () => Promise<string | number>,
): Command {
  const command = new Command(name);
  return command
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .argument('[words...]')
    .action(async (words: string[]) => {
      try {
        if (usage && asksForHelp(words)) {
          const text = await usage();
          if (typeof text === 'string') console.log(text);
          outcome.code = typeof text === 'string' ? 0 : text;
          return;
        }
        outcome.code = await run(words);
      } catch (error) {
        // Running an agent is `mantle agent`, not `mantle agent run`.
        outcome.code = failure(
          command.parent && name === 'run' ? commandPath(command.parent) : commandPath(command),
          error,
        );
      }
    });
}
