/**
 * The base image recipe the tests' global setup runs (test/support/base-image.sh), on the real engine:
 * built when missing, by several processes at once, under a name of its own here so that the suites
 * running meanwhile keep theirs.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

const docker = new Docker();
const IMAGE = `mantle/busybox:selftest-${process.pid}`;

function build(): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('bash', [join(ROOT, 'test', 'support', 'base-image.sh'), IMAGE], { timeout: 120_000 }, (error) =>
      error ? reject(error) : resolve(),
    ),
  );
}

async function run(command: string): Promise<string> {
  const container = await docker.createContainer({
    Image: IMAGE,
    Cmd: ['sh', '-c', command],
    HostConfig: { NetworkMode: 'none' },
  });
  try {
    await container.start();
    await container.wait();
    const logs = await container.logs({ stdout: true, stderr: true });
    // Docker's multiplexed log frames: an 8-byte header before each chunk.
    const text: string[] = [];
    for (let at = 0; at + 8 <= logs.length; at += 8 + logs.readUInt32BE(at + 4)) {
      text.push(logs.subarray(at + 8, at + 8 + logs.readUInt32BE(at + 4)).toString('utf8'));
    }
    return text.join('');
  } finally {
    await container.remove({ force: true });
  }
}

afterAll(async () => {
  await docker
    .getImage(IMAGE)
    .remove()
    .catch(() => undefined);
});

describe('the base test image', () => {
  it('is built when missing, also by three builders at once, with the applets the tests use on its PATH', async () => {
    await expect(docker.getImage(IMAGE).inspect()).rejects.toThrow();
    await Promise.all([build(), build(), build()]);
    const { Id } = await docker.getImage(IMAGE).inspect();
    expect(await run('echo $PATH; echo $(ls /bin); wc -c < /bin/busybox >/dev/null && echo works')).toBe(
      '/bin\nbusybox cat echo env false head kill ls printf sh sleep true wc\nworks\n',
    );
    // No build tags left behind.
    const tags = (await docker.listImages()).flatMap((image) => image.RepoTags ?? []);
    expect(tags.filter((tag) => tag.startsWith('mantle/busybox:build-'))).toEqual([]);
    // Present: nothing more to do.
    await build();
    expect((await docker.getImage(IMAGE).inspect()).Id).toBe(Id);
  });
});
