/**
 * Frameworks and their subscriptions (docs/registrar.md, "Frameworks and subscriptions").
 *
 * One live subscription per framework, enforced atomically: SUBSCRIBE replaces the item's
 * `stream_id` with a conditional write on the version it read, so two racing subscriptions serialize
 * and the loser's stream is failed over by the winner (Mesos "Framework failed over"). Every other call
 * must present the current stream id.
 *
 * Lifecycle: SUBSCRIBED → (stream closed) DISCONNECTED → (reconnect grace over) INACTIVE →
 * (failover_timeout over, or TEARDOWN) REMOVED. Resubscribing in DISCONNECTED or INACTIVE returns to
 * SUBSCRIBED; REMOVED is final. DISCONNECTED is Mantle's deliberate deviation: a stream cut by the
 * Lambda response cap is not a failure, so the framework stays active for a short grace.
 */
import type { FrameworkInfo, Request } from '#shared/protocol/mesos.js';
import type { OfferConstraints } from '#shared/protocol/scheduler.js';
import { hasCapability } from '#shared/protocol/capabilities.js';
import { newFrameworkId } from '#shared/ids.js';
import { ok, type Result } from '#shared/result.js';
import { DEFAULT_ROLE, validateRole } from '#shared/roles.js';
import { RETRY, retrying, type RegistrarContext } from './context.js';
import { epochSeconds, Expression, type Item } from './expression.js';
import { failure, type RegistrarError } from './errors.js';

export type FrameworkStatus = 'SUBSCRIBED' | 'DISCONNECTED' | 'INACTIVE' | 'REMOVED';

export interface FrameworkRecord {
  readonly frameworkId: string;
  readonly info: FrameworkInfo;
  /** "" when the framework has no principal. */
  readonly principal: string;
  /** The roles it is subscribed to (MULTI_ROLE `roles`, or the single legacy `role`). */
  readonly roles: string[];
  readonly suppressedRoles: string[];
  readonly offerConstraints?: OfferConstraints;
  readonly status: FrameworkStatus;
  readonly streamId?: string;
  /** The framework's event queue (SQS FIFO), drained by its SUBSCRIBE stream or, queue-delivered, by its handler. */
  readonly eventQueueUrl: string;
  /** 'queue': a queue-delivered framework, which has no stream to lose (docs/scheduler-api.md). */
  readonly delivery: 'stream' | 'queue';
  /** The latest REQUEST call: what the framework says it is waiting for (pending demand). */
  readonly requests?: { readonly requests: Request[]; readonly at: number };
  readonly version: number;
  readonly registeredAt: number;
  readonly reregisteredAt?: number;
  /** When the current stream last said it is alive (it writes this every heartbeat interval). */
  readonly streamSeenAt?: number;
  readonly disconnectedAt?: number;
  readonly deactivatedAt?: number;
  readonly removedAt?: number;
  /** The removal's work (offers, tasks, queue) is finished; until then the sweeper finishes it. */
  readonly removalDone?: boolean;
}

export interface Subscription {
  /** Absent on a framework's first SUBSCRIBE; the master assigns one. */
  readonly frameworkId?: string;
  readonly info: FrameworkInfo;
  readonly streamId: string;
  readonly eventQueueUrl?: string;
  readonly delivery?: 'stream' | 'queue';
  readonly suppressedRoles?: readonly string[];
  readonly offerConstraints?: OfferConstraints;
}

/** How long a removed framework's record is kept, to answer "Framework has been removed". */
const REMOVED_RETENTION_MS = 30 * 24 * 3600 * 1000;

/** The framework's roles, after the Mesos validation of `role` / `roles` against MULTI_ROLE. */
export function frameworkRoles(info: FrameworkInfo): Result<string[], RegistrarError<'INVALID_ARGUMENT'>> {
  const multiRole = hasCapability(info, 'MULTI_ROLE');
  let roles: string[];
  if (multiRole) {
    if (info.role !== undefined) {
      return failure('INVALID_ARGUMENT', "'FrameworkInfo.role' must not be set when the MULTI_ROLE capability is set");
    }
    roles = [...(info.roles ?? [])];
  } else {
    if (info.roles !== undefined && info.roles.length > 0) {
      return failure('INVALID_ARGUMENT', "'FrameworkInfo.roles' is set but the MULTI_ROLE capability is not");
    }
    roles = [info.role ?? DEFAULT_ROLE];
  }
  if (new Set(roles).size !== roles.length) return failure('INVALID_ARGUMENT', "'FrameworkInfo.roles' has duplicates");
  for (const role of roles) {
    const error = validateRole(role);
    if (error) return failure('INVALID_ARGUMENT', error);
  }
  return ok(roles);
}

function validateSubscription(
  subscription: Subscription,
): Result<{ roles: string[]; suppressed: string[] }, RegistrarError<'INVALID_ARGUMENT'>> {
  const { info } = subscription;
  if (info.user === '' || info.name === '') return failure('INVALID_ARGUMENT', 'FrameworkInfo needs a user and a name');
  const failover = info.failover_timeout ?? 0;
  if (!Number.isFinite(failover) || failover < 0) {
    return failure('INVALID_ARGUMENT', `Invalid failover_timeout ${failover}`);
  }
  if (subscription.frameworkId !== undefined && info.id && info.id.value !== subscription.frameworkId) {
    return failure('INVALID_ARGUMENT', "'framework_id' differs from 'subscribe.framework_info.id'");
  }
  const roles = frameworkRoles(info);
  if (!roles.ok) return roles;
  const suppressed = [...new Set(subscription.suppressedRoles ?? [])];
  const unknown = suppressed.find((role) => !roles.value.includes(role));
  if (unknown !== undefined) {
    return failure('INVALID_ARGUMENT', `Suppressed role '${unknown}' is not one of the framework's roles`);
  }
  for (const role of Object.keys(subscription.offerConstraints?.role_constraints ?? {})) {
    if (!roles.value.includes(role)) {
      return failure(
        'INVALID_ARGUMENT',
        `Offer constraints for role '${role}' which the framework is not subscribed to`,
      );
    }
  }
  return ok({ roles: roles.value, suppressed });
}

function frameworkFromItem(item: Item): FrameworkRecord {
  return {
    frameworkId: item.framework_id as string,
    info: JSON.parse(item.info as string) as FrameworkInfo,
    principal: item.principal as string,
    roles: item.roles as string[],
    suppressedRoles: (item.suppressed_roles ?? []) as string[],
    ...(item.offer_constraints
      ? { offerConstraints: JSON.parse(item.offer_constraints as string) as OfferConstraints }
      : {}),
    status: item.status as FrameworkStatus,
    ...(item.stream_id !== undefined ? { streamId: item.stream_id as string } : {}),
    eventQueueUrl: (item.event_queue_url ?? '') as string,
    delivery: item.delivery === 'queue' ? 'queue' : 'stream',
    ...(item.requests
      ? { requests: { requests: JSON.parse(item.requests as string) as Request[], at: item.requested_at as number } }
      : {}),
    version: item.version as number,
    registeredAt: item.registered_at as number,
    ...(item.reregistered_at !== undefined ? { reregisteredAt: item.reregistered_at as number } : {}),
    ...(item.stream_seen_at !== undefined ? { streamSeenAt: item.stream_seen_at as number } : {}),
    ...(item.disconnected_at !== undefined ? { disconnectedAt: item.disconnected_at as number } : {}),
    ...(item.deactivated_at !== undefined ? { deactivatedAt: item.deactivated_at as number } : {}),
    ...(item.removed_at !== undefined ? { removedAt: item.removed_at as number } : {}),
    ...(item.removal_done === true ? { removalDone: true } : {}),
  };
}

/**
 * Whether a call carrying `streamId` may act for this framework (Mesos: 400 for a missing framework or a
 * stale stream id, 403 when not subscribed). Pure.
 */
export function checkSubscription(
  record: FrameworkRecord | undefined,
  frameworkId: string,
  streamId: string | undefined,
): Result<
  FrameworkRecord,
  RegistrarError<'UNKNOWN_FRAMEWORK' | 'FRAMEWORK_REMOVED' | 'NOT_SUBSCRIBED' | 'STREAM_MISMATCH'>
> {
  if (!record) return failure('UNKNOWN_FRAMEWORK', `Framework ${frameworkId} cannot be found`);
  if (record.status === 'REMOVED') return failure('FRAMEWORK_REMOVED', `Framework ${frameworkId} has been removed`);
  if (record.status === 'INACTIVE' || record.streamId === undefined) {
    return failure('NOT_SUBSCRIBED', `Framework ${frameworkId} is not subscribed`);
  }
  if (streamId === undefined || streamId !== record.streamId) {
    return failure('STREAM_MISMATCH', `The stream id does not match the subscription of framework ${frameworkId}`);
  }
  return ok(record);
}

export class FrameworkRegistry {
  constructor(private readonly context: RegistrarContext) {}

  get table(): string {
    return this.context.tables.frameworks;
  }

  async get(frameworkId: string): Promise<FrameworkRecord | undefined> {
    const item = await this.context.get(this.table, { framework_id: frameworkId });
    return item ? frameworkFromItem(item) : undefined;
  }

  /** Checks a call's framework id and Mesos-Stream-Id against the registrar. */
  async checkStream(
    frameworkId: string,
    streamId: string | undefined,
  ): Promise<
    Result<
      FrameworkRecord,
      RegistrarError<'UNKNOWN_FRAMEWORK' | 'FRAMEWORK_REMOVED' | 'NOT_SUBSCRIBED' | 'STREAM_MISMATCH'>
    >
  > {
    return checkSubscription(await this.get(frameworkId), frameworkId, streamId);
  }

  /**
   * SUBSCRIBE: registers a new framework, or resubscribes a known one with a new stream id. Returns the
   * stream id it replaced, whose stream is to be failed over. A framework id the registrar does not know
   * is accepted as Mesos accepts it after a master failover.
   */
  async subscribe(
    subscription: Subscription,
  ): Promise<
    Result<
      { framework: FrameworkRecord; previousStreamId?: string; created: boolean },
      RegistrarError<'INVALID_ARGUMENT' | 'FRAMEWORK_REMOVED' | 'PRINCIPAL_MISMATCH'>
    >
  > {
    const valid = validateSubscription(subscription);
    if (!valid.ok) return valid;
    const frameworkId = subscription.frameworkId ?? newFrameworkId(this.context.clusterId);
    const result = await retrying(64, async () => {
      const current = await this.get(frameworkId);
      const now = this.context.now();
      if (current?.status === 'REMOVED') {
        return failure('FRAMEWORK_REMOVED', `Framework ${frameworkId} has been removed`);
      }
      // Our own write, applied although its response was lost (the SDK retried it): done.
      if (current?.streamId === subscription.streamId) return ok({ framework: current, created: false });
      const principal = subscription.info.principal ?? '';
      if (current && current.principal !== principal) {
        return failure('PRINCIPAL_MISMATCH', `Changing framework's principal is not allowed`);
      }
      // user and checkpoint are immutable: a resubscription's changes to them are ignored, as in Mesos.
      const info: FrameworkInfo = {
        ...subscription.info,
        id: { value: frameworkId },
        ...(current ? { user: current.info.user, checkpoint: current.info.checkpoint } : {}),
      };
      const fields: Item = {
        info: JSON.stringify(info),
        principal,
        roles: valid.value.roles,
        suppressed_roles: valid.value.suppressed,
        status: 'SUBSCRIBED',
        stream_id: subscription.streamId,
        version: (current?.version ?? 0) + 1,
        ...(subscription.eventQueueUrl !== undefined ? { event_queue_url: subscription.eventQueueUrl } : {}),
        delivery: subscription.delivery ?? 'stream',
        stream_seen_at: now,
        ...(current ? { reregistered_at: now } : { registered_at: now }),
      };
      const x = new Expression();
      const sets = Object.entries(fields).map(([name, value]) => `${x.name(name)} = ${x.value(value)}`);
      const constraints = x.name('offer_constraints');
      if (subscription.offerConstraints) {
        sets.push(`${constraints} = ${x.value(JSON.stringify(subscription.offerConstraints))}`);
      }
      const removes = [
        ...(subscription.offerConstraints ? [] : [constraints]),
        x.name('disconnected_at'),
        x.name('deactivated_at'),
      ];
      const condition = current
        ? `${x.name('version')} = ${x.value(current.version)}`
        : `attribute_not_exists(${x.name('framework_id')})`;
      const outcome = await this.context.update({
        TableName: this.table,
        Key: { framework_id: frameworkId },
        UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
        ConditionExpression: condition,
        ...x.attributes(),
      });
      if (!outcome.written) return RETRY;
      return ok({
        framework: frameworkFromItem(outcome.item),
        ...(current?.streamId !== undefined ? { previousStreamId: current.streamId } : {}),
        created: current === undefined,
      });
    });
    if (result === RETRY) throw new Error(`Framework ${frameworkId} kept changing; subscription gave up`);
    return result;
  }

  /**
   * The stream says it is alive. A stream that dies without closing (its Lambda was killed) stops
   * saying so, and the sweeper treats the framework as disconnected; a stream that was only slow to say
   * it heals that here (DISCONNECTED → SUBSCRIBED). Not a version change.
   */
  async touch(frameworkId: string, streamId: string): Promise<boolean> {
    const outcome = await this.context.update(
      {
        TableName: this.table,
        Key: { framework_id: frameworkId },
        UpdateExpression: 'SET stream_seen_at = :now, #status = :subscribed REMOVE disconnected_at',
        ConditionExpression: 'stream_id = :stream AND #status IN (:subscribed, :disconnected)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':now': this.context.now(),
          ':stream': streamId,
          ':subscribed': 'SUBSCRIBED',
          ':disconnected': 'DISCONNECTED',
        },
      },
      'NONE',
    );
    return outcome.written;
  }

  /** The subscription's stream closed: start the reconnect grace. Only the current stream may do this. */
  async disconnect(
    frameworkId: string,
    streamId: string,
  ): Promise<Result<FrameworkRecord, RegistrarError<'STREAM_MISMATCH'>>> {
    return this.transition(frameworkId, streamId, ['SUBSCRIBED'], 'DISCONNECTED', 'disconnected_at', false);
  }

  /** The grace is over and the framework did not come back: stop offering to it (Mesos deactivation). */
  async deactivate(
    frameworkId: string,
    streamId: string,
  ): Promise<Result<FrameworkRecord, RegistrarError<'STREAM_MISMATCH'>>> {
    return this.transition(frameworkId, streamId, ['SUBSCRIBED', 'DISCONNECTED'], 'INACTIVE', 'deactivated_at', true);
  }

  private async transition(
    frameworkId: string,
    streamId: string,
    from: FrameworkStatus[],
    to: FrameworkStatus,
    stamp: string,
    dropStream: boolean,
  ): Promise<Result<FrameworkRecord, RegistrarError<'STREAM_MISMATCH'>>> {
    const x = new Expression();
    const status = x.name('status');
    const stream = x.name('stream_id');
    const version = x.name('version');
    const outcome = await this.context.update({
      TableName: this.table,
      Key: { framework_id: frameworkId },
      UpdateExpression:
        `SET ${status} = ${x.value(to)}, ${x.name(stamp)} = ${x.value(this.context.now())}, ` +
        `${version} = ${version} + ${x.value(1)}${dropStream ? ` REMOVE ${stream}` : ''}`,
      ConditionExpression: `${stream} = ${x.value(streamId)} AND ${status} IN (${from.map((s) => x.value(s)).join(', ')})`,
      ...x.attributes(),
    });
    if (outcome.written) return ok(frameworkFromItem(outcome.item));
    return failure('STREAM_MISMATCH', `Framework ${frameworkId} has moved on from stream ${streamId}`);
  }

  /** TEARDOWN, or failover_timeout over: the framework is removed for good. Returns it as it was. */
  async remove(
    frameworkId: string,
  ): Promise<Result<FrameworkRecord, RegistrarError<'UNKNOWN_FRAMEWORK' | 'FRAMEWORK_REMOVED'>>> {
    const now = this.context.now();
    const x = new Expression();
    const status = x.name('status');
    const version = x.name('version');
    const outcome = await this.context.update(
      {
        TableName: this.table,
        Key: { framework_id: frameworkId },
        UpdateExpression:
          `SET ${status} = ${x.value('REMOVED')}, ${x.name('removed_at')} = ${x.value(now)}, ` +
          `${x.name('expires_at')} = ${x.value(epochSeconds(now + REMOVED_RETENTION_MS))}, ` +
          `${version} = ${version} + ${x.value(1)} REMOVE ${x.name('stream_id')}`,
        ConditionExpression: `attribute_exists(${x.name('framework_id')}) AND ${status} <> ${x.value('REMOVED')}`,
        ...x.attributes(),
      },
      'ALL_OLD',
    );
    if (outcome.written) return ok(frameworkFromItem(outcome.item));
    if (!outcome.old) return failure('UNKNOWN_FRAMEWORK', `Framework ${frameworkId} cannot be found`);
    return failure('FRAMEWORK_REMOVED', `Framework ${frameworkId} has been removed`);
  }

  /** A removed framework's offers, tasks and queue are taken care of (master/lifecycle.ts). */
  async removalDone(frameworkId: string): Promise<void> {
    await this.context.update({
      TableName: this.table,
      Key: { framework_id: frameworkId },
      UpdateExpression: 'SET removal_done = :done',
      ConditionExpression: 'attribute_exists(framework_id)',
      ExpressionAttributeValues: { ':done': true },
    });
  }

  /** Every framework (a consistent scan: the allocator's snapshot), or those of `ids` (consistent batch gets). */
  async *list(ids?: readonly string[]): AsyncGenerator<FrameworkRecord> {
    const keys = ids?.map((id) => ({ framework_id: id }));
    const items = keys
      ? await this.context.batchGet(this.table, keys, { consistent: true })
      : this.context.scan(this.table);
    for await (const item of items) yield frameworkFromItem(item);
  }

  /** SUPPRESS: no new offers for these roles (all of the framework's when none are given). */
  async suppress(
    frameworkId: string,
    roles: readonly string[],
  ): Promise<Result<FrameworkRecord, RegistrarError<'UNKNOWN_FRAMEWORK' | 'FRAMEWORK_REMOVED' | 'INVALID_ARGUMENT'>>> {
    return this.modify(frameworkId, (current) => {
      const chosen = roles.length > 0 ? [...new Set(roles)] : current.roles;
      const unknown = chosen.find((role) => !current.roles.includes(role));
      if (unknown !== undefined)
        return failure('INVALID_ARGUMENT', `Role '${unknown}' is not one of the framework's roles`);
      return ok({ suppressed_roles: [...new Set([...current.suppressedRoles, ...chosen])] });
    });
  }

  /**
   * REVIVE: un-suppress these roles (all when none are given). Mesos also clears the roles' offer
   * filters; they are in the filters table, which the caller clears.
   */
  async revive(
    frameworkId: string,
    roles: readonly string[],
  ): Promise<Result<FrameworkRecord, RegistrarError<'UNKNOWN_FRAMEWORK' | 'FRAMEWORK_REMOVED' | 'INVALID_ARGUMENT'>>> {
    return this.modify(frameworkId, (current) => {
      const chosen = roles.length > 0 ? [...new Set(roles)] : current.roles;
      const unknown = chosen.find((role) => !current.roles.includes(role));
      if (unknown !== undefined)
        return failure('INVALID_ARGUMENT', `Role '${unknown}' is not one of the framework's roles`);
      return ok({ suppressed_roles: current.suppressedRoles.filter((role) => !chosen.includes(role)) });
    });
  }

  /** REQUEST: records what the framework is waiting for, for the demand signal (Mesos ignores it). */
  async recordRequests(
    frameworkId: string,
    requests: readonly Request[],
  ): Promise<Result<FrameworkRecord, RegistrarError<'UNKNOWN_FRAMEWORK' | 'FRAMEWORK_REMOVED' | 'INVALID_ARGUMENT'>>> {
    const at = this.context.now();
    return this.modify(frameworkId, () => ok({ requests: JSON.stringify(requests), requested_at: at }));
  }

  /**
   * UPDATE_FRAMEWORK: all or nothing. principal, user and checkpoint cannot change (Mesos refuses it,
   * unlike a resubscription, which ignores such changes). Returns the roles the framework left, whose
   * outstanding offers are to be rescinded.
   */
  async update(update: {
    frameworkId: string;
    info: FrameworkInfo;
    suppressedRoles?: readonly string[];
    offerConstraints?: OfferConstraints;
  }): Promise<
    Result<
      { framework: FrameworkRecord; removedRoles: string[] },
      RegistrarError<'UNKNOWN_FRAMEWORK' | 'FRAMEWORK_REMOVED' | 'INVALID_ARGUMENT'>
    >
  > {
    const valid = validateSubscription({
      frameworkId: update.frameworkId,
      info: update.info,
      streamId: '',
      ...(update.suppressedRoles ? { suppressedRoles: update.suppressedRoles } : {}),
      ...(update.offerConstraints ? { offerConstraints: update.offerConstraints } : {}),
    });
    if (!valid.ok) return valid;
    let removedRoles: string[] = [];
    const result = await this.modify(update.frameworkId, (current) => {
      for (const field of ['principal', 'user', 'checkpoint'] as const) {
        const before = field === 'principal' ? current.principal || undefined : current.info[field];
        if ((update.info[field] ?? undefined) !== (before ?? undefined)) {
          return failure('INVALID_ARGUMENT', `Updating 'FrameworkInfo.${field}' is unsupported`);
        }
      }
      removedRoles = current.roles.filter((role) => !valid.value.roles.includes(role));
      return ok({
        info: JSON.stringify({ ...update.info, id: { value: update.frameworkId } }),
        roles: valid.value.roles,
        suppressed_roles: valid.value.suppressed,
        ...(update.offerConstraints ? { offer_constraints: JSON.stringify(update.offerConstraints) } : {}),
      });
    });
    return result.ok ? ok({ framework: result.value, removedRoles }) : result;
  }

  /** Read, compute the changed attributes (or refuse), write conditioned on the version read. */
  private async modify<E extends RegistrarError>(
    frameworkId: string,
    change: (current: FrameworkRecord) => Result<Item, E>,
  ): Promise<Result<FrameworkRecord, E | RegistrarError<'UNKNOWN_FRAMEWORK' | 'FRAMEWORK_REMOVED'>>> {
    const result = await retrying(32, async () => {
      const current = await this.get(frameworkId);
      if (!current) return failure('UNKNOWN_FRAMEWORK', `Framework ${frameworkId} cannot be found`);
      if (current.status === 'REMOVED')
        return failure('FRAMEWORK_REMOVED', `Framework ${frameworkId} has been removed`);
      const fields = change(current);
      if (!fields.ok) return fields;
      const x = new Expression();
      const sets = Object.entries({ ...fields.value, version: current.version + 1 }).map(
        ([name, value]) => `${x.name(name)} = ${x.value(value)}`,
      );
      const outcome = await this.context.update({
        TableName: this.table,
        Key: { framework_id: frameworkId },
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: `${x.name('version')} = ${x.value(current.version)}`,
        ...x.attributes(),
      });
      return outcome.written ? ok(frameworkFromItem(outcome.item)) : RETRY;
    });
    if (result === RETRY) throw new Error(`Framework ${frameworkId} kept changing; the update gave up`);
    return result;
  }
}
