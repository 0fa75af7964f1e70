/**
 * `mantle maintenance schedule|start|stop|status`: Mesos's maintenance primitives through the operator API
 * (docs/maintenance.md in Mesos). A schedule is windows of machines and their unavailability; scheduled machines
 * are DRAINING (frameworks get inverse offers), `start` takes them DOWN, `stop` brings them back UP. A machine is
 * named `hostname`, `hostname=ip`, or an IP address.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Command } from 'commander';
import type { MachineID, MaintenanceSchedule, MaintenanceStatus, MaintenanceWindow } from '../sdk/operator-types.js';
import {
  act,
  EXIT,
  operatorClient,
  print,
  printJson,
  withConnection,
  type ConnectionFlags,
  type Outcome,
} from './command.js';
import { table } from './job-format.js';
import { UsageError } from './jobs-client.js';
import { timeText } from './operator-format.js';

export function parseMachine(text: string): MachineID {
  const [host, ip, ...rest] = text.trim().split('=');
  if (!host || rest.length > 0 || (ip !== undefined && isIP(ip) === 0)) {
    throw new UsageError(`'${text}' is not a machine: hostname, hostname=ip, or an IP address`);
  }
  if (ip !== undefined) return { hostname: host, ip };
  return isIP(host) !== 0 ? { ip: host } : { hostname: host };
}

export function machineText(machine: MachineID): string {
  if (machine.hostname && machine.ip) return `${machine.hostname}=${machine.ip}`;
  return machine.hostname ?? machine.ip ?? '?';
}

const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90s`, `30m`, `2h`, `1d` or plain seconds → seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim());
  const seconds = Number(match?.[1]) * (UNITS[match?.[2] || 's'] ?? 1);
  if (!match || !Number.isFinite(seconds) || seconds <= 0) {
    throw new UsageError(`--duration: '${text}' is not a duration such as 90s, 30m, 2h or 1d`);
  }
  return seconds;
}

/** `now`, `+30m` (from now), or an ISO 8601 time → milliseconds since the epoch. */
export function parseStart(text: string, now = Date.now()): number {
  if (text === 'now') return now;
  if (text.startsWith('+')) return now + parseDuration(text.slice(1)) * 1000;
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw new UsageError(`--start: '${text}' is not now, +<duration> or an ISO 8601 time`);
  return ms;
}

export function scheduleTable(schedule: MaintenanceSchedule): string[] {
  const windows = schedule.windows ?? [];
  if (windows.length === 0) return ['no maintenance scheduled'];
  return table(
    ['WINDOW', 'MACHINES', 'START', 'DURATION'],
    windows.map((window, i) => {
      const duration = window.unavailability.duration?.nanoseconds;
      return [
        String(i + 1),
        window.machine_ids.map(machineText).join(','),
        timeText(window.unavailability.start),
        duration === undefined ? 'open-ended' : `${Math.round(duration / 1e9)}s`,
      ];
    }),
  );
}

export function statusTable(status: MaintenanceStatus): string[] {
  const rows = [
    ...(status.draining_machines ?? []).map((machine) => [
      machineText(machine.id),
      'DRAINING',
      (machine.statuses ?? []).map((answer) => `${answer.framework_id.value}:${answer.status}`).join(',') || '-',
    ]),
    ...(status.down_machines ?? []).map((machine) => [machineText(machine), 'DOWN', '-']),
  ];
  if (rows.length === 0) return ['every machine is up'];
  return table(['MACHINE', 'MODE', 'INVERSE OFFERS'], rows);
}

interface ScheduleFlags extends ConnectionFlags {
  readonly file?: string;
  readonly machines?: string;
  readonly start?: string;
  readonly duration?: string;
  readonly clear?: boolean;
}

function readScheduleFile(path: string): MaintenanceSchedule {
  try {
    const text = readFileSync(path === '-' ? 0 : path, 'utf8');
    const parsed = JSON.parse(text) as { schedule?: MaintenanceSchedule } & MaintenanceSchedule;
    return parsed.schedule ?? parsed;
  } catch (error) {
    throw new UsageError(`--file ${path}: ${(error as Error).message}`);
  }
}

/** The schedule the flags ask for, given the current one; undefined when they only ask to see it. */
export function wantedSchedule(
  flags: ScheduleFlags,
  current: () => Promise<MaintenanceSchedule>,
): Promise<MaintenanceSchedule> | undefined {
  const chosen = [flags.file !== undefined, flags.machines !== undefined, flags.clear === true].filter(Boolean);
  if (chosen.length > 1) throw new UsageError('give one of --file, --machines, --clear');
  if (flags.clear) return Promise.resolve({ windows: [] });
  if (flags.file !== undefined) return Promise.resolve(readScheduleFile(flags.file));
  if (flags.machines === undefined) {
    if (flags.start !== undefined || flags.duration !== undefined)
      throw new UsageError('--start and --duration need --machines');
    return undefined;
  }
  const window: MaintenanceWindow = {
    machine_ids: flags.machines.split(',').map(parseMachine),
    unavailability: {
      start: { nanoseconds: parseStart(flags.start ?? 'now') * 1e6 },
      ...(flags.duration !== undefined ? { duration: { nanoseconds: parseDuration(flags.duration) * 1e9 } } : {}),
    },
  };
  return current().then((schedule) => ({ windows: [...(schedule.windows ?? []), window] }));
}

function schedule(outcome: Outcome): Command {
  const command = withConnection(
    new Command('schedule')
      .description('show the schedule; or add a window (--machines), replace it (--file) or empty it (--clear)')
      .option('--machines <m1,m2>', 'add a window for these machines: hostname, hostname=ip or ip')
      .option('--start <when>', 'when the window starts: now (default), +2h, or an ISO 8601 time')
      .option('--duration <d>', 'how long the machines are away: 90s, 30m, 2h, 1d (default open-ended)')
      .option('--file <schedule.json|->', "replace the schedule with this one (Mesos's Schedule JSON)")
      .option('--clear', 'remove every window'),
  );
  return act(command, outcome, async function () {
    const flags = this.opts<ScheduleFlags>();
    const client = operatorClient(flags);
    const wanted = wantedSchedule(flags, () => client.getMaintenanceSchedule());
    if (wanted !== undefined) await client.updateMaintenanceSchedule(await wanted);
    const now = await client.getMaintenanceSchedule();
    if (flags.json) printJson({ schedule: now });
    else print(scheduleTable(now));
    return EXIT.ok;
  });
}

function machinesVerb(outcome: Outcome, name: 'start' | 'stop', description: string): Command {
  const command = withConnection(
    new Command(name).description(description).argument('<machine...>', 'hostname, hostname=ip, or ip'),
    false,
  );
  return act(command, outcome, async function (words: string[]) {
    const machines = words.map(parseMachine);
    const client = operatorClient(this.opts<ConnectionFlags>());
    if (name === 'start') await client.startMaintenance(machines);
    else await client.stopMaintenance(machines);
    print([`${machines.map(machineText).join(', ')}: ${name === 'start' ? 'DOWN' : 'UP'}`]);
    return EXIT.ok;
  });
}

function status(outcome: Outcome): Command {
  const command = withConnection(
    new Command('status').description("machines DRAINING and DOWN, and frameworks' answers"),
  );
  return act(command, outcome, async function () {
    const flags = this.opts<ConnectionFlags>();
    const answer = await operatorClient(flags).getMaintenanceStatus();
    if (flags.json) printJson({ status: answer });
    else print(statusTable(answer));
    return EXIT.ok;
  });
}

export function maintenanceCommand(outcome: Outcome): Command {
  return new Command('maintenance')
    .description('maintenance windows: schedule, start (machines DOWN), stop (machines UP), status')
    .addCommand(schedule(outcome))
    .addCommand(machinesVerb(outcome, 'start', 'take scheduled machines DOWN: their agents are shut down'))
    .addCommand(machinesVerb(outcome, 'stop', 'bring machines back UP and out of the schedule'))
    .addCommand(status(outcome));
}
