/**
 * The allocator's configuration: Mesos flag names where Mesos has the setting, Mantle's own otherwise.
 * In Lambda it comes from environment variables (MANTLE_*), locally from the supervisor's flags.
 */
import { z } from 'zod';
import { err, ok, type Result } from '#shared/result.js';
import { validateRole } from '#shared/roles.js';

/** Mesos --min_allocatable_resources default (MIN_CPUS, MIN_MEM). */
export const DEFAULT_MIN_ALLOCATABLE_RESOURCES = 'cpus:0.01|mem:32';

/**
 * Mantle's default --offer_timeout. Mesos has none (offers live until used or rescinded); a framework
 * that hoards offers then starves the others, and an OFFERS event lost between the ledger write and
 * the event queue would hold resources forever. Two minutes is long enough for a scheduler to match
 * offers against its queue (and for a disconnected one to resubscribe within its grace and still use
 * them) and short enough that hoarded resources come back within a couple of periodic passes.
 */
export const DEFAULT_OFFER_TIMEOUT_SECONDS = 120;

/** One alternative of --min_allocatable_resources: every quantity must be met. */
export type QuantitySet = Readonly<Record<string, number>>;

/**
 * Parses the Mesos flag form `cpus:0.01|mem:32` (`|` separates alternatives, `;` joins quantities in
 * one). Ranges and sets are counted in elements (`ports:10` = ten ports).
 */
export function parseMinAllocatable(text: string): Result<QuantitySet[], string> {
  const sets: QuantitySet[] = [];
  for (const alternative of text.split('|')) {
    const set: Record<string, number> = {};
    for (const token of alternative.split(';')) {
      const trimmed = token.trim();
      if (trimmed === '') continue;
      const match = /^([^:\s]+):\s*([0-9]*\.?[0-9]+)$/.exec(trimmed);
      if (!match) return err(`Invalid minimum allocatable quantity '${trimmed}' (expected name:value)`);
      const [, name, value] = match as unknown as [string, string, string];
      if (set[name] !== undefined) return err(`'${name}' appears twice in '${alternative}'`);
      set[name] = Number(value);
    }
    if (Object.keys(set).length === 0) return err(`Empty alternative in '${text}'`);
    sets.push(set);
  }
  return ok(sets);
}

const roleName = z.string().refine((role) => validateRole(role) === undefined, 'invalid role');

export const POLICIES = ['drf', 'strict-priority', 'multilevel'] as const;
export type PolicyName = (typeof POLICIES)[number];

export const AllocatorConfigSchema = z
  .object({
    /** The allocation policy (Mantle's allocation modules): drf (Mesos's default), strict-priority, multilevel. */
    policy: z.enum(POLICIES).default('drf'),
    /** multilevel: roles by priority level, highest first; unlisted roles form a last level. */
    levels: z.array(z.array(roleName).min(1)).default([]),
    /** Mesos --min_allocatable_resources. */
    minAllocatableResources: z
      .string()
      .default(DEFAULT_MIN_ALLOCATABLE_RESOURCES)
      .transform((text, context) => {
        const parsed = parseMinAllocatable(text);
        if (!parsed.ok) {
          context.addIssue({ code: 'custom', message: parsed.error });
          return z.NEVER;
        }
        return parsed.value;
      }),
    /** Mesos --offer_timeout; Mantle has a default (see DEFAULT_OFFER_TIMEOUT_SECONDS). */
    offerTimeoutSeconds: z.coerce.number().finite().positive().default(DEFAULT_OFFER_TIMEOUT_SECONDS),
    /** Mesos --filter_gpu_resources: GPU agents only for GPU_RESOURCES frameworks. */
    filterGpuResources: z.boolean().default(true),
    /** Mesos --fair_sharing_excluded_resource_names (e.g. gpus, the scarce-resource problem). */
    fairSharingExcludedResourceNames: z.array(z.string().min(1)).default([]),
    /** The master's region (Mesos --domain): agents elsewhere go only to REGION_AWARE frameworks. */
    region: z.string().min(1).optional(),
    /** Ledger write requests in flight at once while committing offers (each writes up to 25 agents). */
    commitConcurrency: z.coerce.number().int().positive().default(16),
    /**
     * A pass over all agents whose triggers say which agents changed takes the others from the warm
     * snapshot while its last full read of every agent is younger than this (the safety net for a trigger
     * lost); older, it reads every agent again.
     */
    snapshotMaxAgeSeconds: z.coerce.number().finite().nonnegative().default(60),
  })
  .refine((config) => config.policy === 'multilevel' || config.levels.length === 0, {
    message: 'levels apply to the multilevel policy only',
  });

export type AllocatorConfig = z.infer<typeof AllocatorConfigSchema>;
export type AllocatorConfigInput = z.input<typeof AllocatorConfigSchema>;

export function allocatorConfig(input: AllocatorConfigInput = {}): AllocatorConfig {
  return AllocatorConfigSchema.parse(input);
}

function list(value: string, separator: string): string[] {
  return value
    .split(separator)
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/**
 * From a Lambda function's environment: MANTLE_ALLOCATOR_POLICY, MANTLE_ALLOCATOR_LEVELS (`prod,web;batch`:
 * levels separated by `;`, roles by `,`), MANTLE_MIN_ALLOCATABLE_RESOURCES, MANTLE_OFFER_TIMEOUT_SECONDS,
 * MANTLE_FILTER_GPU_RESOURCES, MANTLE_FAIR_SHARING_EXCLUDED_RESOURCE_NAMES, MANTLE_REGION.
 */
export function allocatorConfigFromEnvironment(env: NodeJS.ProcessEnv = process.env): AllocatorConfig {
  const read = (name: string) => env[`MANTLE_${name}`];
  const policy = read('ALLOCATOR_POLICY');
  const levels = read('ALLOCATOR_LEVELS');
  const min = read('MIN_ALLOCATABLE_RESOURCES');
  const timeout = read('OFFER_TIMEOUT_SECONDS');
  const gpu = read('FILTER_GPU_RESOURCES');
  const excluded = read('FAIR_SHARING_EXCLUDED_RESOURCE_NAMES');
  const region = read('REGION');
  return AllocatorConfigSchema.parse({
    ...(policy ? { policy } : {}),
    ...(levels ? { levels: list(levels, ';').map((level) => list(level, ',')) } : {}),
    ...(min ? { minAllocatableResources: min } : {}),
    ...(timeout ? { offerTimeoutSeconds: timeout } : {}),
    ...(gpu ? { filterGpuResources: gpu !== 'false' } : {}),
    ...(excluded ? { fairSharingExcludedResourceNames: list(excluded, ',') } : {}),
    ...(region ? { region } : {}),
  });
}
