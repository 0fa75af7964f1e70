/**
 * The agent's own HTTP endpoint (Mesos agents serve on 5051): GET /health, GET /metrics/snapshot (flat
 * JSON, Mesos names), GET /metrics (the same in Prometheus's text format), GET /state (the agent's id
 * and tasks), and custom executors' `POST /api/v1/executor` (executor-api/route.ts, behind each
 * executor's own secret). Otherwise read-only; it binds to --ip, loopback
 * by default, where every host-network task can reach it: so /state names each task's ids, state and
 * resources and nothing a tenant put in its task (command, environment, labels, reservation labels).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from '#shared/metrics.js';
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from '#shared/prometheus.js';
import type { Isolation } from '#shared/protocol/internal.js';
import type { Resource, TaskState } from '#shared/protocol/mesos.js';

export interface StateTask {
  readonly frameworkId: string;
  readonly taskId: string;
  readonly containerId: string;
  readonly state: TaskState | undefined;
  readonly phase: string;
  readonly resources: readonly Resource[];
}

/** What the endpoint shows of the agent. */
export interface AgentView {
  readonly agentId: string | undefined;
  readonly hostname: string;
  readonly isolation: Isolation;
  readonly metrics: Metrics;
  tasks(): readonly StateTask[];
}

/** What /state shows, field by field, so that nothing added to a task later shows up unasked. Pure. */
export function agentState(agent: AgentView): unknown {
  return {
    id: agent.agentId,
    hostname: agent.hostname,
    isolation: agent.isolation,
    tasks: agent.tasks().map((task) => ({
      frameworkId: task.frameworkId,
      taskId: task.taskId,
      containerId: task.containerId,
      state: task.state,
      phase: task.phase,
      resources: task.resources.map(({ name, type, scalar, ranges, set }) => ({
        name,
        type,
        ...(scalar ? { scalar } : {}),
        ...(ranges ? { ranges } : {}),
        ...(set ? { set } : {}),
      })),
    })),
  };
}

export interface AgentEndpoint {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export type RouteHandler = (request: IncomingMessage, response: ServerResponse) => void;

export async function serveAgent(
  ip: string,
  port: number,
  agent: AgentView,
  executorApi?: { readonly path: string; readonly handle: RouteHandler },
): Promise<AgentEndpoint> {
  const routes = { metrics: () => agent.metrics.snapshot(), state: () => agentState(agent) };
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (executorApi && path === executorApi.path) {
      executorApi.handle(request, response);
      return;
    }
    if (request.method !== 'GET') {
      response.writeHead(405, { Allow: 'GET', 'Content-Type': 'text/plain' }).end('Expecting a GET request');
      return;
    }
    const json = (value: unknown) =>
      response.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(value));
    switch (path) {
      case '/health':
        response.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK');
        return;
      case '/metrics/snapshot':
        json(routes.metrics());
        return;
      case '/metrics':
        void prometheusText(routes.metrics(), agent.metrics.counterNames()).then(
          (text) => response.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE }).end(text),
          (error: unknown) => response.writeHead(500, { 'Content-Type': 'text/plain' }).end(String(error)),
        );
        return;
      case '/state':
        json(routes.state());
        return;
      default:
        response.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, ip, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${ip.includes(':') ? `[${ip}]` : ip}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
