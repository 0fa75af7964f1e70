/**
 * REQUEST: what the framework waits for, kept as pending demand (the fleet scales out on it). A REQUEST
 * is validated and bounded before it counts: at most MAX_REQUESTS requests of at most
 * MAX_REQUEST_RESOURCES resources each, valid Mesos resources, each for 1 to MAX_REQUEST_COUNT tasks
 * (Mantle's `count`: a request is one task's resources), and no more in total than the quota
 * limits of the framework's roles allow (a request beyond them could never be offered, and would only
 * hold the fleet at its maximum). Roles without a quota limit bound nothing: set one to bound a tenant.
 */
import type { Resource } from '#shared/protocol/mesos.js';
import { canonicalResources, describeResource } from '#shared/resources/parse.js';
import { quantities } from '#shared/resources/resources.js';
import { topLevelRole } from '#shared/roles.js';
import type { FrameworkRecord } from '../registrar/index.js';
import type { Master } from '../master/master.js';
import { ACCEPTED, badRequest, type CallResponse } from './responses.js';
import type { CallOf } from './validation.js';

/** Requests per REQUEST call. */
export const MAX_REQUESTS = 100;
/** Resources per request. */
export const MAX_REQUEST_RESOURCES = 100;
/** Tasks one request may stand for (Mantle's `count`). */
export const MAX_REQUEST_COUNT = 1_000_000;

/** `count` tasks' worth of the resources: scalars multiplied (what the quota check weighs). */
function times(resources: readonly Resource[], count: number): Resource[] {
  if (count === 1) return [...resources];
  return resources.map((resource) =>
    resource.type === 'SCALAR' ? { ...resource, scalar: { value: (resource.scalar?.value ?? 0) * count } } : resource,
  );
}

/** Validates the requests; their resources all together, or why they are refused. */
function requestedResources(requests: CallOf<'REQUEST'>['request']['requests']): Resource[] | string {
  const list = requests ?? [];
  if (list.length > MAX_REQUESTS) return `A REQUEST may carry at most ${MAX_REQUESTS} requests, not ${list.length}`;
  const all: Resource[] = [];
  for (const [i, request] of list.entries()) {
    const resources = request.resources ?? [];
    if (resources.length > MAX_REQUEST_RESOURCES) {
      return `Request ${i} names ${resources.length} resources; at most ${MAX_REQUEST_RESOURCES} are allowed`;
    }
    const count = request.count ?? 1;
    if (count < 1 || count > MAX_REQUEST_COUNT) {
      return `Request ${i}: count must be between 1 and ${MAX_REQUEST_COUNT}, not ${count}`;
    }
    const canonical = canonicalResources(resources);
    if (!canonical.ok) return `Request ${i}: ${canonical.error.message}`;
    all.push(...times(canonical.value, count));
  }
  return all;
}

/** What the requests ask beyond the quota limits of the framework's roles, if anything. */
async function overQuota(
  master: Pick<Master, 'registrar'>,
  framework: FrameworkRecord,
  requested: Resource[],
): Promise<string | undefined> {
  const wanted = Object.entries(quantities(requested)).filter(([, amount]) => amount > 0);
  if (wanted.length === 0) return undefined;
  const roles = [...new Set(framework.roles.map(topLevelRole))];
  const records = await Promise.all(roles.map((role) => master.registrar.roles.get(role)));
  for (const [name, amount] of wanted) {
    const limits = records.map((record) => record?.quota.limits[name]);
    if (limits.some((limit) => limit === undefined)) continue;
    const bound = (limits as number[]).reduce((sum, limit) => sum + limit, 0);
    if (amount > bound) {
      const each = roles.map((role, i) => `${role}: ${limits[i]}`).join(', ');
      const asked = describeResource({ name, type: 'SCALAR', scalar: { value: amount } });
      return `REQUEST asks for ${asked}, more than the quota limits of the framework's roles allow (${each})`;
    }
  }
  return undefined;
}

export async function request(
  master: Pick<Master, 'registrar'>,
  framework: FrameworkRecord,
  call: CallOf<'REQUEST'>,
): Promise<CallResponse> {
  const requested = requestedResources(call.request.requests);
  if (typeof requested === 'string') return badRequest(requested);
  const refused = await overQuota(master, framework, requested);
  if (refused) return badRequest(refused);
  const result = await master.registrar.frameworks.recordRequests(framework.frameworkId, call.request.requests ?? []);
  return result.ok ? ACCEPTED : badRequest(result.error.message);
}
