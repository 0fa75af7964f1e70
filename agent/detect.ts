/**
 * What the agent offers (Mesos `Containerizer::resources`, `Attributes::parse`): `--resources` as given,
 * plus, for each of cpus, mem, disk, ports and gpus that it does not name at all, what the host has —
 * the CPU count, memory less 1 GB for the system (half when under 2 GB), the work dir's disk less 5 GB
 * (half when under 10 GB), ports [31000-32000], the GPUs nvidia-smi lists. On EC2 the instance type and
 * zone (IMDSv2) become attributes and the fault domain; `--attributes` wins over them.
 */
import { statfs } from 'node:fs/promises';
import { cpus, networkInterfaces, totalmem, type NetworkInterfaceInfo } from 'node:os';
import type { Attribute, DomainInfo, Resource } from '#shared/protocol/mesos.js';
import { parseResourceText, parseValueText } from '#shared/resources/parse.js';
import { rangesResource, scalarResource } from '#shared/resources/resource.js';
import { add, named, scalarTotal } from '#shared/resources/resources.js';
import { err, ok, type Result } from '#shared/result.js';
import type { Ec2Placement } from './ec2-metadata.js';

const MB = 1024 * 1024;
const GB = 1024 * MB;

export interface HostFacts {
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly diskBytes: number;
}

export async function hostFacts(workDir: string): Promise<HostFacts> {
  const disk = await statfs(workDir);
  return { cpus: cpus().length, memoryBytes: totalmem(), diskBytes: disk.blocks * disk.bsize };
}

/** Mesos's defaults from host facts: memory and disk keep a share for the system. */
export function detectedResources(facts: HostFacts, gpus: number): Resource[] {
  const mem = facts.memoryBytes >= 2 * GB ? facts.memoryBytes - GB : facts.memoryBytes / 2;
  const disk = facts.diskBytes >= 10 * GB ? facts.diskBytes - 5 * GB : facts.diskBytes / 2;
  return [
    scalarResource('cpus', facts.cpus),
    scalarResource('mem', Math.floor(mem / MB)),
    scalarResource('disk', Math.floor(disk / MB)),
    rangesResource('ports', [{ begin: 31000, end: 32000 }]),
    ...(gpus > 0 ? [scalarResource('gpus', gpus)] : []),
  ];
}

/** `--resources` (if any) completed with the detected amounts of what it does not name. */
export function agentResources(
  flag: string | undefined,
  defaultRole: string,
  detected: readonly Resource[],
): Result<Resource[], string> {
  let given: Resource[] = [];
  if (flag !== undefined && flag.trim() !== '') {
    const parsed = parseResourceText(flag, defaultRole);
    if (!parsed.ok) return err(`--resources: ${parsed.error.message}`);
    given = parsed.value;
  }
  const missing = detected.filter((resource) => named(given, resource.name).length === 0);
  const total = add(given, missing);
  if (scalarTotal(total, 'cpus') <= 0 || scalarTotal(total, 'mem') <= 0) {
    return err('The agent needs cpus and mem to offer (Mesos never offers an agent without both)');
  }
  return ok(total);
}

/** How many GPUs `--resources` names (all roles), or undefined when it names none. */
export function requestedGpus(flag: string | undefined, defaultRole: string): number | undefined {
  if (flag === undefined || flag.trim() === '') return undefined;
  const parsed = parseResourceText(flag, defaultRole);
  if (!parsed.ok || named(parsed.value, 'gpus').length === 0) return undefined;
  return scalarTotal(parsed.value, 'gpus');
}

/** Mesos `Attributes::parse`: `name:value;...` with ranges `[a-b]`, sets `{a,b}`, scalars and text. */
export function parseAttributes(text: string): Result<Attribute[], string> {
  const attributes: Attribute[] = [];
  for (const token of text.split(';')) {
    if (token.trim() === '') continue;
    const at = token.indexOf(':');
    if (at <= 0) return err(`Invalid attribute '${token.trim()}': expected name:value`);
    const name = token.slice(0, at).trim();
    const value = token.slice(at + 1).trim();
    if (value === '') return err(`Attribute '${name}' has no value`);
    const parsed = parseValueText(value);
    if (typeof parsed === 'string') return err(`Attribute '${name}': ${parsed}`);
    attributes.push(parsed ? { name, ...parsed } : { name, type: 'TEXT', text: { value } });
  }
  return ok(attributes);
}

/** Detected attributes first; those named again by the operator are replaced. */
export function mergeAttributes(detected: readonly Attribute[], given: readonly Attribute[]): Attribute[] {
  const names = new Set(given.map((attribute) => attribute.name));
  return [...detected.filter((attribute) => !names.has(attribute.name)), ...given];
}

/** The host's first non-internal IPv4 address (what frameworks reach the agent at, off EC2). */
export function firstExternalIpv4(
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string | undefined {
  for (const name of Object.keys(interfaces).sort()) {
    const found = (interfaces[name] ?? []).find((entry) => entry.family === 'IPv4' && !entry.internal);
    if (found) return found.address;
  }
  return undefined;
}

export function ec2Attributes(placement: Ec2Placement): { attributes: Attribute[]; domain: DomainInfo } {
  return {
    attributes: [
      { name: 'instance_type', type: 'TEXT', text: { value: placement.instanceType } },
      { name: 'zone', type: 'TEXT', text: { value: placement.zone } },
    ],
    domain: { fault_domain: { region: { name: placement.region }, zone: { name: placement.zone } } },
  };
}
