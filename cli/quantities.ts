/** Resource quantities as typed on the command line (`--guarantee cpus=16,gpus=2`). Pure. */
import { UsageError } from './jobs-client.js';

/** `gpus=2,cpus=16` (repeatable) → {gpus: 2, cpus: 16}. */
export function parseQuantities(flag: string, texts: readonly string[]): Record<string, number> {
  const quantities: Record<string, number> = {};
  for (const pair of texts.flatMap((text) => text.split(','))) {
    const match = /^\s*([^=\s]+)\s*=\s*([0-9.]+)\s*$/.exec(pair);
    const value = Number(match?.[2]);
    if (!match?.[1] || !Number.isFinite(value)) throw new UsageError(`--${flag}: '${pair}' is not name=quantity`);
    quantities[match[1]] = value;
  }
  return quantities;
}
