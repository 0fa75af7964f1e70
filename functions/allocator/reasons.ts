/**
 * "Why is my work pending?" For every active framework and role that a pass offered nothing, one
 * structured reason: the pass counts, per agent it considered, what stopped it from offering to the
 * framework there, and the most frequent cause becomes the reason. Cheap by construction: the counts
 * are taken where the pass already looks, and a framework that gets nothing keeps the lowest share of
 * its role, so the pass looks at it on nearly every agent its role is served.
 */

export const PENDING_REASONS = [
  /** The framework suppressed offers for the role (SUPPRESS). */
  'SUPPRESSED',
  /** Refused-offer filters from earlier declines cover what the agents have free. */
  'FILTERED',
  /** The role (or an ancestor) is at its quota limit. */
  'QUOTA_LIMIT_REACHED',
  /** Only agents with GPUs have something free, and the framework lacks GPU_RESOURCES. */
  'GPU_AGENTS_ONLY',
  /** The role's offer constraints exclude the agents that have something free. */
  'CONSTRAINTS_UNSATISFIABLE',
  /** The agents lack a capability the framework or role needs (MULTI_ROLE, HIERARCHICAL_ROLE) or are in another region. */
  'AGENTS_INCAPABLE',
  /** What is free is below the minimum allocatable resources (the cluster's or the framework's). */
  'BELOW_MIN_ALLOCATABLE',
  /** Nothing free that the role may use: it went to frameworks ahead in fair-share order, or there is none. */
  'NOTHING_FREE',
] as const;
export type PendingReasonCode = (typeof PENDING_REASONS)[number];

/** Per-agent blocks counted during a pass (every code but SUPPRESSED, which is known up front). */
export type Block = Exclude<PendingReasonCode, 'SUPPRESSED'>;
export const BLOCKS: readonly Block[] = PENDING_REASONS.filter((code): code is Block => code !== 'SUPPRESSED');
export const BLOCK: { readonly [K in Block]: number } = Object.fromEntries(BLOCKS.map((code, i) => [code, i])) as {
  [K in Block]: number;
};

export function tally(counts: Int32Array, block: number): void {
  counts[block] = (counts[block] as number) + 1;
}

export interface PendingReason {
  readonly frameworkId: string;
  readonly role: string;
  readonly code: PendingReasonCode;
  readonly message: string;
  /** How many of the agents the pass considered were blocked for each cause. */
  readonly agents: Partial<Record<PendingReasonCode, number>>;
  /** FILTERED: when the earliest of the filters that blocked an offer expires (ms since the epoch). */
  readonly filteredUntil?: number;
  /** QUOTA_LIMIT_REACHED: the role holding the limit, and the resources at their limit. */
  readonly quota?: { readonly role: string; readonly resources: readonly string[] };
}

export interface BlockTally {
  readonly blocked: Int32Array;
  readonly filteredUntil: number;
}

/** The reason for one framework and role, from what the pass counted for it. */
export function pendingReason(input: {
  frameworkId: string;
  role: string;
  suppressed: boolean;
  /** Agents with something free that the pass considered. */
  candidates: number;
  client?: BlockTally;
  /** Blocks counted for the whole role (its frameworks were not looked at one by one). */
  roleBlocked?: Int32Array;
  quota?: { role: string; resources: string[] };
}): PendingReason {
  const { frameworkId, role } = input;
  if (input.suppressed) {
    return {
      frameworkId,
      role,
      code: 'SUPPRESSED',
      message: `Offers for role '${role}' are suppressed; REVIVE to receive offers again`,
      agents: {},
    };
  }
  const counts = new Array<number>(BLOCKS.length).fill(0);
  for (let i = 0; i < BLOCKS.length; i++) {
    counts[i] = (input.client?.blocked[i] ?? 0) + (input.roleBlocked?.[i] ?? 0);
  }
  const seen = counts.reduce((sum, count) => sum + count, 0);
  counts[BLOCK.NOTHING_FREE] = (counts[BLOCK.NOTHING_FREE] as number) + Math.max(0, input.candidates - seen);
  // The most frequent cause; on a tie, the one listed first (the more actionable).
  let best = BLOCK.NOTHING_FREE;
  counts.forEach((count, i) => {
    if (count > 0 && (count > (counts[best] as number) || (count === counts[best] && i < best))) best = i;
  });
  const code = BLOCKS[best] as Block;
  const n = counts[best] as number;
  const agents: Partial<Record<PendingReasonCode, number>> = {};
  BLOCKS.forEach((block, i) => {
    if ((counts[i] as number) > 0) agents[block] = counts[i] as number;
  });
  const base = { frameworkId, role, code, agents };
  const plural = n === 1 ? 'agent' : 'agents';
  switch (code) {
    case 'FILTERED': {
      const until = input.client?.filteredUntil ?? Infinity;
      return {
        ...base,
        message:
          `Filters from declined offers cover what ${n} ${plural} have free` +
          (Number.isFinite(until) ? ` (the first expires at ${new Date(until).toISOString()})` : ''),
        ...(Number.isFinite(until) ? { filteredUntil: until } : {}),
      };
    }
    case 'QUOTA_LIMIT_REACHED':
      return {
        ...base,
        message: input.quota
          ? `Role '${input.quota.role}' is at its quota limit for ${input.quota.resources.join(', ')}`
          : `Role '${role}' is at its quota limit`,
        ...(input.quota ? { quota: input.quota } : {}),
      };
    case 'GPU_AGENTS_ONLY':
      return {
        ...base,
        message: `${n} ${plural} with free resources have GPUs, which are offered only to frameworks with the GPU_RESOURCES capability`,
      };
    case 'CONSTRAINTS_UNSATISFIABLE':
      return { ...base, message: `The offer constraints of role '${role}' exclude ${n} ${plural} with free resources` };
    case 'AGENTS_INCAPABLE':
      return {
        ...base,
        message: `${n} ${plural} lack a capability this framework or role needs (MULTI_ROLE, HIERARCHICAL_ROLE) or are in another region`,
      };
    case 'BELOW_MIN_ALLOCATABLE':
      return { ...base, message: `What ${n} ${plural} have free is below the minimum allocatable resources` };
    case 'NOTHING_FREE':
      return {
        ...base,
        message:
          input.candidates === 0
            ? 'No agent has free resources'
            : `Nothing free that role '${role}' may use: it went to frameworks ahead in fair-share order`,
      };
  }
}
