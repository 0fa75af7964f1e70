/** The lines a child process writes, stdout and stderr, as they come. */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export function onOutputLines(child: ChildProcess, onLine: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
  }
}
