/**
 * `mantle job submit`'s spec: a file (`--file job.json`, or YAML: `job.yaml`, `job.yml`),
 * then the flags over it. A flag replaces its field, except `--env`, whose variables are added to the
 * file's (a flag's value wins for the same name). The API validates the result; here only what a flag's
 * text cannot be (a priority that is not an integer) is refused.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYamlText } from 'yaml';
import { UsageError } from './jobs-client.js';

export const SUBMIT_OPTIONS = {
  file: { type: 'string', short: 'f' },
  name: { type: 'string' },
  queue: { type: 'string' },
  priority: { type: 'string' },
  command: { type: 'string' },
  image: { type: 'string' },
  resources: { type: 'string' },
  env: { type: 'string', multiple: true },
  retries: { type: 'string' },
  'retry-backoff': { type: 'string' },
  timeout: { type: 'string' },
  array: { type: 'string' },
  'depends-on': { type: 'string', multiple: true },
  schedule: { type: 'string' },
  gang: { type: 'string' },
  wait: { type: 'boolean', default: false },
} as const;

export interface SubmitFlags {
  readonly file?: string | undefined;
  readonly name?: string | undefined;
  readonly queue?: string | undefined;
  readonly priority?: string | undefined;
  readonly command?: string | undefined;
  readonly image?: string | undefined;
  readonly resources?: string | undefined;
  readonly env?: string[] | undefined;
  readonly retries?: string | undefined;
  readonly 'retry-backoff'?: string | undefined;
  readonly timeout?: string | undefined;
  readonly array?: string | undefined;
  readonly 'depends-on'?: string[] | undefined;
  readonly schedule?: string | undefined;
  readonly gang?: string | undefined;
}

type Spec = Record<string, unknown>;

function integer(flag: string, text: string): number {
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`--${flag} must be an integer, not '${text}'`);
  return Number(text);
}

/** KEY=VALUE pairs (`--env` repeated). */
export function parseEnvFlags(pairs: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new UsageError(`--env: '${pair}' is not KEY=VALUE`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

/** `id` or `id:succeeded` / `id:finished` (ids hold ':' themselves: an array child is `<id>:<i>`). */
export function parseDependency(text: string): { job: string; condition?: string } {
  const match = /^(.+):(succeeded|finished)$/.exec(text);
  return match?.[1] && match[2] ? { job: match[1], condition: match[2] } : { job: text };
}

/** Words after `--` as one shell command, each quoted where the shell would read it differently. */
export function shellCommand(words: readonly string[]): string {
  return words.map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function parseYaml(text: string, path: string): unknown {
  try {
    return parseYamlText(text);
  } catch (error) {
    throw new UsageError(`--file ${path} is not valid YAML: ${(error as Error).message}`, { cause: error });
  }
}

/** The spec in a file: JSON, or YAML by its extension (.yaml, .yml). */
export async function readSpecFile(path: string): Promise<Spec> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      cause: error,
    });
  }
  let parsed: unknown;
  if (['.yaml', '.yml'].includes(extname(path).toLowerCase())) parsed = parseYaml(text, path);
  else {
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`--file ${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`--file ${path} must hold one job spec (an object)`);
  }
  return parsed as Spec;
}

/** The fields the flags set (only those given). */
export function specFromFlags(flags: SubmitFlags, words: readonly string[]): Spec {
  if (flags.command !== undefined && words.length > 0) {
    throw new UsageError('give the command with --command or after --, not both');
  }
  const command = flags.command ?? (words.length > 0 ? shellCommand(words) : undefined);
  const int = (flag: keyof SubmitFlags & string): number | undefined => {
    const value = flags[flag];
    return typeof value === 'string' ? integer(flag, value) : undefined;
  };
  const fields: Spec = {
    name: flags.name,
    queue: flags.queue,
    priority: int('priority'),
    command,
    docker_image: flags.image,
    resources: flags.resources,
    retries: int('retries'),
    retry_backoff_seconds: int('retry-backoff'),
    timeout_seconds: int('timeout'),
    array: int('array'),
    depends_on: flags['depends-on']?.map(parseDependency),
    schedule: flags.schedule,
    gang: int('gang'),
  };
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

/** The spec to submit: the file's (if any), the flags over it, `--env` merged. */
export async function buildSpec(flags: SubmitFlags, words: readonly string[]): Promise<Spec> {
  const file = flags.file !== undefined ? await readSpecFile(flags.file) : {};
  const spec: Spec = { ...file, ...specFromFlags(flags, words) };
  if (flags.env && flags.env.length > 0) {
    const fileEnv = typeof file.env === 'object' && file.env !== null ? (file.env as Record<string, string>) : {};
    spec.env = { ...fileEnv, ...parseEnvFlags(flags.env) };
  }
  return spec;
}
