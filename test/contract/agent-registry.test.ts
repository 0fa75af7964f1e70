/**
 * Private registry credentials reach the registry: the real Docker engine pulls an image of a loopback
 * stand-in registry with the credentials of the agent's `--docker_config`. The stand-in asks for Basic
 * credentials (as a registry does) and records what the engine sends; it serves no image, so the pull
 * then fails and the task with it. ECR (AWS-only) is tested with an injected client in
 * test/unit/agent-registry-auth.test.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import type { AwsClients } from '#shared/aws/clients.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import {
  dockerTask,
  launch,
  removeContainers,
  removeWorkDir,
  startTestAgent,
  taskId,
  tempWorkDir,
} from '../support/agent.js';

let clients: AwsClients;
let master: FakeMaster;
let registry: Server;
let registryHost: string;
const seen: Array<{ path: string; authorization?: string }> = [];

function startRegistry(): Promise<Server> {
  const server = createServer((request, response) => {
    seen.push({
      path: request.url ?? '',
      ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}),
    });
    response.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    if (request.headers.authorization !== `Basic ${Buffer.from('trainer:s3cret').toString('base64')}`) {
      response.writeHead(401, { 'WWW-Authenticate': 'Basic realm="stand-in"', 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    if (request.url === '/v2/') {
      response.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      return;
    }
    response.writeHead(404, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function pullFails(agent: RunningAgent, id: string): Promise<string> {
  const agentId = await agent.registered;
  const task = dockerTask(id, 'true', {
    container: { type: 'DOCKER', docker: { image: `${registryHost}/team/train:v1`, network: 'NONE' } },
  });
  await master.send(agentId, launch(task));
  const ended = await master.until(
    () =>
      master.of(id).find((received) => ['TASK_FINISHED', 'TASK_FAILED', 'TASK_ERROR'].includes(received.status.state)),
    60_000,
    `${id} to end`,
  );
  expect(ended.status).toMatchObject({ state: 'TASK_FAILED', reason: 'REASON_CONTAINER_LAUNCH_FAILED' });
  return ended.status.message ?? '';
}

beforeAll(async () => {
  clients = standInClients();
  master = await new FakeMaster({ sqs: clients.sqs }).start();
  registry = await startRegistry();
  registryHost = `127.0.0.1:${(registry.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await master?.close();
  clients?.destroy();
  await new Promise((resolve) => registry?.close(resolve));
});

describe('--docker_config', () => {
  it.each([
    ['with', true],
    ['without', false],
  ])('pulls %s the credentials of the registry', async (_what, configured) => {
    const workDir = await tempWorkDir();
    const agent = await startTestAgent(master, {
      sqsEndpoint: inject('sqsEndpoint'),
      workDir,
      containerizers: ['docker'],
      ...(configured
        ? {
            dockerConfig: JSON.stringify({
              auths: { [`http://${registryHost}`]: { username: 'trainer', password: 's3cret' } },
            }),
          }
        : {}),
    });
    try {
      seen.length = 0;
      const message = await pullFails(agent, taskId('pull'));
      const expected = `Basic ${Buffer.from('trainer:s3cret').toString('base64')}`;
      if (configured) {
        expect(message).toMatch(/Failed to pull image .*(manifest unknown|not found)/);
        expect(
          seen.some(
            (request) => request.path.startsWith('/v2/team/train/manifests/') && request.authorization === expected,
          ),
        ).toBe(true);
      } else {
        expect(message).toMatch(
          /Failed to pull image .*(no basic auth credentials|unauthorized|authentication required)/,
        );
        expect(seen.every((request) => request.authorization === undefined)).toBe(true);
      }
    } finally {
      await agent.shutdown();
      await removeContainers([workDir]);
      await removeWorkDir(workDir);
    }
  });
});
