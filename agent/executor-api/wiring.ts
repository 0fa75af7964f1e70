/** The executor API as the agent builds it: its registry of custom executors and its route. */
import type { AgentMessage } from '#shared/protocol/internal.js';
import type { AgentInfo, Attribute, DomainInfo, Resource } from '#shared/protocol/mesos.js';
import type { AgentContext } from '../context.js';
import type { AgentEndpoint, RouteHandler } from '../http.js';
import { CustomExecutors } from './executors.js';
import { EXECUTOR_API_PATH, executorApi } from './route.js';

/** What the registry needs of the agent besides its context. */
export interface ExecutorApiHost extends AgentContext {
  readonly agentId: string | undefined;
  readonly hostname: string;
  readonly endpoint: AgentEndpoint | undefined;
  readonly resources: readonly Resource[];
  readonly attributes: readonly Attribute[];
  readonly domain: DomainInfo | undefined;
}

/** `host:port` where executors reach the endpoint: a wildcard bind is reached on loopback. */
export function endpointAddress(ip: string, port: number): string {
  const host = ip === '0.0.0.0' ? '127.0.0.1' : ip === '::' ? '::1' : ip;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The agent as its executors' SUBSCRIBED event describes it. */
export function agentInfo(host: ExecutorApiHost): AgentInfo {
  return {
    hostname: host.hostname,
    ...(host.endpoint ? { port: host.endpoint.port } : {}),
    resources: [...host.resources],
    attributes: [...host.attributes],
    ...(host.agentId !== undefined ? { id: { value: host.agentId } } : {}),
    ...(host.domain ? { domain: host.domain } : {}),
  };
}

export function customExecutors(
  host: ExecutorApiHost,
  send: (message: AgentMessage, groupId: string) => Promise<void>,
): CustomExecutors {
  return new CustomExecutors({
    context: host,
    agentInfo: () => agentInfo(host),
    endpoint: () => (host.endpoint ? endpointAddress(host.config.ip, host.endpoint.port) : undefined),
    forward: send,
  });
}

export function executorRoute(
  executors: CustomExecutors,
  host: { readonly agentId: string | undefined },
): { readonly path: string; readonly handle: RouteHandler } {
  return { path: EXECUTOR_API_PATH, handle: executorApi(executors, () => host.agentId ?? '') };
}
