/**
 * The EC2 instance metadata service (IMDSv2: a session token, then GETs): where the instance is, and
 * whether it is on its way out. Off EC2 nothing answers: each attempt gives up after `timeoutMs` and
 * returns undefined, without noise.
 */

export interface Ec2Placement {
  readonly instanceType: string;
  readonly zone: string;
  readonly region: string;
  readonly privateIp?: string;
}

/** A metadata item (`latest/meta-data/<path>`), trimmed; undefined when it is not there. */
type MetadataGet = (path: string) => Promise<string | undefined>;

/** Opens an IMDSv2 session and runs `read` in it; undefined when IMDS refuses, is absent, or is too slow. */
async function withMetadata<T>(
  endpoint: string,
  timeoutMs: number,
  fetchImpl: typeof fetch,
  read: (get: MetadataGet) => Promise<T | undefined>,
): Promise<T | undefined> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const tokenResponse = await fetchImpl(`${endpoint}/latest/api/token`, {
      method: 'PUT',
      headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '60' },
      signal,
    });
    if (!tokenResponse.ok) return undefined;
    const token = await tokenResponse.text();
    return await read(async (path) => {
      const response = await fetchImpl(`${endpoint}/latest/meta-data/${path}`, {
        headers: { 'X-aws-ec2-metadata-token': token },
        signal,
      });
      return response.ok ? (await response.text()).trim() : undefined;
    });
  } catch {
    return undefined;
  }
}

/** The instance type, zone, region and private IP. */
export function ec2Placement(
  endpoint: string,
  timeoutMs: number,
  fetchImpl: typeof fetch = fetch,
): Promise<Ec2Placement | undefined> {
  return withMetadata(endpoint, timeoutMs, fetchImpl, async (get) => {
    const [instanceType, zone, region, privateIp] = await Promise.all([
      get('instance-type'),
      get('placement/availability-zone'),
      get('placement/region'),
      get('local-ipv4'),
    ]);
    if (!instanceType || !zone || !region) return undefined;
    return { instanceType, zone, region, ...(privateIp ? { privateIp } : {}) };
  });
}

/** Auto Scaling's target lifecycle states of an instance it is terminating. */
const TERMINATING = new Set(['Terminated', 'Warmed:Terminated']);

/**
 * Why the instance is going away, if it is: its Auto Scaling group is terminating it (the target
 * lifecycle state Auto Scaling publishes in the metadata), or a Spot interruption notice to terminate
 * it stands. Undefined when it is not, or off EC2. A notice to stop or hibernate does not count: the
 * instance comes back, and its agent with it.
 */
export function instanceLeaving(
  endpoint: string,
  timeoutMs: number,
  fetchImpl: typeof fetch = fetch,
): Promise<string | undefined> {
  return withMetadata(endpoint, timeoutMs, fetchImpl, async (get) => {
    const [target, notice] = await Promise.all([
      get('autoscaling/target-lifecycle-state'),
      get('spot/instance-action'),
    ]);
    if (target !== undefined && TERMINATING.has(target)) return `its Auto Scaling group is terminating it (${target})`;
    const at = notice === undefined ? undefined : spotTermination(notice);
    return at === undefined ? undefined : `a Spot interruption notice terminates it at ${at}`;
  });
}

/** When a Spot notice (`{"action": "terminate", "time": "…"}`) terminates the instance; undefined for any other. */
function spotTermination(notice: string): string | undefined {
  try {
    const { action, time } = JSON.parse(notice) as { action?: unknown; time?: unknown };
    return action === 'terminate' && typeof time === 'string' ? time : undefined;
  } catch {
    return undefined;
  }
}
