/**
 * UPDATE_FRAMEWORK (answered synchronously, 200): the framework's info, suppressed roles and offer
 * constraints change; offers of roles it gives up are rescinded and their filters cleared. Roles are
 * authorized as at SUBSCRIBE: one the caller may not use is a 403 (Mesos's answer), and nothing changes.
 * Changes Mesos refuses (the user, the checkpoint flag, ...) are a 409.
 */
import { groupBy } from '#shared/collections.js';
import { validateOfferConstraints } from '../allocator/constraints.js';
import { frameworkRoles, type FrameworkRecord, type OfferRecord } from '../registrar/index.js';
import { announceRescinds } from '../master/lifecycle.js';
import type { Master } from '../master/master.js';
import { badRequest, forbidden, type CallResponse } from './responses.js';
import { roleRefusal } from './subscribe.js';
import type { Authority } from './task-authorization.js';
import type { CallOf } from './validation.js';

export async function updateFramework(
  master: Master,
  framework: FrameworkRecord,
  call: CallOf<'UPDATE_FRAMEWORK'>,
  authority: Authority,
): Promise<CallResponse> {
  const { frameworkId } = framework;
  const update = call.update_framework;
  const roles = frameworkRoles(update.framework_info);
  if (!roles.ok) return badRequest(roles.error.message);
  const refused = roleRefusal(authority, roles.value);
  if (refused) return forbidden(refused);
  const constraintsError = update.offer_constraints ? validateOfferConstraints(update.offer_constraints) : undefined;
  if (constraintsError) return badRequest(`Invalid offer constraints: ${constraintsError}`);
  const result = await master.registrar.frameworks.update({
    frameworkId,
    info: framework.principal ? { ...update.framework_info, principal: framework.principal } : update.framework_info,
    ...(update.suppressed_roles ? { suppressedRoles: update.suppressed_roles } : {}),
    ...(update.offer_constraints ? { offerConstraints: update.offer_constraints } : {}),
  });
  if (!result.ok) {
    return result.error.code === 'INVALID_ARGUMENT'
      ? badRequest(result.error.message)
      : { status: 409, body: result.error.message };
  }
  const { removedRoles } = result.value;
  if (removedRoles.length > 0) {
    const offers = await master.registrar.agents.offersOf(frameworkId);
    await rescind(
      master,
      offers.filter((offer) => removedRoles.includes(offer.role)),
    );
    await master.registrar.filters.clear(frameworkId, removedRoles);
  }
  await master.allocation.request({ reason: 'REVIVE', frameworkId });
  return { status: 200 };
}

/** Takes the offers off their agents and tells their frameworks. */
async function rescind(master: Master, offers: readonly OfferRecord[]): Promise<void> {
  for (const [agentId, list] of groupBy(offers, (offer) => offer.agentId)) {
    const removed = await master.registrar.agents.removeOffers({
      agentId,
      offerIds: list.map((offer) => offer.offerId),
    });
    if (removed.ok) await announceRescinds(master, removed.value.removed);
  }
}
