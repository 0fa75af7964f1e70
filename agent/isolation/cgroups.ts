/**
 * cgroups for the process containerizer (Mesos's `cgroups/cpu`, `cgroups/mem`, `cgroups/pids` and
 * `cgroups/devices` isolators): one cgroup per container under `<hierarchy>/<controller>/<root>/<id>`
 * (v1) or `<hierarchy>/<root>/<id>` (v2). A v1 host that also mounts the cgroup2 hierarchy (hybrid)
 * puts the container in `<cgroup2>/<root>/<id>` too, without controllers: the metadata firewall
 * matches tasks by their cgroup2 path. What the host allows is found once at start and reported;
 * where a controller is missing or not writable the agent says so and runs without it.
 */
import { constants } from 'node:fs';
import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NVIDIA_MAJOR } from '../gpu/nvidia.js';
import { attachDeviceFilter } from './device-filter.js';
import { cgroupWrites, type ContainerLimits } from './limits.js';

export interface CgroupSupport {
  readonly version: 'v1' | 'v2' | 'none';
  /** Where each controller's container cgroups go (v2: the same directory for all). */
  readonly bases: ReadonlyMap<string, string>;
  /** v1 devices controller, for GPU isolation. */
  readonly devices?: string;
  /** Where containers go in the cgroup2 hierarchy (v2: the base of every controller). */
  readonly unified?: string;
  /** The loader of the cgroup2 GPU device filter (device-filter.ts), where it was found to work. */
  readonly deviceFilter?: string;
  readonly notes: readonly string[];
}

const V1_CONTROLLERS = ['cpu', 'memory', 'pids'] as const;
const V2_CONTROLLERS = ['cpu', 'memory', 'pids'] as const;

async function exists(path: string): Promise<boolean> {
  return access(path, constants.F_OK).then(
    () => true,
    () => false,
  );
}

async function writable(dir: string): Promise<string | undefined> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
}

/**
 * Finds the cgroup version and which controllers this agent may use. `cgroup2`: where the cgroup2
 * hierarchy is mounted, if anywhere (on a hybrid host, beside the v1 `hierarchy`).
 */
export async function detectCgroups(hierarchy: string, root: string, cgroup2?: string): Promise<CgroupSupport> {
  const notes: string[] = [];
  let unified: string | undefined;
  if (cgroup2 !== undefined && cgroup2 !== hierarchy) {
    const base = join(cgroup2, root);
    const problem = await writable(base);
    if (problem) notes.push(`cgroup2 at ${cgroup2} is not writable (${problem}): process tasks stay in the agent's`);
    else unified = base;
  }
  const none = (note: string): CgroupSupport => ({
    version: 'none',
    bases: new Map(),
    ...(unified ? { unified } : {}),
    notes: [...notes, note],
  });

  const v2Controllers = await readFile(join(hierarchy, 'cgroup.controllers'), 'utf8').catch(() => undefined);
  if (v2Controllers !== undefined) {
    const available = new Set(v2Controllers.trim().split(/\s+/));
    const usable = V2_CONTROLLERS.filter((controller) => available.has(controller));
    const base = join(hierarchy, root);
    const problem = await writable(base);
    if (problem)
      return none(`cgroups v2 at ${hierarchy} is not writable (${problem}): process tasks run without limits`);
    for (const dir of [hierarchy, base]) {
      try {
        await writeFile(join(dir, 'cgroup.subtree_control'), usable.map((c) => `+${c}`).join(' '));
      } catch (error) {
        return none(`cgroups v2: cannot enable ${usable.join(', ')} in ${dir} (${(error as Error).message})`);
      }
    }
    for (const missing of V2_CONTROLLERS.filter((controller) => !available.has(controller))) {
      notes.push(`cgroups v2: the ${missing} controller is not available: no ${missing} limits`);
    }
    return { version: 'v2', bases: new Map(usable.map((controller) => [controller, base])), unified: base, notes };
  }

  if (!(await exists(join(hierarchy, 'memory', 'memory.limit_in_bytes')))) {
    return none(`no cgroup hierarchy found at ${hierarchy}: process tasks run without limits`);
  }
  const bases = new Map<string, string>();
  for (const controller of V1_CONTROLLERS) {
    const base = join(hierarchy, controller, root);
    if (!(await exists(join(hierarchy, controller)))) {
      notes.push(`cgroups v1: the ${controller} controller is not mounted: no ${controller} limits`);
      continue;
    }
    const problem = await writable(base);
    if (problem)
      notes.push(`cgroups v1: ${join(hierarchy, controller)} is not writable (${problem}): no ${controller} limits`);
    else bases.set(controller, base);
  }
  if (!bases.has('memory') && !bases.has('cpu')) {
    return none(`cgroups v1 at ${hierarchy}: neither cpu nor memory is writable: process tasks run without limits`);
  }
  let devices: string | undefined;
  if (await exists(join(hierarchy, 'devices', 'devices.deny'))) {
    const base = join(hierarchy, 'devices', root);
    if ((await writable(base)) === undefined) devices = base;
  }
  if (!(await exists(join(hierarchy, 'memory', 'memory.memsw.limit_in_bytes')))) {
    notes.push('cgroups v1: no swap accounting (memory.memsw): swap is not limited');
  }
  return { version: 'v1', bases, ...(devices ? { devices } : {}), ...(unified ? { unified } : {}), notes };
}

/** Waits for every step, then throws the first failure (a step still running is never left behind). */
async function settleAll(steps: ReadonlyArray<Promise<unknown>>): Promise<void> {
  const outcomes = await Promise.allSettled(steps);
  const failed = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed) throw failed.reason;
}

/** A container's cgroups; nested under its pod's (a task group's) when it has one. */
export class ContainerCgroup {
  private readonly path: string;

  constructor(
    private readonly support: CgroupSupport,
    readonly containerId: string,
    pod?: string,
  ) {
    this.path = pod === undefined ? containerId : join(pod, containerId);
  }

  /** One directory per controller in use, and the cgroup2 one (v2: one in all). */
  dirs(): string[] {
    const dirs = new Set([...this.support.bases.values()].map((base) => join(base, this.path)));
    if (this.support.devices) dirs.add(join(this.support.devices, this.path));
    if (this.support.unified) dirs.add(join(this.support.unified, this.path));
    return [...dirs];
  }

  private dir(controller: string): string | undefined {
    const base = this.support.bases.get(controller);
    return base === undefined ? undefined : join(base, this.path);
  }

  /** The files a process's pid is written to, to move it into the container's cgroups. */
  procsFiles(): string[] {
    return this.dirs().map((dir) => join(dir, 'cgroup.procs'));
  }

  /**
   * Creates the cgroups with their limits and GPU isolation: the v1 devices cgroup's rules, or, on
   * cgroup2, the device filter that leaves the task only `gpuMinors` (undefined: the agent has no GPUs).
   */
  async create(limits: ContainerLimits, gpuDenyRules: readonly string[], gpuMinors?: readonly number[]): Promise<void> {
    // The hierarchies are independent: made and written at once, not one after another (it is on the launch's path).
    await Promise.all(this.dirs().map((dir) => mkdir(dir, { recursive: true })));
    const { deviceFilter, unified } = this.support;
    const steps: Array<Promise<void>> = [];
    if (deviceFilter !== undefined && unified !== undefined && gpuMinors !== undefined) {
      steps.push(attachDeviceFilter(deviceFilter, join(unified, this.path), NVIDIA_MAJOR, gpuMinors));
    }
    if (this.support.version !== 'none') {
      steps.push(this.write(cgroupWrites(this.support.version, limits)));
      if (this.support.devices) {
        const dir = join(this.support.devices, this.path);
        steps.push(
          (async () => {
            for (const rule of gpuDenyRules) await writeFile(join(dir, 'devices.deny'), rule);
          })(),
        );
      }
    }
    await settleAll(steps);
  }

  /** Each controller's writes in their order (memory+swap after memory); the controllers side by side. */
  private async write(writes: ReturnType<typeof cgroupWrites>): Promise<void> {
    const byController = new Map<string, Array<(typeof writes)[number]>>();
    for (const write of writes)
      byController.set(write.controller, [...(byController.get(write.controller) ?? []), write]);
    await settleAll(
      [...byController].map(async ([controller, own]) => {
        const dir = this.dir(controller);
        if (!dir) return;
        for (const write of own) {
          try {
            await writeFile(join(dir, write.file), write.value);
          } catch (error) {
            // Swap and soft limits are optional where the kernel lacks them; the hard limits are not.
            const optional = /memsw|swap|soft_limit|memory\.low/.test(write.file);
            if (!(optional && (error as NodeJS.ErrnoException).code === 'ENOENT')) {
              throw new Error(`Failed to set ${write.file}=${write.value}: ${(error as Error).message}`, {
                cause: error,
              });
            }
          }
        }
      }),
    );
  }

  /**
   * New limits for a running container (a custom executor's tasks came or went). The CPU limits follow at
   * once. A lower hard memory limit is set only when the memory in use fits under it (below, the kernel
   * would reclaim or OOM-kill): otherwise the hard limit stays and only the soft one follows. On v1 the
   * memory limit may never be above the memory+swap one, so that one goes first when they grow.
   * Returns whether the hard memory limit could follow.
   */
  async resize(limits: ContainerLimits): Promise<boolean> {
    if (this.support.version === 'none') return true;
    const memory = this.dir('memory');
    const v1 = this.support.version === 'v1';
    const read = (file: string) =>
      memory === undefined ? Promise.resolve(NaN) : readFile(join(memory, file), 'utf8').then(Number, () => NaN);
    const current = await read(v1 ? 'memory.limit_in_bytes' : 'memory.max');
    const usage = await read(v1 ? 'memory.usage_in_bytes' : 'memory.current');
    const next = limits.memoryBytes ?? Infinity;
    const shrinks = next < current;
    const fits = !shrinks || !(usage > next);
    const hard = /memory\.(limit_in_bytes|memsw\.limit_in_bytes|max)$/;
    let writes = cgroupWrites(this.support.version, limits).filter((write) => fits || !hard.test(write.file));
    if (v1 && !shrinks) {
      const memsw = writes.filter((write) => write.file === 'memory.memsw.limit_in_bytes');
      writes = [...memsw, ...writes.filter((write) => write.file !== 'memory.memsw.limit_in_bytes')];
    }
    await this.write(writes);
    return fits;
  }

  /**
   * Moves a process into every cgroup of the container. The agent does it, not the process: on cgroup2
   * only a writer allowed at the common ancestor (root, here) may move a process between cgroups.
   */
  async join(pid: number): Promise<void> {
    await settleAll(this.procsFiles().map((file) => writeFile(file, String(pid))));
  }

  /** Whether the kernel's OOM killer killed a process of this container. */
  async oomKilled(): Promise<boolean> {
    const dir = this.dir('memory');
    if (!dir) return false;
    const file = this.support.version === 'v2' ? 'memory.events' : 'memory.oom_control';
    const text = await readFile(join(dir, file), 'utf8').catch(() => '');
    const match = /^oom_kill\s+(\d+)$/m.exec(text);
    return match?.[1] !== undefined && Number(match[1]) > 0;
  }

  async pids(): Promise<number[]> {
    const found = new Set<number>();
    for (const dir of this.dirs()) {
      const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
      for (const line of text.split('\n')) if (line.trim() !== '') found.add(Number(line));
    }
    return [...found];
  }

  /** SIGKILLs every process in the cgroup but `spare` (the supervisor, which must record the exit). */
  async killAll(spare?: number): Promise<void> {
    for (const pid of await this.pids()) {
      if (pid === spare) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Kills what is left and removes the cgroups (a dying process can keep one busy for a moment). */
  async destroy(): Promise<void> {
    for (let attempt = 0; attempt < 40; attempt++) {
      // Only an empty cgroup can be removed: what is left is looked for (and killed) once a removal failed.
      const removed = await Promise.all(
        this.dirs().map((dir) =>
          rmdir(dir).then(
            () => true,
            (error: NodeJS.ErrnoException) => error.code === 'ENOENT',
          ),
        ),
      );
      if (removed.every(Boolean)) return;
      await this.killAll();
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`cgroups of container ${this.containerId} could not be removed`);
  }
}
