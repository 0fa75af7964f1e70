/**
 * Commands whose words commander hands on untouched to their own parser (node:util parseArgs, with Mesos's
 * `--flag=value` spellings and a job's command after `--`): `local`, `execute`, `job`, `queue`, `principal`
 * and running an agent. Their usage text stays theirs; `-h`/`--help` before `--` prints it.
 */
import { Command } from 'commander';
import type { Outcome } from './command.js';

export type Runner = (args: readonly string[]) => Promise<number>;

/** Whether the words ask for help (words after `--` are a job's command, never this program's flags). */
export function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  const flags = end === -1 ? args : args.slice(0, end);
  return flags.includes('--help') || flags.includes('-h');
}

/** A command that runs `run` with its words; `usage` (when given) answers -h/--help. */
export function passThrough(name: string, outcome: Outcome, run: Runner, usage?: () => Promise<string>): Command {
  return new Command(name)
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .argument('[words...]')
    .action(async (words: string[]) => {
      if (usage && asksForHelp(words)) {
        console.log(await usage());
        outcome.code = 0;
        return;
      }
      outcome.code = await run(words);
    });
}
