/** The messages between a local cluster and its agent host (local/agent-host.ts), over the child's IPC channel. */
import { z } from 'zod';
import type { AgentConfig } from '../agent/config.js';

/** The cluster's own agentConfig() output, plain data: the agent checks what it needs as it starts. */
const agentConfigData = z.custom<AgentConfig>(
  (value) => typeof value === 'object' && value !== null && typeof (value as { master?: unknown }).master === 'string',
);

/** From the cluster: the agents' configurations (AgentConfig, plain data), a CPU reading, or stop. */
export const hostRequest = z.discriminatedUnion('type', [
  z.object({ type: z.literal('start'), persist: z.boolean(), configs: z.array(agentConfigData) }),
  z.object({ type: z.literal('usage') }),
  z.object({ type: z.literal('stop') }),
]);
export type HostRequest = z.infer<typeof hostRequest>;

/** From the host: each agent's id once registered, then ready; its CPU use; or why it could not start. */
export const hostReply = z.discriminatedUnion('type', [
  z.object({ type: z.literal('registered'), index: z.number().int(), agentId: z.string() }),
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('usage'), user: z.number(), system: z.number() }),
  z.object({ type: z.literal('error'), message: z.string() }),
]);
export type HostReply = z.infer<typeof hostReply>;
