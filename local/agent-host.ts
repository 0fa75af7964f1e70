/**
 * The child process that hosts a local cluster's agents (`agentProcesses`, local/agent-processes.ts), so
 * that they run on a core of their own beside the master's handlers. It starts the agents the parent
 * sends, says each one's id once registered, and stops them when told to or when the parent goes away
 * (its IPC channel closes), as the cluster would have stopped them in process. The agents' credential
 * comes in the environment, never in a message or an argument.
 */
import { startAgent, type RunningAgent } from '../agent/agent.js';
import type { AgentConfig } from '../agent/config.js';
import { hostRequest, type HostReply } from './agent-host-protocol.js';

const agents: RunningAgent[] = [];
let persist = false;
let stopping: Promise<void> | undefined;

function reply(message: HostReply): void {
  process.send?.(message);
}

/** Stops every agent as the cluster does: a throwaway cluster takes its tasks along, a persistent one leaves them. */
function stopAll(): Promise<void> {
  stopping ??= Promise.allSettled(
    agents.map((agent) =>
      persist ? agent.stop({ waitForPoll: false }) : agent.shutdown(2000, { waitForPoll: false }),
    ),
  ).then(() => undefined);
  return stopping;
}

async function start(configs: readonly AgentConfig[]): Promise<void> {
  for (const [index, config] of configs.entries()) {
    const agent = await startAgent({ config, env: process.env });
    agents.push(agent);
    reply({ type: 'registered', index, agentId: await agent.registered });
  }
  reply({ type: 'ready' });
}

process.on('message', (raw) => {
  const parsed = hostRequest.safeParse(raw);
  if (!parsed.success) {
    reply({ type: 'error', message: `agent host: refused a message: ${parsed.error.message}` });
    return;
  }
  const request = parsed.data;
  if (request.type === 'start') {
    persist = request.persist;
    start(request.configs).catch((error: unknown) => reply({ type: 'error', message: (error as Error).message }));
  } else if (request.type === 'usage') {
    reply({ type: 'usage', ...process.cpuUsage() });
  } else {
    void stopAll().then(() => process.disconnect());
  }
});

// The cluster's process ended without stopping us (killed): its queues and master are gone too.
process.once('disconnect', () => void stopAll().then(() => process.exit(0)));
// Ctrl-C reaches the terminal's whole process group: the cluster stops its agents in its order (SIGINT
// would end this process before its agents took their tasks along). A SIGTERM of our own stops them here.
process.on('SIGINT', () => undefined);
process.once('SIGTERM', () => void stopAll().then(() => process.exit(0)));
