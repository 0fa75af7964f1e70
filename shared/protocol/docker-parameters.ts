/**
 * The Docker parameters Mantle passes (Mesos's `DockerInfo.parameters`, which Mesos's Docker
 * containerizer turns into `docker run --key=value`), their values, and who may pass them. Training
 * needs a few knobs beyond the harmless ones: `shm-size` (PyTorch's DataLoader workers share tensors
 * through /dev/shm, 64 MB by Docker's default), `ulimit` (memlock for RDMA/NCCL, stack), `ipc` and
 * `cap-add`. Each of these has its own ACL setting rather than a `docker_parameters` key; every other
 * key needs `docker_parameters`. The master checks the ACL and the agent checks its launch's grant with
 * the same rules. Pure.
 */

/** Parameters that change nothing about the host and need no ACL (`user` is checked as a user). */
export const HARMLESS_DOCKER_PARAMETERS: ReadonlySet<string> = new Set(['label', 'env', 'workdir', 'user']);

/** Parameters governed by their own ACL setting (max_shm_size_mb, ulimits, ipc_modes, capabilities). */
export const GOVERNED_DOCKER_PARAMETERS: ReadonlySet<string> = new Set(['shm-size', 'ulimit', 'ipc', 'cap-add']);

/** Every parameter key the agent passes to Docker; any other is refused, never ignored. */
export const SUPPORTED_DOCKER_PARAMETERS: readonly string[] = [
  ...HARMLESS_DOCKER_PARAMETERS,
  ...GOVERNED_DOCKER_PARAMETERS,
];

/** IPC modes a task may ask for: `container:<id>` would join another task's (another tenant's) namespace. */
export const IPC_MODES = ['private', 'shareable', 'none', 'host'] as const;
export type IpcMode = (typeof IPC_MODES)[number];

/** The resource limits Docker (and setrlimit) knows, by Docker's names. */
export const ULIMIT_NAMES = [
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
] as const;

/**
 * Ulimits any task may set: locked memory and the stack are charged to the container's memory limit, and
 * open files are bounded by the kernel's `fs.nr_open`. Priorities (`nice`, `rtprio`) and the process
 * count (`nproc` counts the user's processes across the host) need a grant.
 */
export const DEFAULT_ULIMITS: readonly string[] = ['memlock', 'stack', 'nofile'];

/** IPC modes any task may use; `host` (the host's shared memory and semaphores) needs a grant. */
export const DEFAULT_IPC_MODES: readonly IpcMode[] = ['private', 'shareable', 'none'];

/** Docker's default capability set: adding one of these adds nothing. */
export const DOCKER_DEFAULT_CAPABILITIES: ReadonlySet<string> = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'NET_RAW',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

/** A Linux capability as Mesos names it (`NET_ADMIN`), from `NET_ADMIN`, `net_admin` or `CAP_NET_ADMIN`. */
export function capabilityName(name: string): string {
  const upper = name.trim().toUpperCase();
  return upper.startsWith('CAP_') ? upper.slice(4) : upper;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A Docker size (`256m`, `16g`, `1073741824`, `1.5g`) in bytes; undefined when it is not one. */
export function parseDockerSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?$/i.exec(text.trim());
  if (!match) return undefined;
  const bytes = Math.floor(Number(match[1]) * (SIZE_UNITS[(match[2] ?? '').toLowerCase()] ?? 1));
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

export interface Ulimit {
  readonly Name: string;
  readonly Soft: number;
  readonly Hard: number;
}

function limitValue(text: string): number | undefined {
  if (text === '-1' || text === 'unlimited') return -1;
  return /^\d+$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : undefined;
}

/** `name=soft[:hard]` as `docker run --ulimit` reads it (-1 or `unlimited` is no limit); undefined when invalid. */
export function parseUlimit(text: string): Ulimit | undefined {
  const match = /^([a-z]+)=([^:]+)(?::(.+))?$/.exec(text.trim());
  if (!match || !(ULIMIT_NAMES as readonly string[]).includes(match[1] as string)) return undefined;
  const soft = limitValue(match[2] as string);
  const hard = match[3] === undefined ? soft : limitValue(match[3]);
  if (soft === undefined || hard === undefined) return undefined;
  if (hard !== -1 && (soft === -1 || soft > hard)) return undefined;
  return { Name: match[1] as string, Soft: soft, Hard: hard };
}

/** What a principal (master: its ACL) or a launch (agent: its grant) allows of Docker parameters. */
export interface DockerParameterRules {
  readonly docker_parameters: readonly string[];
  readonly capabilities: readonly string[];
  readonly ipc_modes: readonly string[];
  readonly ulimits: readonly string[];
  /** The largest /dev/shm a task may ask for, in MB; null: only the task's memory bounds it. */
  readonly max_shm_size_mb: number | null;
}

/** A refusal: what the task may not do, and the ACL setting that would allow it. */
export interface ParameterRefusal {
  readonly what: string;
  readonly setting: keyof DockerParameterRules;
}

const allows = (list: readonly string[], value: string): boolean => list.includes('*') || list.includes(value);

/** Why the ACL/grant refuses one governed parameter; values that do not parse are left to the agent's check. */
function governedRefusal(key: string, value: string, rules: DockerParameterRules): ParameterRefusal | undefined {
  switch (key) {
    case 'shm-size': {
      const bytes = parseDockerSize(value);
      const max = rules.max_shm_size_mb;
      if (bytes === undefined || max === null || bytes <= max * 1024 * 1024) return undefined;
      return { what: `use a /dev/shm of ${value} (at most ${max} MB)`, setting: 'max_shm_size_mb' };
    }
    case 'ulimit': {
      const name = /^([a-z]+)=/.exec(value.trim())?.[1] ?? value;
      return allows(rules.ulimits, name) ? undefined : { what: `set the ulimit '${name}'`, setting: 'ulimits' };
    }
    case 'ipc':
      return allows(rules.ipc_modes, value.trim())
        ? undefined
        : { what: `use the IPC mode '${value}'`, setting: 'ipc_modes' };
    default: {
      const capability = capabilityName(value);
      if (DOCKER_DEFAULT_CAPABILITIES.has(capability) || allows(rules.capabilities, capability)) return undefined;
      return { what: `add the capability ${capability}`, setting: 'capabilities' };
    }
  }
}

/** The first Docker parameter the rules do not allow, or undefined. */
export function dockerParameterRefusal(
  parameters: ReadonlyArray<{ readonly key: string; readonly value: string }>,
  rules: DockerParameterRules,
): ParameterRefusal | undefined {
  for (const { key, value } of parameters) {
    if (HARMLESS_DOCKER_PARAMETERS.has(key)) continue;
    if (GOVERNED_DOCKER_PARAMETERS.has(key)) {
      const refused = governedRefusal(key, value, rules);
      if (refused) return refused;
      continue;
    }
    if (!allows(rules.docker_parameters, key)) {
      return { what: `pass the Docker parameter '${key}'`, setting: 'docker_parameters' };
    }
  }
  return undefined;
}
