/**
 * The Mantle Services contract (docs/services.md): a Marathon v2 app definition as clients send it, validated
 * with Marathon's 422 (`{"message": "Object is not valid", "details": [{"path", "errors"}]}`) and normalised
 * with Marathon's defaults. Pure.
 *
 * Decisions a Marathon user would look for:
 * - Unknown fields are kept and returned as given (a newer Marathon's field must not break a migration);
 *   known fields Mantle cannot honour and that change behaviour (fetched URIs, custom executors, readiness
 *   checks, resident apps, secrets, IP-per-task, dependencies) are refused with a 422 naming them.
 * - `role` defaults to `*` (Marathon's default `--mesos_role`); a principal deploys only apps of its roles.
 * - `ports` (the old form) become `portDefinitions`; an app with neither gets one port, as Marathon gives.
 */
import { z } from 'zod';
import { validateRole } from '#shared/roles.js';
import { constraintError } from './constraints.js';
import { failure, ok, type Failure, type Result } from '#shared/result.js';

export interface ValidationDetail {
  readonly path: string;
  readonly errors: readonly string[];
}

export type InvalidApp = Failure<'INVALID_APP'> & { readonly details: readonly ValidationDetail[] };

const num = z.number();
const str = z.string();
const nonNegative = num.min(0);

const PortDefinitionSchema = z.looseObject({
  port: z.number().int().min(0).max(65535),
  protocol: z.enum(['tcp', 'udp', 'udp,tcp']).default('tcp'),
  name: str.regex(/^[a-z0-9-]+$/, 'must be lower case letters, digits and -').optional(),
  labels: z.record(str, str).optional(),
});

const PortMappingSchema = z.looseObject({
  containerPort: z.number().int().min(0).max(65535),
  hostPort: z.number().int().min(0).max(65535).optional(),
  servicePort: z.number().int().min(0).max(65535).optional(),
  protocol: z.enum(['tcp', 'udp', 'udp,tcp']).default('tcp'),
  name: str.optional(),
  labels: z.record(str, str).optional(),
});

const VolumeSchema = z.looseObject({
  containerPath: str.min(1),
  hostPath: str.min(1).optional(),
  mode: z.enum(['RO', 'RW']).default('RW'),
});

const ContainerSchema = z.looseObject({
  type: z.enum(['DOCKER', 'MESOS']).default('DOCKER'),
  docker: z
    .looseObject({
      image: str.min(1).max(512),
      network: z.enum(['HOST', 'BRIDGE', 'NONE', 'USER']).optional(),
      portMappings: z.array(PortMappingSchema).optional(),
      privileged: z.boolean().default(false),
      parameters: z.array(z.looseObject({ key: str, value: str })).default([]),
      forcePullImage: z.boolean().default(false),
    })
    .optional(),
  volumes: z.array(VolumeSchema).default([]),
  portMappings: z.array(PortMappingSchema).optional(),
});

export const HEALTH_PROTOCOLS = ['HTTP', 'HTTPS', 'TCP', 'COMMAND', 'MESOS_HTTP', 'MESOS_HTTPS', 'MESOS_TCP'] as const;

const HealthCheckSchema = z.looseObject({
  protocol: z.enum(HEALTH_PROTOCOLS).default('HTTP'),
  path: str.default('/'),
  portIndex: z.number().int().min(0).optional(),
  port: z.number().int().min(0).max(65535).optional(),
  command: z.looseObject({ value: str.min(1) }).optional(),
  gracePeriodSeconds: nonNegative.default(300),
  intervalSeconds: num.min(1).default(60),
  timeoutSeconds: num.min(1).default(20),
  maxConsecutiveFailures: z.number().int().min(0).default(3),
  delaySeconds: nonNegative.default(15),
  ignoreHttp1xx: z.boolean().default(false),
});

export const CONSTRAINT_OPERATORS = ['UNIQUE', 'CLUSTER', 'GROUP_BY', 'LIKE', 'UNLIKE', 'MAX_PER', 'IS'] as const;
export type ConstraintOperator = (typeof CONSTRAINT_OPERATORS)[number];

const ConstraintSchema = z
  .tuple([str.min(1), z.enum(CONSTRAINT_OPERATORS)])
  .rest(str)
  .refine((c) => c.length <= 3, 'a constraint is [field, operator] or [field, operator, value]');

const UpgradeStrategySchema = z.looseObject({
  minimumHealthCapacity: num.min(0).max(1).default(1),
  maximumOverCapacity: num.min(0).max(1).default(1),
});

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Marathon's AppDefinition: the fields Mantle reads, with Marathon's defaults; the rest kept as given. */
export const AppSchema = z.looseObject({
  id: str.min(1).max(512),
  cmd: str.min(1).max(65_536).optional(),
  args: z.array(str).optional(),
  user: str.optional(),
  env: z.record(str.regex(ENV_NAME, 'must be an environment variable name'), str).default({}),
  instances: z.number().int().min(0).max(10_000).default(1),
  cpus: num.min(0.001, 'must be at least 0.001').default(1),
  mem: num.min(0).default(128),
  disk: nonNegative.default(0),
  gpus: z.number().int().min(0).default(0),
  container: ContainerSchema.optional(),
  portDefinitions: z.array(PortDefinitionSchema).optional(),
  ports: z.array(z.number().int().min(0).max(65535)).optional(),
  requirePorts: z.boolean().default(false),
  constraints: z.array(ConstraintSchema).default([]),
  healthChecks: z.array(HealthCheckSchema).default([]),
  backoffSeconds: nonNegative.default(1),
  backoffFactor: num.min(1).default(1.15),
  maxLaunchDelaySeconds: nonNegative.default(3600),
  upgradeStrategy: UpgradeStrategySchema.default({ minimumHealthCapacity: 1, maximumOverCapacity: 1 }),
  killSelection: z.enum(['YOUNGEST_FIRST', 'OLDEST_FIRST']).default('YOUNGEST_FIRST'),
  labels: z.record(str, str).default({}),
  role: str.default('*'),
  acceptedResourceRoles: z.array(str).optional(),
  taskKillGracePeriodSeconds: nonNegative.optional(),
});

export type App = z.infer<typeof AppSchema> & {
  readonly portDefinitions: readonly z.infer<typeof PortDefinitionSchema>[];
};
export type HealthCheckDefinition = App['healthChecks'][number];
export type PortMappingDefinition = z.infer<typeof PortMappingSchema>;

/** Fields Marathon has that change how an app runs, which Mantle does not do: refused, never ignored. */
const UNSUPPORTED: Readonly<Record<string, (value: unknown) => boolean>> = {
  uris: nonEmptyList,
  fetch: nonEmptyList,
  storeUrls: nonEmptyList,
  dependencies: nonEmptyList,
  readinessChecks: nonEmptyList,
  secrets: (value) => typeof value === 'object' && value !== null && Object.keys(value).length > 0,
  residency: (value) => value !== null && value !== undefined,
  ipAddress: (value) => value !== null && value !== undefined,
  executor: (value) => typeof value === 'string' && value !== '' && value !== '//cmd',
  networks: (value) => Array.isArray(value) && value.some((n) => (n as { mode?: string }).mode === 'container'),
};

function nonEmptyList(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}

const SEGMENT = /^(([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$/;

/** An app id as an absolute path (`web` → `/web`), or undefined when a segment breaks Marathon's rule. */
export function canonicalAppId(id: string, base = '/'): string | undefined {
  const absolute = id.startsWith('/') ? id : `${base.replace(/\/$/, '')}/${id}`;
  const segments = absolute.split('/').filter((segment) => segment !== '');
  if (segments.length === 0 || segments.some((segment) => !SEGMENT.test(segment))) return undefined;
  return `/${segments.join('/')}`;
}

function invalid(details: ValidationDetail[]): { ok: false; error: InvalidApp } {
  return { ok: false, error: { code: 'INVALID_APP', message: 'Object is not valid', details } };
}

function zodDetails(error: z.ZodError): ValidationDetail[] {
  const byPath = new Map<string, string[]>();
  for (const issue of error.issues) {
    const path = `/${issue.path.map(String).join('/')}`;
    byPath.set(path, [...(byPath.get(path) ?? []), issue.message]);
  }
  return [...byPath].map(([path, errors]) => ({ path, errors }));
}

/** The checks across fields (Marathon's AppValidation), each a detail. */
function crossChecks(app: App): ValidationDetail[] {
  const details: ValidationDetail[] = [];
  const add = (path: string, error: string) => details.push({ path, errors: [error] });
  if (app.cmd !== undefined && app.args !== undefined) add('/', 'AppDefinition must not contain both cmd and args');
  const image = app.container?.docker?.image;
  if (app.cmd === undefined && app.args === undefined && image === undefined) {
    add('/', "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.");
  }
  if (app.args !== undefined && image === undefined) add('/args', 'args need a container image to run in');
  const roleError = validateRole(app.role);
  if (roleError) add('/role', roleError);
  for (const [index, check] of app.healthChecks.entries()) {
    const needsCommand = check.protocol === 'COMMAND';
    if (needsCommand && check.command === undefined) add(`/healthChecks(${index})`, 'COMMAND needs a command');
    if (!needsCommand && check.port === undefined && (check.portIndex ?? 0) >= portCount(app)) {
      add(`/healthChecks(${index})/portIndex`, `the app has ${portCount(app)} port(s): no port at this index`);
    }
  }
  if (app.healthChecks.length > 1) add('/healthChecks', 'Mantle runs one health check per task: give at most one');
  app.constraints.forEach((constraint, index) => {
    const error = constraintError(constraint);
    if (error) add(`/constraints(${index})`, error);
  });
  for (const [index, name] of Object.keys(app.env).entries()) {
    if (name.startsWith('MARATHON_') || name.startsWith('MESOS_TASK_')) {
      add(`/env(${index})`, `${name}: MARATHON_* and MESOS_TASK_* are set by Mantle`);
    }
  }
  for (const [field, refused] of Object.entries(UNSUPPORTED)) {
    if (refused((app as Record<string, unknown>)[field])) add(`/${field}`, `'${field}' is not supported by Mantle`);
  }
  return details;
}

/** The port mappings of a container app (Marathon 1.5 puts them on the container; older on docker). */
export function portMappings(app: Pick<App, 'container'>): readonly PortMappingDefinition[] | undefined {
  return app.container?.portMappings ?? app.container?.docker?.portMappings;
}

/** How many host ports each task of the app gets. */
export function portCount(app: Pick<App, 'container' | 'portDefinitions'>): number {
  const mappings = portMappings(app);
  if (mappings !== undefined && usesBridge(app)) return mappings.filter((m) => m.hostPort !== undefined).length;
  return app.portDefinitions.length;
}

/** Whether the app's container is on a Docker bridge or user network (port mappings, not host ports). */
export function usesBridge(app: Pick<App, 'container'>): boolean {
  const network = app.container?.docker?.network;
  return network === 'BRIDGE' || network === 'USER';
}

/**
 * A posted app definition, validated and normalised (`id` absolute, `ports` moved to `portDefinitions`,
 * Marathon's defaults filled in), or Marathon's 422.
 */
export function parseApp(input: unknown, idFromPath?: string): Result<App, InvalidApp> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return invalid([{ path: '/', errors: ['an app definition is a JSON object'] }]);
  }
  // Marathon writes an unset optional field as null (`"cmd": null`): the same as absent.
  const known = new Set(Object.keys(AppSchema.shape));
  const given = Object.fromEntries(
    Object.entries(input as Record<string, unknown>).filter(([key, value]) => !(known.has(key) && value === null)),
  );
  if (idFromPath !== undefined && given.id === undefined) given.id = idFromPath;
  const parsed = AppSchema.safeParse(given);
  if (!parsed.success) return invalid(zodDetails(parsed.error));
  const id = canonicalAppId(parsed.data.id);
  if (id === undefined) {
    return invalid([{ path: '/id', errors: [`'${parsed.data.id}' is not a valid app id: ${ID_RULE}`] }]);
  }
  const { ports, ...rest } = parsed.data;
  const definitions = rest.portDefinitions ?? (ports ?? [0]).map((port) => ({ port, protocol: 'tcp' as const }));
  const app = { ...rest, id, portDefinitions: usesBridge(rest) ? [] : definitions } as App;
  const details = crossChecks(app);
  return details.length > 0 ? invalid(details) : ok(app);
}

export const ID_RULE =
  'path segments of lower case letters, digits, - and ., starting and ending with a letter or digit';

/** Fields a scale (`PUT` with only `instances`) may carry without being an update of the definition. */
export function isScaleOnly(body: Record<string, unknown>): boolean {
  return Object.keys(body).every((key) => key === 'instances' || key === 'id');
}

/** What Marathon 422s look like for one message about one path. */
export function invalidApp(path: string, error: string): { ok: false; error: InvalidApp } {
  return invalid([{ path, errors: [error] }]);
}

export function notFound(message: string): { ok: false; error: Failure<'NOT_FOUND'> } {
  return failure('NOT_FOUND', message);
}

/**
 * The part of a definition that decides how a task runs: two versions that differ only in `instances` (a
 * scale) share it, so a scale never replaces running tasks.
 */
export function runSpec(app: App): string {
  const {
    instances: _instances,
    version: _version,
    versionInfo: _info,
    ...rest
  } = app as App & {
    version?: unknown;
    versionInfo?: unknown;
  };
  return canonicalJson(rest);
}

/** JSON with object keys sorted: a definition read back from DynamoDB keeps no key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, each]) => each !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, each]) => `${JSON.stringify(key)}:${canonicalJson(each)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
