/**
 * The Mantle Jobs contract (docs/jobs.md): the job and queue specs as clients send them (snake_case, like
 * Mesos JSON), validated with clear errors that name the field, and the job record the service keeps.
 * Pure: the state transitions are in `lifecycle.ts`, schedules in `schedule.ts`, placement in `placement.ts`.
 *
 * Decisions a Mesos / AWS Batch user would look for:
 * - A queue IS a Mesos role (queue `gpu` runs in role `gpu`): its name follows the Mesos role rules (but
 *   not `*`, which holds no quota or weight), so a principal's roles are the queues it may use, and the
 *   queue's weight and quota are the role's.
 * - `array` takes AWS Batch's `{"size": N}` (arrayProperties) or a bare integer N, 1 to 10,000; a child
 *   is `<parent id>:<index>`, as Batch names them.
 * - `resources` fills in Marathon's defaults per name (cpus 1, mem 128) and takes scalars only,
 *   unreserved: the queue's role decides where they come from.
 * - Unknown fields are refused (a misspelt `retires` must not silently mean no retries).
 * - `array` with `gang`, and `schedule` with `depends_on`, are refused: AWS Batch has no array of
 *   multi-node jobs, and Chronos runs dependent jobs after their parents, not on a clock of their own.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Resource } from '#shared/protocol/mesos.js';
import type { TaskState } from '#shared/tasks/state-machine.js';
import { describeZodError } from '#shared/protocol/errors.js';
import { parseResourceText, parseResources } from '#shared/resources/parse.js';
import { add, named } from '#shared/resources/resources.js';
import { scalarResource } from '#shared/resources/resource.js';
import { failure, ok, type Failure, type Result } from '#shared/result.js';
import { DEFAULT_ROLE, validateRole } from '#shared/roles.js';
import { parseSchedule } from './schedule.js';

export const LIMITS = {
  name: 255,
  queue: 128,
  command: 65_536,
  dockerImage: 512,
  envVariables: 256,
  envName: 255,
  envValue: 32_768,
  envTotal: 131_072,
  resources: 32,
  priority: 1_000_000,
  retries: 100,
  retryBackoffSeconds: 86_400,
  timeoutSeconds: 30 * 86_400,
  arraySize: 10_000,
  gang: 256,
  dependencies: 100,
  jobId: 200,
} as const;

export const DEFAULT_QUEUE = 'default';
/** Marathon's defaults, per resource name, when a job does not say. */
export const DEFAULT_RESOURCES: readonly Resource[] = [scalarResource('cpus', 1), scalarResource('mem', 128)];
/** Prefixes of the variables Mantle sets in a task's environment (AWS Batch reserves AWS_BATCH_ too). */
export const RESERVED_ENV_PREFIXES = ['MANTLE_', 'AWS_BATCH_'] as const;

// ----------------------------------------------------------------------------------------- fields

/** The Mesos role rules, and no `*`: a queue is a role with its own weight and quota. */
export function validateQueueName(queue: string): string | undefined {
  if (queue === DEFAULT_ROLE) return `Queue '*' is Mesos's default role, not a queue`;
  if (queue.length > LIMITS.queue) return `Queue name is longer than ${LIMITS.queue} characters`;
  const error = validateRole(queue);
  return error === undefined ? undefined : error.replace(/^Role/, 'Queue');
}

export const QueueNameSchema = z.string().superRefine((queue, ctx) => {
  const error = validateQueueName(queue);
  if (error) ctx.addIssue({ code: 'custom', message: error });
});

/** Job ids: ours (`newJobId`) and the children's (`:index`, `@tick`); safe in URLs and task ids. */
export const JOB_ID = /^[0-9a-z][0-9a-z:@._-]*$/i;

export const JobIdSchema = z
  .string()
  .max(LIMITS.jobId)
  .regex(JOB_ID, 'must be a job id (letters, digits and : @ . _ -)');

function withDefaults(resources: readonly Resource[]): Resource[] {
  const missing = DEFAULT_RESOURCES.filter((resource) => named(resources, resource.name).length === 0);
  return add(resources, missing);
}

/** Why a parsed resource list cannot be a job's: only unreserved scalars, with positive cpus. */
function jobResourcesError(resources: readonly Resource[]): string | undefined {
  if (resources.length > LIMITS.resources) return `at most ${LIMITS.resources} resources`;
  for (const resource of resources) {
    if (resource.type !== 'SCALAR') return `'${resource.name}' is not a scalar: jobs ask for scalar resources only`;
    if ((resource.reservations?.length ?? 0) > 0 || resource.disk || resource.revocable || resource.shared) {
      return `'${resource.name}' must be a plain unreserved scalar: the queue's role decides where it comes from`;
    }
  }
  return undefined;
}

export const JobResourcesSchema = z
  .union([z.string().max(4096), z.array(z.unknown()).max(LIMITS.resources)])
  .transform((input, ctx): Resource[] => {
    const parsed = typeof input === 'string' ? parseResourceText(input) : parseResources(input);
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.error.message });
      return z.NEVER;
    }
    const error = jobResourcesError(parsed.value);
    if (error) {
      ctx.addIssue({ code: 'custom', message: error });
      return z.NEVER;
    }
    return withDefaults(parsed.value);
  });

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const EnvSchema = z.record(z.string(), z.string().max(LIMITS.envValue)).superRefine((env, ctx) => {
  const names = Object.keys(env);
  if (names.length > LIMITS.envVariables) {
    ctx.addIssue({ code: 'custom', message: `at most ${LIMITS.envVariables} variables` });
  }
  let total = 0;
  for (const name of names) {
    total += name.length + (env[name]?.length ?? 0);
    if (name.length > LIMITS.envName || !ENV_NAME.test(name)) {
      ctx.addIssue({ code: 'custom', path: [name], message: 'is not a variable name ([A-Za-z_][A-Za-z0-9_]*)' });
    } else if (RESERVED_ENV_PREFIXES.some((prefix) => name.startsWith(prefix))) {
      ctx.addIssue({ code: 'custom', path: [name], message: 'MANTLE_* and AWS_BATCH_* are set by Mantle' });
    }
  }
  if (total > LIMITS.envTotal) ctx.addIssue({ code: 'custom', message: `larger than ${LIMITS.envTotal} characters` });
});

const ArraySizeSchema = z.number().int().min(1).max(LIMITS.arraySize);

/** AWS Batch's `{"size": N}`, or the bare N. */
export const ArraySchema = z.union([ArraySizeSchema, z.strictObject({ size: ArraySizeSchema })]).transform((array) => ({
  size: typeof array === 'number' ? array : array.size,
}));

export const DependencySchema = z.strictObject({
  job: JobIdSchema,
  condition: z.enum(['succeeded', 'finished']).default('succeeded'),
});
export type Dependency = z.infer<typeof DependencySchema>;

export const ScheduleSchema = z
  .string()
  .max(200)
  .superRefine((text, ctx) => {
    const parsed = parseSchedule(text);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.error.message });
  });

// ------------------------------------------------------------------------------------------ specs

const int = (min: number, max: number): z.ZodNumber => z.number().int().min(min).max(max);

export const JobSpecSchema = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .max(LIMITS.name)
      // eslint-disable-next-line no-control-regex
      .regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters'),
    queue: QueueNameSchema.default(DEFAULT_QUEUE),
    priority: int(-LIMITS.priority, LIMITS.priority).default(0),
    command: z.string().min(1).max(LIMITS.command).nullable().default(null),
    docker_image: z
      .string()
      .min(1)
      .max(LIMITS.dockerImage)
      .regex(/^\S+$/, 'must not contain whitespace')
      .nullable()
      .default(null),
    resources: JobResourcesSchema.default([...DEFAULT_RESOURCES]),
    env: EnvSchema.default({}),
    retries: int(0, LIMITS.retries).default(0),
    retry_backoff_seconds: int(0, LIMITS.retryBackoffSeconds).default(0),
    timeout_seconds: int(1, LIMITS.timeoutSeconds).nullable().default(null),
    array: ArraySchema.nullable().default(null),
    depends_on: z.array(DependencySchema).max(LIMITS.dependencies).default([]),
    schedule: ScheduleSchema.nullable().default(null),
    gang: int(1, LIMITS.gang).nullable().default(null),
  })
  .superRefine((spec, ctx) => {
    if (spec.command === null && spec.docker_image === null) {
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'is required when there is no docker_image' });
    }
    if (spec.array !== null && spec.gang !== null) {
      ctx.addIssue({ code: 'custom', path: ['gang'], message: 'cannot be combined with array' });
    }
    if (spec.schedule !== null && spec.depends_on.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['depends_on'], message: 'cannot be combined with schedule' });
    }
    const jobs = spec.depends_on.map((dependency) => dependency.job);
    if (new Set(jobs).size !== jobs.length) {
      ctx.addIssue({ code: 'custom', path: ['depends_on'], message: 'names a job more than once' });
    }
  });

/** A job spec as validated and normalized: every field present, resources a canonical Mesos list. */
export type JobSpec = z.output<typeof JobSpecSchema>;

export type InvalidJob = Failure<'INVALID_JOB'>;

/** zod's errors with the field named, and unknown fields said plainly ("unknown field 'retires'"). */
function fieldErrors(error: z.ZodError): string {
  const issues = error.issues.map((issue) =>
    issue.code === 'unrecognized_keys'
      ? { ...issue, message: `unknown field ${issue.keys.map((key) => `'${key}'`).join(', ')}` }
      : issue,
  );
  return describeZodError(new z.ZodError(issues), 5);
}

/** Validates an untrusted job spec (parsed JSON or YAML). */
export function parseJobSpec(input: unknown): Result<JobSpec, InvalidJob> {
  const parsed = JobSpecSchema.safeParse(input);
  if (!parsed.success) return failure('INVALID_JOB', `Invalid job: ${fieldErrors(parsed.error)}`);
  return ok(parsed.data);
}

const QuantitiesSchema = z
  .record(z.string().min(1).max(LIMITS.name), z.number().finite().min(0))
  .refine((quantities) => Object.keys(quantities).length <= LIMITS.resources, {
    message: `at most ${LIMITS.resources} resources`,
  });

/** `PUT /api/jobs/v1/queues/{name}`: the role's weight and quota (Mesos QuotaConfig's guarantees and limits). */
export const QueueSpecSchema = z
  .strictObject({
    weight: z.number().finite().positive().max(1_000_000).default(1),
    quota: z
      .strictObject({ guarantees: QuantitiesSchema.default({}), limits: QuantitiesSchema.default({}) })
      .default({ guarantees: {}, limits: {} }),
  })
  .superRefine((spec, ctx) => {
    for (const [name, guarantee] of Object.entries(spec.quota.guarantees)) {
      const limit = spec.quota.limits[name];
      if (limit !== undefined && guarantee > limit) {
        ctx.addIssue({
          code: 'custom',
          path: ['quota', 'guarantees', name],
          message: `guarantee ${guarantee} is above the limit ${limit}`,
        });
      }
    }
  });
export type QueueSpec = z.output<typeof QueueSpecSchema>;

export type InvalidQueue = Failure<'INVALID_QUEUE'>;

export function parseQueueSpec(name: string, input: unknown): Result<QueueSpec, InvalidQueue> {
  const nameError = validateQueueName(name);
  if (nameError) return failure('INVALID_QUEUE', `Invalid queue: ${nameError}`);
  const parsed = QueueSpecSchema.safeParse(input);
  if (!parsed.success) return failure('INVALID_QUEUE', `Invalid queue '${name}': ${fieldErrors(parsed.error)}`);
  return ok(parsed.data);
}

/** The Mesos role a queue's tasks run in: the queue's own name. */
export function queueRole(queue: string): string {
  return queue;
}

// ------------------------------------------------------------------------------------- the record

export const JOB_STATES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set<JobState>(['SUCCEEDED', 'FAILED', 'CANCELLED']);

export function isTerminalJobState(state: JobState): boolean {
  return TERMINAL_JOB_STATES.has(state);
}

/**
 * One task of one attempt. A gang's attempt is `gang` tasks with the same `attempt` number; every other
 * attempt is one task. Fields not known yet are null (the contract's keys are always there).
 */
export interface Attempt {
  readonly attempt: number;
  readonly gang_index: number | null;
  readonly task_id: string;
  readonly agent_id: string | null;
  readonly hostname: string | null;
  /** The Mesos task state, as the framework last heard it. */
  readonly state: TaskState;
  readonly started_at: string | null;
  readonly ended_at: string | null;
  readonly exit_code: number | null;
  readonly message: string | null;
}

export type ChildSummary = Readonly<Record<JobState, number>>;

export interface Job extends JobSpec {
  readonly id: string;
  readonly state: JobState;
  readonly created_at: string;
  /** While PENDING: why it is not running. */
  readonly pending_reason: string | null;
  /** Once FAILED or CANCELLED: why (AWS Batch's statusReason). */
  readonly status_reason: string | null;
  readonly attempts: readonly Attempt[];
  /** The array job or the scheduled job this job is a child (a run) of. */
  readonly parent: string | null;
  /** An array child's index (MANTLE_ARRAY_INDEX). */
  readonly array_index: number | null;
  /** An array or scheduled job's children by state. */
  readonly children: ChildSummary | null;
  /** A failed attempt's retry waits until then (its backoff). */
  readonly retry_at: string | null;
  /** A scheduled job: the last tick that ran (or its creation), and the next one. */
  readonly last_tick: string | null;
  readonly next_tick: string | null;
  /** Optimistic concurrency: every write is conditional on the version read. */
  readonly version: number;
}

export function emptySummary(): Record<JobState, number> {
  return { PENDING: 0, RUNNING: 0, SUCCEEDED: 0, FAILED: 0, CANCELLED: 0 };
}

// ---------------------------------------------------------------------------------------------- ids

/** A new job id: time-ordered (base36 ms, fixed width) then random, so ids sort by submission. */
export function newJobId(now: number): string {
  return `${now.toString(36).padStart(9, '0')}-${randomBytes(6).toString('hex')}`;
}

/** Array child i of a job: `<id>:<i>`, as AWS Batch names them. */
export function arrayChildId(parentId: string, index: number): string {
  return `${parentId}:${index}`;
}

/** The run of a scheduled job for one tick, `<id>@20261206T000000Z`: a timer retried makes the same run. */
export function scheduledRunId(jobId: string, tick: number): string {
  const iso = new Date(tick).toISOString();
  return `${jobId}@${iso.slice(0, 19).replace(/[-:]/g, '')}Z`;
}

/**
 * The task of an attempt: `<job id>-<attempt>`, and `<job id>-<attempt>.<gang index>` for a gang's
 * member. Deterministic, so a handler that dies after recording the attempt launches the same task again
 * (the master refuses a duplicate active task id) or finds it by reconciliation.
 */
export function attemptTaskId(jobId: string, attempt: number, gangIndex: number | null = null): string {
  return gangIndex === null ? `${jobId}-${attempt}` : `${jobId}-${attempt}.${gangIndex}`;
}
