/**
 * The SQS stand-in's package (local-aws-sqs 2.0.2), loaded with corrections that make it answer as SQS does
 * (docs/local-cluster.md, "The SQS stand-in"). This loads the package's own bundle with those checks rewritten;
 * anything else about it is unchanged, and a version whose code reads differently fails loudly here rather than
 * running unpatched.
 *
 * 1. The in-flight quota. The package refuses every ReceiveMessage once a queue holds as many *visible* messages
 *    as its in-flight quota (it subtracts the in-flight count from the total instead of using it), so a backlog of
 *    20,000 on a FIFO queue or 120,000 on a standard one could never be drained: the scale simulation's status path
 *    stopped there for good. SQS counts only messages received and not yet deleted, and stores any backlog (the
 *    quotas page of the SQS Developer Guide): at 120,000 in flight a standard queue answers OverLimit, and a FIFO
 *    queue (120,000 too) returns nothing.
 * 2. The receive. The package looks at a queue only every 10 ms, first 10 ms after the request came, and holds a
 *    receive for its whole wait (plus 40 ms, even with a wait of 0) unless it fills MaxNumberOfMessages. SQS answers
 *    a long poll as soon as any message is there, and a short poll (a wait of 0) at once. Here a receive looks at
 *    once, answers with whatever is visible, and otherwise waits for the next message to become visible (a send, a
 *    delay or a visibility timeout running out wakes it) or for its wait to end. A send's messages each become
 *    visible in a timer of their own, so the wake waits for the timers due at once: a batch is answered whole.
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
  // The receive (Fs: wait t s, up to e messages, visibility i s): look at once and answer with any; otherwise wait
  // to be woken (Fs.n, below) or for the 10 ms look, until the wait ends. Fs.w holds each queue's waiting receives.
  [
    'Fs=function(t,e,i){return p(this,null,function*(){let r=[],n,o,a=new Promise(y=>{o=y}),d=0,c;return ' +
      'n=setTimeout(()=>{clearInterval(c),o()},fr+t*1e3),n.unref(),c=setInterval(()=>{d++;for(let y of S(this,E))' +
      'if(!y.delayed){if(y.visible){l(this,D,Wt).call(this,y,i);let f=ke({},y);f.record=ke({},f.record),' +
      'f.record.attributes=ke({},f.record.attributes),r.push(f)}if(r.length==e){clearInterval(c),clearTimeout(n),' +
      'o();break}}},10),c.unref(),yield a,r.map(y=>y.record)})}',
    'Fs=Object.assign(function(t,e,i){return p(this,null,function*(){let r=[],n,o,a=new Promise(y=>{o=y}),c,' +
      'w=Fs.w.get(this)||new Set,s=()=>{for(let y of S(this,E))if(!y.delayed){if(y.visible){' +
      'l(this,D,Wt).call(this,y,i);let f=ke({},y);f.record=ke({},f.record),' +
      'f.record.attributes=ke({},f.record.attributes),r.push(f)}if(r.length==e)break}' +
      'if(r.length>0){clearInterval(c),clearTimeout(n),w.delete(s),o()}};Fs.w.set(this,w),s();' +
      'if(r.length==0)if(t>0){w.add(s),n=setTimeout(()=>{clearInterval(c),w.delete(s),o()},t*1e3),n.unref(),' +
      'c=setInterval(s,10),c.unref()}else o();return yield a,r.map(y=>y.record)})},' +
      '{w:new WeakMap,n(q){let w=Fs.w.get(q);if(w)for(let f of[...w])f()},' +
      'p:new WeakSet,d(q){Fs.p.has(q)||(Fs.p.add(q),setImmediate(()=>{Fs.p.delete(q),Fs.n(q)}))}})',
  ],
  // A message sent (or its delay over) wakes the queue's waiting receives: once the timers due now have all run
  // (Fs.d), so that a receive woken by a batch's send answers with the whole batch, as SQS does, not its first.
  ['setTimeout(()=>{i.delayed=!1,ie(this,ge)._--},r)', 'setTimeout(()=>{i.delayed=!1,ie(this,ge)._--,Fs.d(this)},r)'],
  // So does a message whose visibility timeout ran out.
  [':t.visible=!0)},r),t.tm.unref()', ':(t.visible=!0,Fs.d(this)))},r),t.tm.unref()'],
];

/** The bundle's source with the corrections; throws if any is not found exactly once. */
export function correctedSource(source: string): string {
  let corrected = source;
  for (const [from, to] of CORRECTIONS) {
    const at = corrected.indexOf(from);
    if (at < 0 || corrected.indexOf(from, at + 1) >= 0) {
      throw new Error(
        `local-aws-sqs: the code '${from.slice(0, 60)}' is not in its bundle exactly once; this version needs ` +
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
