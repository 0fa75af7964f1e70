/**
 * What this host offers, found at start (Mesos `Containerizer::resources` and the agent's
 * `SlaveInfo`): the GPUs nvidia-smi lists (narrowed by `--nvidia_gpu_devices`), the resources (given
 * by `--resources`, completed from the host), the attributes (EC2 placement by IMDSv2, then
 * `--attributes`), the fault domain and the IP to advertise. The decisions are detect.ts's and gpu/'s.
 */
import { agentDisks, prepareDisks, type Disk } from './disks.js';
import type { Logger } from '#shared/log.js';
import type { Attribute, DomainInfo, Resource } from '#shared/protocol/mesos.js';
import type { AgentConfig } from './config.js';
import {
  agentResources,
  detectedResources,
  ec2Attributes,
  firstExternalIpv4,
  hostFacts,
  mergeAttributes,
  parseAttributes,
  requestedGpus,
  type HostFacts,
} from './detect.js';
import { ec2Placement, instanceLeaving } from './ec2-metadata.js';
import { migAttributes } from './gpu/mig.js';
import { detectGpus, selectGpus, type Gpu, type GpuInventory } from './gpu/nvidia.js';

/** Test seams: the host facts, GPU discovery, the EC2 metadata fetch. */
export interface InventorySources {
  readonly hostFacts?: HostFacts;
  readonly detectGpus?: () => Promise<GpuInventory>;
  readonly fetchMetadata?: typeof fetch;
}

export interface HostInventory {
  readonly gpus: Gpu[];
  readonly resources: Resource[];
  readonly attributes: Attribute[];
  readonly domain: DomainInfo | undefined;
  readonly advertiseIp: string | undefined;
  /** The PATH and MOUNT disks `--resources` declares, ready. */
  readonly disks: Disk[];
  /** What GPU discovery could not do (reported with the isolation). */
  readonly notes: string[];
  /** Why the instance is going away, if it is (on EC2; see `instanceLeaving`). */
  readonly leaving: () => Promise<string | undefined>;
}

/** Throws on flags that contradict the host (GPUs it does not have, resources it cannot offer). */
export async function takeInventory(
  config: AgentConfig,
  sources: InventorySources,
  logger: Logger,
): Promise<HostInventory> {
  const inventory = await (sources.detectGpus ?? (() => detectGpus(config.nvidiaSmi)))();
  const selected = selectGpus(
    inventory.gpus,
    config.nvidiaGpuDevices,
    requestedGpus(config.resources, config.defaultRole),
  );
  if (!selected.ok) throw new Error(selected.error);
  const gpus = selected.gpus;

  const facts = sources.hostFacts ?? (await hostFacts(config.workDir));
  const resources = agentResources(config.resources, config.defaultRole, detectedResources(facts, gpus.length));
  if (!resources.ok) throw new Error(resources.error);
  const disks = agentDisks(resources.value);
  if (!disks.ok) throw new Error(disks.error);
  await prepareDisks(disks.value);

  const placement =
    config.ec2Metadata === 'auto'
      ? await ec2Placement(config.ec2MetadataEndpoint, config.ec2MetadataTimeoutMs, sources.fetchMetadata)
      : undefined;
  if (config.ec2Metadata === 'auto' && !placement) {
    logger.debug('No EC2 instance metadata: not on EC2, or IMDSv2 unreachable');
  }
  const ec2 = placement ? ec2Attributes(placement) : undefined;
  const given = parseAttributes(config.attributes ?? '');
  if (!given.ok) throw new Error(`--attributes: ${given.error}`);
  const mig = migAttributes(gpus);
  return {
    gpus,
    resources: resources.value,
    disks: disks.value,
    attributes: mergeAttributes([...(ec2?.attributes ?? []), ...mig.attributes], given.value),
    domain: ec2?.domain,
    advertiseIp: config.advertiseIp ?? placement?.privateIp ?? firstExternalIpv4(),
    notes: [...inventory.notes, ...mig.notes],
    leaving: placement
      ? () => instanceLeaving(config.ec2MetadataEndpoint, config.ec2MetadataTimeoutMs, sources.fetchMetadata)
      : () => Promise.resolve(undefined),
  };
}
