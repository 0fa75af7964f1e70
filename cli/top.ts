/**
 * `mantle top`: a live table of the cluster (top-view.ts), redrawn every --interval seconds from GET_STATE.
 * On a terminal it takes the screen and ends on q, Ctrl-C or SIGTERM, giving the screen back; when stdout is
 * not a terminal it prints the table once and ends. A master that stops answering is said on the screen and
 * asked again at the next refresh.
 */
import { Command } from 'commander';
import { OperatorError, type OperatorClient } from '../sdk/operator.js';
import { act, EXIT, operatorClient, withConnection, type ConnectionFlags, type Outcome } from './command.js';
import { UsageError } from './jobs-client.js';
import { renderTop } from './top-view.js';

/** The terminal as top uses it (process.stdin and process.stdout, or test doubles). */
export interface TopIo {
  readonly input: {
    readonly isTTY?: boolean;
    setRawMode?(raw: boolean): unknown;
    on(event: 'data', listener: (data: Buffer | string) => void): unknown;
    off(event: 'data', listener: (data: Buffer | string) => void): unknown;
    resume(): unknown;
    pause(): unknown;
  };
  readonly output: {
    readonly isTTY?: boolean;
    readonly rows?: number;
    readonly columns?: number;
    write(text: string): unknown;
  };
}

export interface TopOptions {
  readonly intervalMs: number;
  /** Ends top as q does (tests; signals are wired by the command). */
  readonly signal?: AbortSignal;
}

const ENTER = '\x1b[?1049h\x1b[?25l';
const LEAVE = '\x1b[?25h\x1b[?1049l';
const HOME_AND_CLEAR = '\x1b[H\x1b[2J';
const QUIT_KEYS = new Set(['q', 'Q', '\u0003']);

/** One refresh: the lines to draw, or a line saying why there are none. */
async function frame(client: OperatorClient, io: TopIo, tty: boolean): Promise<string[]> {
  const state = await client.getState();
  return renderTop(state, {
    master: client.master,
    now: new Date(),
    ...(tty ? { rows: io.output.rows ?? 24, columns: io.output.columns ?? 80 } : {}),
  });
}

/** Runs top on a terminal until q, Ctrl-C or the signal; resolves with the exit code. */
function live(client: OperatorClient, io: TopIo, options: TopOptions): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const stop = (failure?: unknown) => {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      io.input.off('data', onKey);
      io.input.setRawMode?.(false);
      io.input.pause();
      options.signal?.removeEventListener('abort', onAbort);
      io.output.write(LEAVE);
      if (failure === undefined) resolve(EXIT.ok);
      else reject(failure as Error);
    };
    const onKey = (data: Buffer | string) => {
      if ([...String(data)].some((key) => QUIT_KEYS.has(key))) stop();
    };
    const refresh = async () => {
      let lines: string[];
      try {
        lines = await frame(client, io, true);
      } catch (error) {
        if (!(error instanceof OperatorError)) return stop(error);
        lines = [`mantle top   ${client.master}   (q to quit)`, '', error.message, 'trying again…'];
      }
      if (stopped) return;
      io.output.write(`${HOME_AND_CLEAR}${lines.join('\n')}`);
      timer = setTimeout(() => void refresh(), options.intervalMs);
    };
    const onAbort = () => stop();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    io.output.write(ENTER);
    if (io.input.isTTY) io.input.setRawMode?.(true);
    io.input.on('data', onKey);
    io.input.resume();
    void refresh();
  });
}

export async function runTop(client: OperatorClient, io: TopIo, options: TopOptions): Promise<number> {
  if (!io.output.isTTY) {
    io.output.write(`${(await frame(client, io, false)).join('\n')}\n`);
    return EXIT.ok;
  }
  return live(client, io, options);
}

function interval(text: string): number {
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0.2)
    throw new UsageError(`--interval must be 0.2 seconds or more, not '${text}'`);
  return seconds * 1000;
}

export function topCommand(outcome: Outcome): Command {
  const command = withConnection(
    new Command('top')
      .description('a live table of the cluster; q or Ctrl-C ends it (printed once when stdout is not a terminal)')
      .option('--interval <seconds>', 'how often it is refreshed', '2'),
    false,
  );
  return act(command, outcome, async function () {
    const flags = this.opts<ConnectionFlags & { interval: string }>();
    const intervalMs = interval(flags.interval);
    const client = operatorClient(flags);
    const ended = new AbortController();
    const end = () => ended.abort();
    process.once('SIGINT', end);
    process.once('SIGTERM', end);
    try {
      return await runTop(
        client,
        { input: process.stdin, output: process.stdout },
        { intervalMs, signal: ended.signal },
      );
    } finally {
      process.off('SIGINT', end);
      process.off('SIGTERM', end);
    }
  });
}
