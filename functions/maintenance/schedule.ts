/**
 * Maintenance primitives (Mesos `docs/maintenance.md`, `src/master/maintenance.cpp`): the cluster's one
 * schedule of windows, each machine's mode (in the schedule: DRAINING, then DOWN once the operator
 * starts its maintenance; out of it: UP), the inverse offers outstanding and the frameworks' latest
 * answers. Every change here is pure: it takes the record as read and returns the next one, or the
 * error Mesos answers (400). The store (registrar/maintenance.ts) writes it conditioned on the version read.
 */
import type { z } from 'zod';
import type { UnavailabilitySchema } from '#shared/protocol/mesos.js';
import { err, ok, type Result } from '#shared/result.js';

export type Unavailability = z.infer<typeof UnavailabilitySchema>;

export interface MachineId {
  readonly hostname?: string;
  readonly ip?: string;
}

export interface MaintenanceWindow {
  readonly machine_ids: MachineId[];
  readonly unavailability: Unavailability;
}

export type MachineMode = 'DRAINING' | 'DOWN';

/** An inverse offer sent and not yet answered or rescinded. */
export interface InverseOfferRecord {
  readonly frameworkId: string;
  readonly agentId: string;
  readonly machine: string;
  readonly createdAt: number;
}

/** A framework's latest answer for a machine; no new inverse offer for it until `refuseUntil`. */
export interface InverseOfferAnswer {
  readonly status: 'ACCEPT' | 'DECLINE';
  readonly frameworkId: string;
  readonly machine: string;
  readonly at: number;
  readonly refuseUntil: number;
}

export interface MaintenanceRecord {
  readonly windows: MaintenanceWindow[];
  /** Every machine of the schedule, by machineKey. */
  readonly modes: Readonly<Record<string, MachineMode>>;
  readonly inverseOffers: Readonly<Record<string, InverseOfferRecord>>;
  /** By `answerKey(machine, framework)`. */
  readonly answers: Readonly<Record<string, InverseOfferAnswer>>;
  readonly version: number;
}

export const EMPTY_MAINTENANCE: MaintenanceRecord = {
  windows: [],
  modes: {},
  inverseOffers: {},
  answers: {},
  version: 0,
};

/** A change: the next record, and the inverse offers it withdrew (to rescind). */
export interface MaintenanceChange {
  readonly next: MaintenanceRecord;
  readonly withdrawn: Array<{ readonly id: string; readonly offer: InverseOfferRecord }>;
}

/** Mesos compares hostnames without case; a missing field is the empty string. */
export function normalMachine(id: MachineId): MachineId {
  return {
    ...(id.hostname ? { hostname: id.hostname.toLowerCase() } : {}),
    ...(id.ip ? { ip: id.ip } : {}),
  };
}

export function machineKey(id: MachineId): string {
  const normal = normalMachine(id);
  return `${normal.hostname ?? ''}/${normal.ip ?? ''}`;
}

export function machineOfKey(key: string): MachineId {
  const [hostname = '', ip = ''] = key.split('/');
  return normalMachine({ hostname, ip });
}

export const answerKey = (machine: string, frameworkId: string): string => `${machine} ${frameworkId}`;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function machineError(id: MachineId): string | undefined {
  if (!id.hostname && !id.ip) return "Both 'hostname' and 'ip' for a machine are empty";
  if (id.ip && !IPV4.test(id.ip)) return `Failed to parse IP '${id.ip}'`;
  return undefined;
}

const shown = (id: MachineId): string => JSON.stringify(normalMachine(id));

/** A list of machines for START or STOP_MAINTENANCE (Mesos `validation::machines`). */
export function validateMachines(ids: readonly MachineId[]): Result<string[], string> {
  if (ids.length === 0) return err('List of machines is empty');
  const keys: string[] = [];
  for (const id of ids) {
    const error = machineError(id);
    if (error) return err(error);
    const key = machineKey(id);
    if (keys.includes(key)) return err(`Machine '${shown(id)}' appears more than once in the schedule`);
    keys.push(key);
  }
  return ok(keys);
}

/** Mesos `validation::schedule`: windows with machines, durations not negative, each machine once, DOWN kept. */
function validateSchedule(current: MaintenanceRecord, windows: readonly MaintenanceWindow[]): Result<string[], string> {
  const keys: string[] = [];
  for (const window of windows) {
    if (window.machine_ids.length === 0) return err('List of machines in the maintenance window is empty');
    if ((window.unavailability.duration?.nanoseconds ?? 0) < 0) return err("Unavailability 'duration' is negative");
    for (const id of window.machine_ids) {
      const error = machineError(id);
      if (error) return err(error);
      const key = machineKey(id);
      if (keys.includes(key)) return err(`Machine '${shown(id)}' appears more than once in the schedule`);
      keys.push(key);
    }
  }
  for (const [key, mode] of Object.entries(current.modes)) {
    if (mode === 'DOWN' && !keys.includes(key)) {
      return err(`Machine '${shown(machineOfKey(key))}' is deactivated and cannot be removed from the schedule`);
    }
  }
  return ok(keys);
}

/** Drops what concerns machines no longer in `modes` or now DOWN: their inverse offers and answers. */
function forget(record: MaintenanceRecord, keep: (machine: string) => boolean): MaintenanceChange {
  const withdrawn = Object.entries(record.inverseOffers)
    .filter(([, offer]) => !keep(offer.machine))
    .map(([id, offer]) => ({ id, offer }));
  const inverseOffers = Object.fromEntries(Object.entries(record.inverseOffers).filter(([, o]) => keep(o.machine)));
  const answers = Object.fromEntries(Object.entries(record.answers).filter(([, a]) => keep(a.machine)));
  return { next: { ...record, inverseOffers, answers }, withdrawn };
}

/** UPDATE_MAINTENANCE_SCHEDULE: new machines are DRAINING, DOWN ones stay DOWN, machines left out are UP. */
export function updateSchedule(
  current: MaintenanceRecord,
  windows: readonly MaintenanceWindow[],
): Result<MaintenanceChange, string> {
  const valid = validateSchedule(current, windows);
  if (!valid.ok) return valid;
  const modes = Object.fromEntries(valid.value.map((key) => [key, current.modes[key] ?? ('DRAINING' as const)]));
  const normal = windows.map((window) => ({
    machine_ids: window.machine_ids.map(normalMachine),
    unavailability: window.unavailability,
  }));
  return ok(forget({ ...current, windows: normal, modes }, (machine) => modes[machine] === 'DRAINING'));
}

/** START_MAINTENANCE: DRAINING machines of the schedule go DOWN. */
export function startMaintenance(
  current: MaintenanceRecord,
  ids: readonly MachineId[],
): Result<MaintenanceChange, string> {
  const valid = validateMachines(ids);
  if (!valid.ok) return valid;
  for (const key of valid.value) {
    const mode = current.modes[key];
    const id = shown(machineOfKey(key));
    if (mode === undefined) return err(`Machine '${id}' is not part of a maintenance schedule`);
    if (mode !== 'DRAINING') return err(`Machine '${id}' is not in DRAINING mode and cannot be brought down`);
  }
  const modes = { ...current.modes, ...Object.fromEntries(valid.value.map((key) => [key, 'DOWN' as const])) };
  return ok(forget({ ...current, modes }, (machine) => modes[machine] === 'DRAINING'));
}

/** STOP_MAINTENANCE: DOWN machines come UP, leaving the schedule (empty windows go). */
export function stopMaintenance(
  current: MaintenanceRecord,
  ids: readonly MachineId[],
): Result<MaintenanceChange, string> {
  const valid = validateMachines(ids);
  if (!valid.ok) return valid;
  for (const key of valid.value) {
    const id = shown(machineOfKey(key));
    if (current.modes[key] === undefined) return err(`Machine '${id}' is not part of a maintenance schedule`);
    if (current.modes[key] !== 'DOWN') return err(`Machine '${id}' is not in DOWN mode and cannot be brought up`);
  }
  const up = new Set(valid.value);
  const modes = Object.fromEntries(Object.entries(current.modes).filter(([key]) => !up.has(key)));
  const windows = current.windows
    .map((window) => ({ ...window, machine_ids: window.machine_ids.filter((id) => !up.has(machineKey(id))) }))
    .filter((window) => window.machine_ids.length > 0);
  return ok(forget({ ...current, windows, modes }, (machine) => modes[machine] === 'DRAINING'));
}

/**
 * The machine an agent runs on, if the schedule names it. Mesos matches hostname and IP both; Mantle
 * lets a machine id that gives only one of them match on that one (docs/operator.md, "Maintenance").
 * When several match, DOWN wins.
 */
export function machineOfAgent(
  record: MaintenanceRecord,
  agent: { readonly hostname: string; readonly ip: string },
): { key: string; mode: MachineMode; unavailability: Unavailability } | undefined {
  const hostname = agent.hostname.toLowerCase();
  let found: { key: string; mode: MachineMode; unavailability: Unavailability } | undefined;
  for (const window of record.windows) {
    for (const id of window.machine_ids) {
      if (id.hostname && id.hostname !== hostname) continue;
      if (id.ip && id.ip !== agent.ip) continue;
      const key = machineKey(id);
      const mode = record.modes[key];
      if (mode && (!found || mode === 'DOWN')) found = { key, mode, unavailability: window.unavailability };
    }
  }
  return found;
}

/** Mesos `maintenance::ClusterStatus` for GET_MAINTENANCE_STATUS. */
export function clusterStatus(record: MaintenanceRecord): {
  draining_machines: Array<{ id: MachineId; statuses: unknown[] }>;
  down_machines: MachineId[];
} {
  const entries = Object.entries(record.modes);
  const status = (value: string, frameworkId: string, at: number): unknown => ({
    status: value,
    framework_id: { value: frameworkId },
    timestamp: { nanoseconds: at * 1_000_000 },
  });
  // The latest answer of each framework; a framework asked and yet to answer is UNKNOWN.
  const statusesOf = (machine: string): unknown[] => {
    const answers = Object.values(record.answers).filter((answer) => answer.machine === machine);
    const answered = new Set(answers.map((answer) => answer.frameworkId));
    const asked = Object.values(record.inverseOffers).filter(
      (offer) => offer.machine === machine && !answered.has(offer.frameworkId),
    );
    const unknown = [...new Map(asked.map((offer) => [offer.frameworkId, offer])).values()];
    return [
      ...answers.map((answer) => status(answer.status, answer.frameworkId, answer.at)),
      ...unknown.map((offer) => status('UNKNOWN', offer.frameworkId, offer.createdAt)),
    ];
  };
  return {
    draining_machines: entries
      .filter(([, mode]) => mode === 'DRAINING')
      .map(([key]) => ({ id: machineOfKey(key), statuses: statusesOf(key) })),
    down_machines: entries.filter(([, mode]) => mode === 'DOWN').map(([key]) => machineOfKey(key)),
  };
}
