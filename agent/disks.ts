/**
 * The agent's disks (Mesos docs/multiple-disk.md): the ROOT disk (the work dir's file system, detected
 * unless `--resources` names a disk), and the PATH and MOUNT disks `--resources` declares in its JSON
 * form with `disk.source.{path,mount}.root`. A PATH disk is a directory (made at start if missing) that
 * volumes are carved from; a MOUNT disk is a mount point used whole, and must be one (`/proc/mounts`),
 * or the agent does not start. Where a persistent volume's data lives follows Mesos's
 * `paths::getPersistentVolumePath`: `<work_dir or PATH root>/volumes/roles/<role>/<id>`, and the MOUNT
 * disk's root itself.
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';
import type { DiskInfo, Resource } from '#shared/protocol/mesos.js';
import { err, ok, type Result } from '#shared/result.js';
import { pathComponent } from './checkpoint.js';
import { LaunchError } from './containerizer/containerizer.js';

export type DiskSource = NonNullable<DiskInfo['source']>;

export interface Disk {
  readonly type: 'PATH' | 'MOUNT';
  readonly root: string;
}

/** The PATH and MOUNT disks among the agent's resources, checked (pure). */
export function agentDisks(resources: readonly Resource[]): Result<Disk[], string> {
  const disks: Disk[] = [];
  for (const resource of resources) {
    const source = resource.disk?.source;
    if (resource.name !== 'disk' || !source) continue;
    if (source.type !== 'PATH' && source.type !== 'MOUNT') {
      return err(`--resources: disk source ${source.type} is not supported (PATH or MOUNT)`);
    }
    const root = (source.type === 'PATH' ? source.path : source.mount)?.root;
    if (root === undefined || !isAbsolute(root)) {
      return err(`--resources: a ${source.type} disk needs an absolute 'root'`);
    }
    if (resource.disk?.persistence || resource.disk?.volume) {
      return err('--resources: persistent volumes are made with CREATE, not declared');
    }
    if (disks.some((disk) => disk.root === normalize(root)))
      return err(`--resources: disk root ${root} is given twice`);
    disks.push({ type: source.type, root: normalize(root) });
  }
  return ok(disks);
}

/** Makes PATH roots that are missing; refuses a MOUNT root that is not a mount point. */
export async function prepareDisks(disks: readonly Disk[], mountTable = '/proc/mounts'): Promise<void> {
  const table = disks.some((disk) => disk.type === 'MOUNT') ? await readFile(mountTable, 'utf8') : '';
  // Mount points are the second field; spaces in them are written as \040.
  const mounted = new Set(table.split('\n').map((line) => (line.split(' ')[1] ?? '').replace(/\\040/g, ' ')));
  for (const disk of disks) {
    if (disk.type === 'PATH') await mkdir(disk.root, { recursive: true, mode: 0o755 });
    else if (!mounted.has(disk.root)) {
      throw new Error(`--resources: the MOUNT disk root ${disk.root} is not a mount point (see ${mountTable})`);
    }
  }
}

/**
 * Where a persistent volume lives on this agent; a volume on a disk this agent does not have is refused
 * (the master only offers what the agent registered, so it takes a forged task description).
 */
export function volumePaths(
  workDir: string,
  disks: readonly Disk[],
): (role: string, persistenceId: string, source?: DiskSource) => string {
  return (role, persistenceId, source) => {
    const under = (root: string) => join(root, 'volumes', 'roles', pathComponent(role), pathComponent(persistenceId));
    if (!source) return under(workDir);
    const root = (source.type === 'PATH' ? source.path : source.mount)?.root;
    const disk = disks.find((candidate) => candidate.type === source.type && candidate.root === normalize(root ?? ''));
    if (!disk) {
      throw new LaunchError(
        `Persistent volume '${persistenceId}' is on a ${source.type} disk at '${root}' that this agent does not have`,
        'TASK_ERROR',
      );
    }
    return disk.type === 'MOUNT' ? disk.root : under(disk.root);
  };
}

/**
 * Removes a destroyed volume's data (the master says which disk it was on): its folder, and on a MOUNT
 * disk what is in the mount point, which stays (Mesos).
 */
export async function removeVolume(workDir: string, role: string, id: string, source?: DiskSource): Promise<void> {
  const type = source?.type === 'MOUNT' ? 'MOUNT' : 'PATH';
  const root = (source?.type === 'MOUNT' ? source.mount : source?.path)?.root;
  const path = volumePaths(workDir, root === undefined ? [] : [{ type, root: normalize(root) }])(role, id, source);
  if (type === 'PATH') {
    await rm(path, { recursive: true, force: true });
    return;
  }
  for (const entry of await readdir(path).catch(() => [] as string[])) {
    await rm(join(path, entry), { recursive: true, force: true });
  }
}
