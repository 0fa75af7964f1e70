/**
 * `mantle reserve`, `mantle unreserve` and `mantle volume create|destroy`: an operator's dynamic
 * reservations and persistent volumes on an agent (RESERVE_RESOURCES, UNRESERVE_RESOURCES, CREATE_VOLUMES,
 * DESTROY_VOLUMES). Resources are typed as an agent's `--resources` are (`cpus:2;mem:1024`); the
 * reservation names the caller's principal (--principal or MANTLE_PRINCIPAL), as Mesos requires with
 * authentication on.
 */
import { Command } from 'commander';
import type { Resource } from '#shared/protocol/mesos.js';
import { parseResourceText } from '#shared/resources/parse.js';
import { pushReservation } from '#shared/resources/resources.js';
import type { Resource as WireResource } from '../sdk/operator-types.js';
import {
  act,
  commandPath,
  connectionOf,
  EXIT,
  operatorClient,
  print,
  withConnection,
  type ConnectionFlags,
  type Outcome,
} from './command.js';
import { UsageError } from './jobs-client.js';

interface ReserveFlags extends ConnectionFlags {
  readonly role: string;
}

/** `text` unreserved, then reserved for `role` by the caller (when it authenticates). */
function reservedFor(text: string, flags: ReserveFlags): Resource[] {
  const parsed = parseResourceText(text);
  if (!parsed.ok) throw new UsageError(parsed.error.message);
  if (parsed.value.some((resource) => (resource.reservations ?? []).length > 0)) {
    throw new UsageError(`'${text}': give the resources unreserved (cpus:2, not cpus(role):2) and --role`);
  }
  const principal = connectionOf(flags).credentials?.principal;
  return pushReservation(parsed.value, { role: flags.role, ...(principal ? { principal } : {}) });
}

function reservationVerb(outcome: Outcome, name: 'reserve' | 'unreserve'): Command {
  const command = withConnection(
    new Command(name)
      .description(
        name === 'reserve'
          ? "reserve an agent's unallocated resources for a role (RESERVE_RESOURCES)"
          : 'give reserved resources back to every role (UNRESERVE_RESOURCES)',
      )
      .argument('<agent-id>')
      .argument('<resources>', "as an agent's --resources: 'cpus:2;mem:1024;disk:4096'")
      .requiredOption('--role <role>', 'the role the resources are reserved for'),
    false,
  );
  return act(command, outcome, async function (agentId: string, text: string) {
    const flags = this.opts<ReserveFlags>();
    const resources = reservedFor(text, flags);
    const client = operatorClient(flags);
    if (name === 'reserve') await client.reserveResources(agentId, resources);
    else await client.unreserveResources(agentId, resources);
    print([`${text} on agent ${agentId} ${name}d for role ${flags.role}`]);
    return EXIT.ok;
  });
}

interface VolumeFlags extends ReserveFlags {
  readonly size?: string;
  readonly path: string;
}

/** A persistent volume of `size` MB on disk reserved for the role, created by the caller. */
function newVolume(id: string, flags: VolumeFlags): Resource {
  const size = Number(flags.size);
  if (!Number.isFinite(size) || size <= 0) throw new UsageError(`--size must be megabytes, not '${flags.size}'`);
  const [disk] = reservedFor(`disk:${size}`, flags);
  const principal = connectionOf(flags).credentials?.principal;
  return {
    ...(disk as Resource),
    disk: {
      persistence: { id, ...(principal ? { principal } : {}) },
      volume: { container_path: flags.path, mode: 'RW' },
    },
  };
}

function volumeCreate(outcome: Outcome): Command {
  const command = withConnection(
    new Command('create')
      .description("create a persistent volume on an agent's disk reserved for the role (CREATE_VOLUMES)")
      .argument('<agent-id>')
      .argument('<volume-id>', 'its persistence id, unique on the agent for the role')
      .requiredOption('--role <role>', 'the role whose reserved disk holds it')
      .requiredOption('--size <mb>', 'its size in MB')
      .option('--path <name>', 'where tasks see it, relative to the sandbox (a plain name)', 'data'),
    false,
  );
  return act(command, outcome, async function (agentId: string, id: string) {
    const flags = this.opts<VolumeFlags>();
    await operatorClient(flags).createVolumes(agentId, [newVolume(id, flags)]);
    print([`volume ${id} created on agent ${agentId} for role ${flags.role}`]);
    return EXIT.ok;
  });
}

/** The volume as the agent holds it: DESTROY_VOLUMES names it whole. */
function heldVolume(total: readonly WireResource[], id: string, role: string): WireResource | undefined {
  return total.find((resource) => {
    const persistence = (resource.disk as { persistence?: { id?: string } } | undefined)?.persistence;
    return persistence?.id === id && resource.reservations?.at(-1)?.role === role;
  });
}

function volumeDestroy(outcome: Outcome): Command {
  const command = withConnection(
    new Command('destroy')
      .description('destroy a persistent volume and its data; its disk stays reserved (DESTROY_VOLUMES)')
      .argument('<agent-id>')
      .argument('<volume-id>')
      .requiredOption('--role <role>', 'the role it is reserved for'),
    false,
  );
  return act(command, outcome, async function (agentId: string, id: string) {
    const flags = this.opts<ReserveFlags>();
    const client = operatorClient(flags);
    const agent = (await client.getAgents()).find((a) => a.agent_info.id?.value === agentId);
    const volume = heldVolume(agent?.total_resources ?? [], id, flags.role);
    if (!volume) {
      console.error(`${commandPath(this)}: agent ${agentId} has no volume ${id} for role ${flags.role}`);
      return EXIT.request;
    }
    await client.destroyVolumes(agentId, [volume]);
    print([`volume ${id} destroyed on agent ${agentId}`]);
    return EXIT.ok;
  });
}

export function reservationCommands(outcome: Outcome): Command[] {
  const volume = new Command('volume')
    .alias('volumes')
    .description("persistent volumes on an agent's reserved disk: create, destroy")
    .addCommand(volumeCreate(outcome))
    .addCommand(volumeDestroy(outcome));
  return [reservationVerb(outcome, 'reserve'), reservationVerb(outcome, 'unreserve'), volume];
}
