/**
 * Which offers the apps' new tasks go to (pure): first fit in the order given, in the app's role, each task's
 * scalars (cpus, mem, disk, gpus) and host ports taken out of its offer (the offer's allocation and
 * reservations kept, as Mesos expects), and the app's constraints met against its other tasks and those
 * placed in the same round.
 *
 * Ports: a task gets one host port per port definition (per port mapping with a `hostPort`, on a bridge
 * network): the definition's own port with `requirePorts` (or a mapping's non-zero `hostPort`), otherwise
 * the lowest free port of the offer's `ports` ranges.
 */
import type { Resource } from '#shared/protocol/mesos.js';
import { add, quantities, subtract, takeScalars, type Quantities } from '#shared/resources/resources.js';
import { reservationRole } from '#shared/resources/resource.js';
import { subtractScalars } from '#shared/resources/values.js';
import { meetsAll, type Place } from './constraints.js';
import { portMappings, usesBridge, type App } from './model.js';

export interface Offer extends Place {
  readonly id: string;
  readonly agentId: string;
  /** The role it was offered to. */
  readonly role: string;
  readonly resources: readonly Resource[];
}

export interface Need {
  readonly app: App;
  readonly count: number;
  /** Where the app's active tasks are (for constraints). */
  readonly placed: readonly Place[];
}

export interface Launch {
  readonly appId: string;
  readonly offer: Offer;
  readonly resources: Resource[];
  readonly ports: number[];
}

/** The scalars one task of the app takes. */
export function taskScalars(app: App): Quantities {
  const need: Quantities = { cpus: app.cpus, mem: app.mem };
  if (app.disk > 0) need.disk = app.disk;
  if (app.gpus > 0) need.gpus = app.gpus;
  return need;
}

/** The host ports a task asks for: a fixed port, or 0 for any. */
export function requestedPorts(app: App): number[] {
  if (usesBridge(app)) {
    return (portMappings(app) ?? []).filter((m) => m.hostPort !== undefined).map((m) => m.hostPort ?? 0);
  }
  return app.portDefinitions.map((definition) => (app.requirePorts ? definition.port : 0));
}

function freePorts(resources: readonly Resource[]): number[] {
  const ports: number[] = [];
  for (const resource of resources) {
    if (resource.name !== 'ports' || resource.type !== 'RANGES') continue;
    for (const range of resource.ranges?.range ?? []) {
      for (let port = range.begin; port <= range.end && ports.length < 65_536; port++) ports.push(port);
    }
  }
  return ports.sort((a, b) => a - b);
}

/** The ports resources for these ports, each from the offer entry that holds it. */
function takePorts(resources: readonly Resource[], ports: readonly number[]): Resource[] {
  const taken: Resource[] = [];
  for (const port of ports) {
    const entry = resources.find(
      (r) => r.name === 'ports' && (r.ranges?.range ?? []).some((range) => range.begin <= port && port <= range.end),
    );
    if (entry) taken.push({ ...entry, ranges: { range: [{ begin: port, end: port }] } });
  }
  return add([], taken);
}

function choosePorts(app: App, resources: readonly Resource[]): number[] | undefined {
  const free = freePorts(resources);
  const chosen: number[] = [];
  for (const wanted of requestedPorts(app)) {
    const port = wanted === 0 ? free.find((p) => !chosen.includes(p)) : free.includes(wanted) ? wanted : undefined;
    if (port === undefined || chosen.includes(port)) return undefined;
    chosen.push(port);
  }
  return chosen;
}

function fits(available: Quantities, need: Quantities): boolean {
  return Object.entries(need).every(([name, value]) => subtractScalars(available[name] ?? 0, value) >= 0);
}

/** The offer's resources this app may use: its role's, and of those the `acceptedResourceRoles`. */
function usable(app: App, offer: Offer): Resource[] {
  if (offer.role !== app.role) return [];
  const accepted = app.acceptedResourceRoles;
  return offer.resources.filter((r) => accepted === undefined || accepted.includes(reservationRole(r)));
}

/** One task of `need.app` on the first offer that holds it, or undefined. */
function placeOne(need: Need, offers: Offer[], placed: Place[]): Launch | undefined {
  const scalars = taskScalars(need.app);
  for (const [index, offer] of offers.entries()) {
    const resources = usable(need.app, offer);
    if (!fits(quantities(resources), scalars) || !meetsAll(need.app, offer, placed)) continue;
    const ports = choosePorts(need.app, resources);
    if (ports === undefined) continue;
    const taken = [...takeScalars(resources, scalars), ...takePorts(resources, ports)];
    offers[index] = { ...offer, resources: subtract(offer.resources, taken) };
    return { appId: need.app.id, offer, resources: taken, ports };
  }
  return undefined;
}

/** The launches the offers hold for the apps' needs, in order; what does not fit waits for other offers. */
export function place(needs: readonly Need[], offers: readonly Offer[]): Launch[] {
  const left = [...offers];
  const launches: Launch[] = [];
  for (const need of needs) {
    const placed: Place[] = [...need.placed];
    for (let i = 0; i < need.count; i++) {
      const launch = placeOne(need, left, placed);
      if (launch === undefined) break;
      launches.push(launch);
      placed.push(launch.offer);
    }
  }
  return launches;
}
