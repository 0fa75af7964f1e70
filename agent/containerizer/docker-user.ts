/**
 * Who a Docker container runs as, which only the agent can see: the task's user (CommandInfo.user, else
 * a Docker `user` parameter), else the image's `Config.User`, where empty means root. A name is looked
 * up in the container's own /etc/passwd (read from the created container through the Engine API's
 * archive), as runc does when it starts it, since an image can map any name to uid 0. The decisions are
 * pure; reading the file is the one I/O.
 */
import type Docker from 'dockerode';
import { posix } from 'node:path';
import type { TaskInfo } from '#shared/protocol/mesos.js';
import { isRootUser } from '../authorization.js';
import { LaunchError } from './containerizer.js';
import { parsePasswd } from './host.js';

/** The user the task asks for, if any (the last `user` parameter wins, as with `docker run -u`). */
export function requestedUser(task: TaskInfo): string | undefined {
  const parameters = (task.container?.docker?.parameters ?? []).filter((parameter) => parameter.key === 'user');
  return task.command?.user ?? parameters.at(-1)?.value;
}

export interface UserSpec {
  readonly user: string;
  readonly group?: string;
}

export function parseUserSpec(spec: string): UserSpec {
  const [user = '', ...rest] = spec.trim().split(':');
  return rest.length > 0 ? { user, group: rest.join(':') } : { user };
}

const NUMERIC = /^\d+$/;

/** The uid and gid a spec names without a lookup; the gid is unknown (-1) when not numeric. */
export function numericOwner(spec: UserSpec): { uid: number; gid: number } | undefined {
  if (!NUMERIC.test(spec.user)) return undefined;
  return {
    uid: Number(spec.user),
    gid: spec.group !== undefined && NUMERIC.test(spec.group) ? Number(spec.group) : -1,
  };
}

/** Whether the user is a name other than root, to be looked up in the container. */
export function needsLookup(spec: UserSpec): boolean {
  return !isRootUser(spec.user) && !NUMERIC.test(spec.user);
}

/** Whether a mount at one of these container paths would replace the /etc/passwd or /etc/group runc reads. */
export function coversUserDatabase(targets: readonly string[]): boolean {
  return targets.some((target) => {
    const path = posix.normalize(target).replace(/\/+$/, '') || '/';
    return ['/', '/etc', '/etc/passwd', '/etc/group'].includes(path);
  });
}

export function rootRefusal(image: string, spec: string, from: 'task' | 'image', uidZero = false): LaunchError {
  const who =
    from === 'task'
      ? `the task's user '${spec}'${uidZero ? ' is uid 0 in the image' : ''}`
      : spec.trim() === ''
        ? `image '${image}' has no USER`
        : `image '${image}' runs as USER '${spec}'${uidZero ? ', uid 0 in the image' : ''}`;
  return new LaunchError(
    `The container would run as root (${who}), which this task's grant does not allow (acl: run_as_users): ` +
      "set a non-root user with CommandInfo.user, a Docker 'user' parameter, or USER in the image",
  );
}

/** One entry of a tar archive (ustar), enough to read one file or follow one symlink. Pure. */
export function tarEntry(archive: Buffer): { content: Buffer } | { link: string } | undefined {
  let offset = 0;
  while (offset + 512 <= archive.length) {
    const header = archive.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) return undefined;
    const size = parseInt(header.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(header[156] ?? 0);
    const body = offset + 512;
    if (type === '0' || type === '\0') return { content: archive.subarray(body, body + size) };
    if (type === '2') return { link: header.subarray(157, 257).toString('utf8').replace(/\0.*$/s, '') };
    // Extended headers (pax 'x'/'g', GNU 'L'/'K') come before the entry they describe.
    offset = body + Math.ceil(size / 512) * 512;
  }
  return undefined;
}

/** Bigger than any real /etc/passwd; a bigger one is refused rather than read into memory. */
const MAX_FILE_BYTES = 1 << 20;

async function readArchive(container: Docker.Container, path: string): Promise<Buffer | undefined> {
  let stream: NodeJS.ReadableStream;
  try {
    stream = await container.getArchive({ path });
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_FILE_BYTES + 4096) {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      throw new LaunchError(`The image's ${path} is larger than ${MAX_FILE_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A file of the created container, following symlinks (a few hops); undefined when there is none. */
export async function containerFile(container: Docker.Container, path: string): Promise<string | undefined> {
  let current = path;
  for (let hop = 0; hop < 8; hop++) {
    const archive = await readArchive(container, current);
    if (archive === undefined) return undefined;
    const entry = tarEntry(archive);
    if (entry === undefined) return undefined;
    if ('content' in entry) return entry.content.toString('utf8');
    current = posix.resolve(posix.dirname(current), entry.link);
  }
  throw new LaunchError(`Too many symlinks resolving ${path} in the container`);
}

/** The uid and gid a named user has in the container; undefined when it has no such user (runc then refuses it). */
export async function lookupContainerUser(
  container: Docker.Container,
  spec: UserSpec,
): Promise<{ uid: number; gid: number } | undefined> {
  const passwd = await containerFile(container, '/etc/passwd');
  const user = passwd === undefined ? undefined : parsePasswd(passwd).get(spec.user);
  if (!user) return undefined;
  const gid = spec.group !== undefined && NUMERIC.test(spec.group) ? Number(spec.group) : user.gid;
  return { uid: user.uid, gid };
}
