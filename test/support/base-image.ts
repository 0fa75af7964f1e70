/**
 * Global setup of the test projects that run containers (contract, e2e): a Docker engine must answer,
 * and the base image `mantle/busybox:test` is built when missing (base-image.sh, the one recipe; several
 * test runs may build it at once). Without an engine the run fails here, saying so, rather than
 * leaving the Docker tests to fail one by one or to pass having run nothing.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';

export const TEST_IMAGE = 'mantle/busybox:test';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'base-image.sh');

export async function setup(): Promise<void> {
  try {
    await new Docker().ping();
  } catch (error) {
    throw new Error(
      `The contract and end-to-end tests need a Docker engine, and none answers (${(error as Error).message}). ` +
        'Start one (on Debian/Ubuntu, sudo .ci/setup installs and starts it), or point DOCKER_HOST at it.',
      { cause: error },
    );
  }
  await new Promise<void>((resolve, reject) => {
    execFile('bash', [SCRIPT, TEST_IMAGE], { timeout: 300_000 }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      reject(new Error(`Could not build the tests' base image ${TEST_IMAGE}: ${stderr.trim() || error.message}`));
    });
  });
}
