/**
 * SUBSCRIBE (docs/scheduler-api.md): register or resubscribe the framework, then stream its events. Failures
 * found once the stream is open are an ERROR event followed by the end of the stream, as in Mesos. A queue-delivered
 * framework (delivery.ts) is registered the same way; only its event queue and the answer differ.
 */
import { validateOfferConstraints } from '../allocator/constraints.js';
import { newFrameworkId, newStreamId, validateTaskId } from '#shared/ids.js';
import type { FrameworkInfo, MasterInfo } from '#shared/protocol/mesos.js';
import { allowsRole } from '#shared/acl.js';
import { frameworkRoles } from '../registrar/index.js';
import type { Master } from '../master/master.js';
import type { EventDelivery } from './delivery.js';
import type { Authority } from './task-authorization.js';
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

/** Why a resubscription may not take this framework id (checked again when it is written), if it may not. */
async function takenBy(master: Master, frameworkId: string, principal: string): Promise<string | undefined> {
  const current = await master.registrar.frameworks.get(frameworkId);
  if (current?.status === 'REMOVED') return 'Framework has been removed';
  if (current && current.principal !== principal) return "Changing framework's principal is not allowed";
  return undefined;
}

/** The message of a refused role, as Mesos words it; the same for SUBSCRIBE and UPDATE_FRAMEWORK. */
export function roleRefusal(authority: Authority, roles: readonly string[]): string | undefined {
  const refused = roles.find((role) => !allowsRole(authority.acl, role));
  if (refused === undefined) return undefined;
  const who =
    authority.principal === undefined ? 'this cluster does not allow it' : `principal '${authority.principal}' may not`;
  return `Not authorized to use role '${refused}': ${who} (acl: roles)`;
}

/**
 * Opens a SUBSCRIBE stream, or subscribes a queue-delivered framework (`delivery`). `authority` is the
 * caller's (its principal with authentication on). Nothing is created — no framework, no event queue —
 * before the caller is authorized.
 */
export async function subscribe<R>(
  master: Master,
  call: SubscribeCall,
  authority: Authority,
  delivery: EventDelivery<R>,
): Promise<R> {
  const streamId = newStreamId();
  const error = (message: string): R => {
    master.metrics.increment('master/framework_subscribe_errors');
    return delivery.refused(streamId, message);
  };
  // With authentication on, the framework's principal is the authenticated one.
  const principal = authority.principal;
  const info: FrameworkInfo =
    principal !== undefined ? { ...call.subscribe.framework_info, principal } : call.subscribe.framework_info;
  const idError = call.framework_id ? validateTaskId(call.framework_id.value, 'Framework ID') : undefined;
  if (idError) return error(idError);
  const roles = frameworkRoles(info);
  if (!roles.ok) return error(roles.error.message);
  const constraints = call.subscribe.offer_constraints;
  const constraintsError = constraints ? validateOfferConstraints(constraints) : undefined;
  if (constraintsError) return error(`Invalid offer constraints: ${constraintsError}`);
  const refused = roleRefusal(authority, roles.value);
  if (refused) return error(refused);

  const frameworkId = call.framework_id?.value ?? newFrameworkId(master.config.clusterId);
  const taken = call.framework_id ? await takenBy(master, frameworkId, info.principal ?? '') : undefined;
  if (taken) return error(taken);
  const queue = delivery.queue(master.config.cluster, frameworkId, principal ?? '');
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
