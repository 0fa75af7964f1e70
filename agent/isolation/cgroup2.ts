/**
 * Where tasks live in the cgroup2 (unified) hierarchy, which the metadata firewall matches on: process
 * tasks under `<cgroup2>/<--cgroups_root>/<container>` (also on a hybrid host, whose controllers are
 * v1), Docker containers under the parent this host's Docker takes — `/<root>` with the cgroupfs driver
 * (the same subtree), a `<root>.slice` with the systemd driver (which only takes slices). The
 * decisions are pure; reading the mount table and making a subtree exist are the I/O.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The cgroup2 mount point in a /proc/self/mountinfo text (`/sys/fs/cgroup`, or `.../unified` on hybrid hosts). */
export function cgroup2MountIn(mountinfo: string): string | undefined {
  for (const line of mountinfo.split('\n')) {
    // <id> <parent> <major:minor> <root> <mount point> <options> [optional...] - <type> <source> <super options>
    const [before, after] = line.split(' - ');
    if (after === undefined || after.split(' ')[0] !== 'cgroup2') continue;
    const mountPoint = before?.split(' ')[4];
    if (mountPoint) return mountPoint.replace(/\\040/g, ' ');
  }
  return undefined;
}

export async function cgroup2Mount(mountinfo = '/proc/self/mountinfo'): Promise<string | undefined> {
  return cgroup2MountIn(await readFile(mountinfo, 'utf8').catch(() => ''));
}

/** A systemd slice's cgroup path: `a-b.slice` is `/a.slice/a-b.slice` (a dash nests). */
export function slicePath(slice: string): string {
  const name = slice.replace(/\.slice$/, '');
  const parts = name.split('-');
  return parts.map((_part, i) => `/${parts.slice(0, i + 1).join('-')}.slice`).join('');
}

export interface DockerCgroupParent {
  /** HostConfig.CgroupParent. */
  readonly parent: string;
  /** Its path in the cgroup2 hierarchy, relative to the mount (what `-m cgroup --path` takes). */
  readonly path: string;
}

/** The parent Docker puts task containers under, for its cgroup driver. */
export function dockerCgroupParent(driver: string | undefined, root: string): DockerCgroupParent {
  const name = root.replace(/^\/+|\/+$/g, '');
  if (driver === 'systemd') {
    const slice = `${name.replace(/\//g, '-').replace(/[^A-Za-z0-9_-]/g, '_')}.slice`;
    return { parent: slice, path: slicePath(slice) };
  }
  return { parent: `/${name}`, path: `/${name}` };
}

/** A cgroup2 subtree tasks live under: its path in the hierarchy, and how to make it exist. */
export interface TaskCgroup {
  readonly path: string;
  create(): Promise<void>;
}

/** A subtree the agent makes itself (cgroupfs: process tasks, and Docker's containers under `/<root>`). */
export function cgroupfsSubtree(cgroup2: string, path: string): TaskCgroup {
  const normal = `/${path.replace(/^\/+/, '')}`;
  return { path: normal, create: async () => void (await mkdir(join(cgroup2, normal), { recursive: true })) };
}

/** A slice of Docker's systemd driver: systemd makes it, when asked to start it (no unit file needed). */
export function systemdSubtree(parent: DockerCgroupParent): TaskCgroup {
  return {
    path: parent.path,
    create: () =>
      new Promise<void>((resolve, reject) =>
        execFile('systemctl', ['start', parent.parent], { timeout: 30_000 }, (error, _stdout, stderr) =>
          error ? reject(new Error(`systemctl start ${parent.parent}: ${stderr || error.message}`)) : resolve(),
        ),
      ),
  };
}
