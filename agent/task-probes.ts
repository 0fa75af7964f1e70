/**
 * A running task's health check and check (Mesos's built-in executors run both): each probe built
 * against the task's container — COMMAND through the containerizer (in the container), HTTP and TCP at
 * the address the containerizer gives, or inside a pod's network namespace (netns-probes.ts); on a
 * network the agent cannot reach otherwise, that probe does not run, and a warning says so. The executor turns their events into status updates.
 */
import type { Logger } from '#shared/log.js';
import type { CheckInfo, CommandInfo, TaskInfo } from '#shared/protocol/mesos.js';
import { Checker, emptyCheckStatus, type CheckStatusInfo, type CheckType } from './checker.js';
import type { Container } from './containerizer/containerizer.js';
import { HealthChecker, healthCheckPolicy, type HealthEvent, type Probe } from './health-checker.js';
import { commandProbe, httpProbe, tcpProbe } from './health-probes.js';
import type { Lifecycle } from './lifecycle.js';
import { netnsHttpProbe, netnsTcpProbe } from './netns-probes.js';

type ProbeTarget =
  | { readonly type: 'COMMAND'; readonly command: CommandInfo }
  | { readonly type: 'HTTP'; readonly http: { port: number; path?: string; scheme?: string } }
  | { readonly type: 'TCP'; readonly port: number };

/** The probe for a target in this container; undefined when the agent has no address to reach it at. */
function containerProbe(container: Container, target: ProbeTarget): Probe | undefined {
  if (target.type === 'COMMAND') return commandProbe((signal) => container.exec(target.command, signal));
  const netns = container.checkNetns;
  if (netns !== undefined) {
    return target.type === 'HTTP' ? netnsHttpProbe(netns, target.http) : netnsTcpProbe(netns, target.port);
  }
  const host = container.checkHost;
  if (host === undefined) return undefined;
  return target.type === 'HTTP' ? httpProbe(host, target.http) : tcpProbe(host, target.port);
}

function checkType(check: CheckInfo | undefined): CheckType | undefined {
  const type = check?.type;
  return type === 'COMMAND' || type === 'HTTP' || type === 'TCP' ? type : undefined;
}

/** The check_status of a task's updates before its first check result; undefined without a check. */
export function initialCheckStatus(task: TaskInfo): CheckStatusInfo | undefined {
  const type = checkType(task.check);
  return type ? emptyCheckStatus(type) : undefined;
}

export interface TaskProbeEvents {
  health(event: HealthEvent): void;
  check(status: CheckStatusInfo, message: string): void;
}

export class TaskProbes {
  private health: HealthChecker | undefined;
  private checker: Checker | undefined;

  constructor(
    private readonly task: TaskInfo,
    private readonly container: Container,
    private readonly events: TaskProbeEvents,
    private readonly life: Lifecycle,
    private readonly logger: Logger,
  ) {}

  /** The last check result (the empty one before the first); undefined without a check. */
  get checkStatus(): CheckStatusInfo | undefined {
    return this.checker?.status ?? initialCheckStatus(this.task);
  }

  start(): void {
    const health = this.task.health_check;
    const healthTarget = health ? this.target(health.type, health.command, health.http, health.tcp?.port) : undefined;
    if (health && healthTarget) {
      const probe = this.probe(healthTarget, 'health check');
      if (probe) {
        this.health = new HealthChecker(healthCheckPolicy(health), probe, (e) => this.events.health(e), this.life);
        this.health.start();
      }
    }
    const check = this.task.check;
    const type = checkType(check);
    const checkTarget =
      check && type ? this.target(type, check.command?.command, check.http, check.tcp?.port) : undefined;
    if (check && type && checkTarget) {
      const probe = this.probe(checkTarget, 'check');
      if (probe) {
        this.checker = new Checker({ ...check, type }, probe, (s, m) => this.events.check(s, m), this.life);
        this.checker.start();
      }
    }
  }

  stop(): void {
    this.health?.stop();
    this.checker?.stop();
  }

  private target(
    type: string | undefined,
    command: CommandInfo | undefined,
    http: { port: number; path?: string; scheme?: string } | undefined,
    port: number | undefined,
  ): ProbeTarget | undefined {
    if (type === 'COMMAND') return { type, command: command ?? {} };
    if (type === 'HTTP') return { type, http: http ?? { port: 0 } };
    if (type === 'TCP') return { type, port: port ?? 0 };
    return undefined;
  }

  private probe(target: ProbeTarget, what: string): Probe | undefined {
    const probe = containerProbe(this.container, target);
    if (!probe) {
      this.logger.warn(`No address to reach the task at; its ${what} does not run`, {
        taskId: this.task.task_id.value,
      });
    }
    return probe;
  }
}
