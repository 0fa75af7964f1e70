/**
 * The verbs of `mantle job` and `mantle queue`: their flags parsed (with the connection's), the client
 * built, one verb run; usage errors exit 2, refusals and unreachable masters 1.
 */
import { parseArgs } from 'node:util';
import { EXIT } from './command.js';
import { CONNECTION_OPTIONS, JobsApiError, JobsClient, UsageError } from './jobs-client.js';

export { EXIT } from './command.js';

/** What a verb needs: the parsed flags, the words, the client, and where to print. */
export interface Invocation {
  readonly values: Record<string, unknown>;
  readonly positionals: string[];
  readonly client: JobsClient;
  readonly json: boolean;
  readonly print: (line: string) => void;
}

export type Verb = (invocation: Invocation) => Promise<number>;

/** Each verb with its own flags (parseArgs options) and whether it takes words. */
export type VerbTable = Readonly<Record<string, { verb: Verb; options: object; positionals: boolean }>>;

export function printJson(invocation: Invocation, value: unknown): void {
  invocation.print(JSON.stringify(value, null, 2));
}

function invocationOf(entry: VerbTable[string], args: readonly string[]): Invocation {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { ...CONNECTION_OPTIONS, ...(entry.options as typeof CONNECTION_OPTIONS) },
    allowPositionals: entry.positionals,
    strict: true,
  });
  const client = JobsClient.from(values);
  return { values, positionals, client, json: values.json, print: (line) => console.log(line) };
}

/** Runs `mantle <command> <verb> ...`. */
export async function runVerbs(
  command: string,
  usage: string,
  verbs: VerbTable,
  argv: readonly string[],
): Promise<number> {
  const [name, ...rest] = argv;
  const entry = name === undefined ? undefined : verbs[name];
  if (name === undefined || entry === undefined) {
    console.error(name === undefined ? usage : `mantle ${command}: unknown verb '${name}'\n\n${usage}`);
    return EXIT.usage;
  }
  let invocation: Invocation;
  try {
    invocation = invocationOf(entry, rest);
  } catch (error) {
    console.error(`mantle ${command} ${name}: ${(error as Error).message}\n\n${usage}`);
    return EXIT.usage;
  }
  try {
    return await entry.verb(invocation);
  } catch (error) {
    if (!(error instanceof JobsApiError) && !(error instanceof UsageError)) throw error;
    console.error(`mantle ${command} ${name}: ${error.message}`);
    return error instanceof JobsApiError ? EXIT.request : EXIT.usage;
  }
}
