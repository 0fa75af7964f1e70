/**
 * Per-principal caps on SUBSCRIBE. Each open stream holds a Lambda invocation for up to its maximum
 * duration, so one principal with many frameworks or streams could take the account's concurrency from
 * everyone (the status, heartbeat and allocator functions have their own reserved concurrency besides).
 * Mesos has no such caps; its answer to a principal that asks too much (--rate_limits) is 429, and so is
 * Mantle's, with the setting to raise named in the message.
 */
import type { Master } from '../master/master.js';
import type { SubscribeCall } from './validation.js';

/**
 * Why this SUBSCRIBE passes a cap, or undefined. Resubscribing a framework never adds a framework; a
 * queue-delivered one (`stream` false) holds no stream.
 */
export async function subscribeCapExceeded(
  master: Pick<Master, 'config' | 'registrar'>,
  call: SubscribeCall,
  principal: string | undefined,
  stream = true,
): Promise<string | undefined> {
  const { maxFrameworksPerPrincipal, maxStreamsPerPrincipal } = master.config;
  const name = principal ?? call.subscribe.framework_info.principal ?? '';
  const frameworkId = call.framework_id?.value;
  let known = false;
  let frameworks = 0;
  let streams = 0;
  for await (const framework of master.registrar.frameworks.list()) {
    if (framework.principal !== name || framework.status === 'REMOVED') continue;
    if (framework.frameworkId === frameworkId) {
      known = true;
      continue;
    }
    frameworks++;
    if (framework.status === 'SUBSCRIBED' && framework.delivery === 'stream') streams++;
  }
  const who = name ? `principal '${name}'` : 'the cluster (authentication off)';
  if (!known && frameworks >= maxFrameworksPerPrincipal) {
    return (
      `Too many frameworks for ${who}: at most ${maxFrameworksPerPrincipal} ` +
      `(maxFrameworksPerPrincipal, MANTLE_MAX_FRAMEWORKS_PER_PRINCIPAL); tear down frameworks no longer used`
    );
  }
  if (stream && streams >= maxStreamsPerPrincipal) {
    return (
      `Too many open subscriptions for ${who}: at most ${maxStreamsPerPrincipal} ` +
      `(maxStreamsPerPrincipal, MANTLE_MAX_STREAMS_PER_PRINCIPAL)`
    );
  }
  return undefined;
}
