/**
 * The SQS stand-in's package (local-aws-sqs 2.0.2), loaded with its in-flight quota corrected (docs/local-cluster.md, "The SQS stand-in").
 *
 * The package refuses every ReceiveMessage once a queue holds as many *visible* messages as its in-flight quota
 * (it subtracts the in-flight count from the total instead of using it), so a backlog of 20,000 on a FIFO queue
 * or 120,000 on a standard one could never be drained: the scale simulation's status path stopped there for good.
 * SQS counts only messages received and not yet deleted, and stores any backlog (the quotas page of the SQS
 * Developer Guide): at 120,000 in flight a standard queue answers OverLimit, and a FIFO queue (120,000 too)
 * returns nothing. This loads the package's own bundle with that one check rewritten; anything else about it is
 * unchanged, and a version whose check reads differently fails loudly here rather than running unpatched.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { compileFunction } from 'node:vm';
import type * as LocalAwsSqs from 'local-aws-sqs';

/** The package's check and quota as its bundle spells them, and what they become. */
const CORRECTIONS: ReadonlyArray<readonly [string, string]> = [
  // c: the visible messages (total less in flight) -> the messages in flight; FIFO answers nothing at the quota.
  [
    'c=a-d;if(o+c>=S(this,Me))throw new F("The maximum number of in flight messages is reached");',
    'c=d;if(c>=S(this,Me)){if(this.FifoQueue)return[];throw new F("The maximum number of in flight messages is reached")}',
  ],
  // A FIFO queue's in-flight quota: 120,000 since November 2024 (it was 20,000).
  ['C(this,Me,2e4)', 'C(this,Me,12e4)'],
];

/** The bundle's source with the corrections; throws if any is not found exactly once. */
export function correctedSource(source: string): string {
  let corrected = source;
  for (const [from, to] of CORRECTIONS) {
    const at = corrected.indexOf(from);
    if (at < 0 || corrected.indexOf(from, at + 1) >= 0) {
      throw new Error(
        `local-aws-sqs: the in-flight check '${from}' is not in its bundle exactly once; this version needs ` +
          'local/sqs-package.ts reviewed',
      );
    }
    corrected = corrected.slice(0, at) + to + corrected.slice(at + from.length);
  }
  return corrected;
}

/** Resolved when this module loads: an installed Mantle without its development dependencies fails here, at once. */
const PACKAGE_FILE = createRequire(import.meta.url).resolve('local-aws-sqs');

let loaded: typeof LocalAwsSqs | undefined;

/** The corrected package, compiled once as Node would compile its CommonJS bundle (its own requires resolve as usual). */
export function localAwsSqs(): typeof LocalAwsSqs {
  if (loaded) return loaded;
  const file = PACKAGE_FILE;
  const params = ['exports', 'require', 'module', '__filename', '__dirname'];
  const body = compileFunction(correctedSource(readFileSync(file, 'utf8')), params, { filename: file });
  const module = { exports: {} as typeof LocalAwsSqs };
  body(module.exports, createRequire(file), module, file, dirname(file));
  loaded = module.exports;
  return loaded;
}
