/**
 * SUBSCRIBE (docs/scheduler-api.md): register or resubscribe the framework, then stream its events. Failures
 * found once the stream is open are an ERROR event followed by the end of the stream, as in Mesos.
 */
import { validateOfferConstraints } from '../allocator/constraints.js';
import { newFrameworkId, newStreamId, validateTaskId } from '#shared/ids.js';
import type { FrameworkInfo, MasterInfo } from '#shared/protocol/mesos.js';
import { queueNames, RUNTIME_MAX_RECEIVES } from '#shared/queues/queues.js';
import { frameworkRoles, mayUseRole, type PrincipalRecord } from '../registrar/index.js';
import type { Master } from '../master/master.js';
import { errorStream, subscriptionStream } from './stream.js';
import type { SubscribeCall } from './validation.js';

export const MANTLE_VERSION = '0.1.0';

export interface SubscribeResult {
  readonly streamId: string;
  readonly body: ReadableStream<Uint8Array>;
}

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

/** Opens a SUBSCRIBE stream. `principal` is the authenticated caller (undefined with authentication off). */
export async function subscribe(
  master: Master,
  call: SubscribeCall,
  principal: PrincipalRecord | undefined,
): Promise<SubscribeResult> {
  const streamId = newStreamId();
  const error = (message: string): SubscribeResult => {
    master.metrics.increment('master/framework_subscribe_errors');
    return { streamId, body: errorStream(message) };
  };
  // With authentication on, the framework's principal is the authenticated one.
  const info: FrameworkInfo = principal
    ? { ...call.subscribe.framework_info, principal: principal.principal }
    : call.subscribe.framework_info;
  const idError = call.framework_id ? validateTaskId(call.framework_id.value, 'Framework ID') : undefined;
  if (idError) return error(idError);
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
  const eventQueueUrl = await master.queues.ensure(queueNames.frameworkEvents(master.config.cluster, frameworkId), {
    visibilityTimeoutSeconds: 30,
    retentionSeconds: 24 * 3600,
    maxReceiveCount: RUNTIME_MAX_RECEIVES,
    deadLetterName: queueNames.frameworkEventsDeadLetter(master.config.cluster),
  });
  const result = await master.registrar.frameworks.subscribe({
    frameworkId,
    info,
    streamId,
    eventQueueUrl,
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
  });
  await master.allocation.request({ reason: 'FRAMEWORK_SUBSCRIBED', frameworkId });
  return {
    streamId,
    body: subscriptionStream(master, {
      frameworkId,
      streamId,
      eventQueueUrl,
      info: framework.info,
      masterInfo: masterInfo(master),
    }),
  };
}
