/**
 * SUBSCRIBE (docs/scheduler-api.md): register or resubscribe the framework, then stream its events. Failures
 * found once the stream is open are an ERROR event followed by the end of the stream, as in Mesos. A queue-delivered
 * framework (delivery.ts) is registered the same way; only its event queue and the answer differ.
 */
import { validateOfferConstraints } from '../allocator/constraints.js';
import { newFrameworkId, newStreamId } from '#shared/ids.js';
import type { FrameworkInfo, MasterInfo } from '#shared/protocol/mesos.js';
import { frameworkRoles, mayUseRole, type PrincipalRecord } from '../registrar/index.js';
import type { Master } from '../master/master.js';
import type { EventDelivery } from './delivery.js';
import type { SubscribeCall } from './validation.js';

export const MANTLE_VERSION = '0.1.0';

export function masterInfo(master: Master): MasterInfo {
  return {
    id: master.config.clusterId,
    ip: 0,
    port: 5050,
    hostname: master.config.cluster,
    version: MANTLE_VERSION,
    address: { hostname: master.config.cluster, port: 5050 },
  };
}

/**
 * Opens a SUBSCRIBE stream, or subscribes a queue-delivered framework (`delivery`). `principal` is the authenticated
 * caller (undefined with authentication off).
 */
export async function subscribe<R>(
  master: Master,
  call: SubscribeCall,
  principal: PrincipalRecord | undefined,
  delivery: EventDelivery<R>,
): Promise<R> {
  const streamId = newStreamId();
  const error = (message: string): R => {
    master.metrics.increment('master/framework_subscribe_errors');
    return delivery.refused(streamId, message);
  };
  // With authentication on, the framework's principal is the authenticated one.
  const info: FrameworkInfo = principal
    ? { ...call.subscribe.framework_info, principal: principal.principal }
    : call.subscribe.framework_info;
  const roles = frameworkRoles(info);
  if (!roles.ok) return error(roles.error.message);
  const constraints = call.subscribe.offer_constraints;
  const constraintsError = constraints ? validateOfferConstraints(constraints) : undefined;
  if (constraintsError) return error(`Invalid offer constraints: ${constraintsError}`);
  if (principal) {
    const refused = roles.value.find((role) => !mayUseRole(principal, role));
    if (refused !== undefined) {
      return error(`Not authorized to use role '${refused}': principal '${principal.principal}' may not`);
    }
  }

  const frameworkId = call.framework_id?.value ?? newFrameworkId(master.config.clusterId);
  const queue = delivery.queue(master.config.cluster, frameworkId, principal?.principal ?? '');
  const eventQueueUrl = await master.queues.ensure(queue.name, queue.options);
  const result = await master.registrar.frameworks.subscribe({
    frameworkId,
    info,
    streamId,
    eventQueueUrl,
    delivery: delivery.kind,
    ...(call.subscribe.suppressed_roles ? { suppressedRoles: call.subscribe.suppressed_roles } : {}),
    ...(call.subscribe.offer_constraints ? { offerConstraints: call.subscribe.offer_constraints } : {}),
  });
  if (!result.ok) {
    return error(result.error.code === 'FRAMEWORK_REMOVED' ? 'Framework has been removed' : result.error.message);
  }
  const { framework, created, previousStreamId } = result.value;
  master.metrics.increment(created ? 'master/messages_register_framework' : 'master/messages_reregister_framework');
  master.logger.info('Framework subscribed', {
    frameworkId,
    streamId,
    name: framework.info.name,
    roles: framework.roles,
    failedOver: previousStreamId,
    delivery: delivery.kind,
  });
  await master.allocation.request({ reason: 'FRAMEWORK_SUBSCRIBED', frameworkId });
  return delivery.opened(master, {
    frameworkId,
    streamId,
    eventQueueUrl,
    info: framework.info,
    masterInfo: masterInfo(master),
  });
}
