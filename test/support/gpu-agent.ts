/**
 * An agent with GPUs for a local cluster, on a machine without any: its GPU discovery (the agent's
 * inventory seam, which otherwise runs nvidia-smi) reports fake NVIDIA devices, so the agent offers
 * `gpus` and hands them out to tasks as it would on a GPU instance. The fleet tests use it as the
 * instance an Auto Scaling group would launch.
 */
import type { RunningAgent } from '../../agent/agent.js';
import type { GpuInventory } from '../../agent/gpu/nvidia.js';
import type { LocalCluster } from '../../local/cluster.js';
import { startTestAgent } from './agent.js';

export function fakeGpus(count: number): GpuInventory {
  return {
    gpus: Array.from({ length: count }, (_, index) => ({
      index,
      uuid: `GPU-00000000-0000-0000-0000-${String(index).padStart(12, '0')}`,
      model: 'NVIDIA A10G',
      memoryMiB: 23_028,
      minor: index,
    })),
    notes: [],
  };
}

export interface GpuAgentOptions {
  readonly gpus: number;
  /** Without ports and gpus (the agent adds what it detects); default `cpus:2;mem:2048;disk:1024`. */
  readonly resources?: string;
  /** `--attributes`, e.g. `instance_id:i-0abc` for an agent on a (pretend) EC2 instance. */
  readonly attributes?: string;
  readonly hostname?: string;
}

export async function startGpuAgent(cluster: LocalCluster, options: GpuAgentOptions): Promise<RunningAgent> {
  const agent = await startTestAgent(
    { url: cluster.url },
    {
      sqsEndpoint: cluster.aws.sqs.endpoint,
      resources: `${options.resources ?? 'cpus:2;mem:2048;disk:1024'};gpus:${options.gpus}`,
      containerizers: ['mesos'],
      commandPollSeconds: 1,
      ...(options.attributes ? { attributes: options.attributes } : {}),
      ...(options.hostname ? { hostname: options.hostname } : {}),
      options: { detectGpus: () => Promise.resolve(fakeGpus(options.gpus)) },
    },
  );
  await agent.registered;
  return agent;
}
