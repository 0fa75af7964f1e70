/**
 * The GPU fleet against a local cluster, with AWS's parts stood in: the fleet tick runs as its schedule
 * would (functions/fleet/tick.ts, with the Auto Scaling stub of test/contract/infra-aws-stub.ts), and
 * `StandInGroup` does what the deployed group does with the tick's metrics (infra/agents.ts): on
 * AgentsNeeded it launches instances by the same step adjustments, counting the ones still warming up
 * (launched, agent not registered) against them, and each instance boots an agent with fake GPUs; on
 * scale-in it takes an unprotected instance through the termination lifecycle hook (the master drains
 * it and completes the action) and then terminates it: the agent stops with its instance, then EC2's
 * state-change event arrives.
 */
import { randomBytes } from 'node:crypto';
import type { RunningAgent } from '../../agent/agent.js';
import { AgentAutoScalingGroup } from '../../functions/fleet/autoscaling.js';
import { scaleOutAdjustment, type DemandSettings, type FleetGauges } from '../../functions/fleet/demand.js';
import { DEFAULT_DRAIN_SETTINGS } from '../../functions/fleet/drain.js';
import { handleFleetEvent } from '../../functions/fleet/fleet-events.js';
import { INSTANCE_ID_ATTRIBUTE } from '../../functions/fleet/instance-id.js';
import { fleetTick, type FleetTickReport } from '../../functions/fleet/tick.js';
import type { LocalCluster } from '../../local/cluster.js';
import { lifecycleEvent, stateChangeEvent } from '../contract/infra-agents.js';
import { startAwsStub, type AwsStub } from '../contract/infra-aws-stub.js';
import { startGpuAgent } from './gpu-agent.js';

const GROUP = 'mantle-e2e-agents';
const HOOK = 'mantle-drain';

export interface StandInGroupOptions {
  readonly maxAgents: number;
  /** What each instance's agent offers: GPUs, and the rest as resource text (see startGpuAgent). */
  readonly gpusPerAgent: number;
  readonly agentResources: string;
  readonly demand: DemandSettings;
}

export class StandInGroup {
  /** Instances in service, by id, and their agents. */
  readonly instances = new Map<string, RunningAgent>();
  readonly launched: string[] = [];
  readonly terminated: string[] = [];
  readonly published: FleetGauges[] = [];

  private constructor(
    private readonly cluster: LocalCluster,
    readonly stub: AwsStub,
    private readonly group: AgentAutoScalingGroup,
    private readonly options: StandInGroupOptions,
  ) {}

  static async start(cluster: LocalCluster, options: StandInGroupOptions): Promise<StandInGroup> {
    const stub = await startAwsStub({ name: GROUP, hook: HOOK });
    return new StandInGroup(cluster, stub, new AgentAutoScalingGroup(GROUP, HOOK, stub.autoScaling()), options);
  }

  /** One fleet tick, as the schedule runs it, then the group's answer to its scale-out signal. */
  async tick(): Promise<FleetTickReport> {
    const report = await fleetTick(
      this.cluster.master,
      this.group,
      DEFAULT_DRAIN_SETTINGS,
      (gauges) => this.published.push(gauges),
      this.options.demand,
    );
    const room = this.options.maxAgents - this.instances.size;
    const launch = Math.min(room, scaleOutAdjustment(report.gauges.agentsNeeded));
    await Promise.all(Array.from({ length: launch }, () => this.launch()));
    return report;
  }

  /** An instance boots and its agent registers (the user data's work). */
  private async launch(): Promise<void> {
    const instance = `i-${randomBytes(8).toString('hex')}`;
    this.launched.push(instance);
    const agent = await startGpuAgent(this.cluster, {
      gpus: this.options.gpusPerAgent,
      resources: this.options.agentResources,
      attributes: `${INSTANCE_ID_ATTRIBUTE}:${instance}`,
      hostname: `ip-${instance.slice(2, 8)}.ec2.internal`,
    });
    this.instances.set(instance, agent);
    this.stub.inService.set(instance, false);
  }

  /**
   * The group's scale-in: an unprotected instance goes through the termination lifecycle hook (the
   * master drains its agent, and completes the action once the agent holds no task), then terminates.
   * Returns the instance, or undefined when every instance is protected.
   */
  async scaleIn(): Promise<string | undefined> {
    const instance = [...this.stub.inService].find(([, isProtected]) => !isProtected)?.[0];
    if (instance === undefined) return undefined;
    this.stub.inService.delete(instance);
    this.stub.waiting.add(instance);
    const master = this.cluster.master;
    await handleFleetEvent(master, this.group, DEFAULT_DRAIN_SETTINGS, lifecycleEvent(GROUP, HOOK, instance));
    if (this.stub.waiting.has(instance)) throw new Error(`the drain of ${instance} did not complete at once`);
    // The agent stops first, with its instance. Still alive (and off EC2, as here), it would meet its queue deleted by
    // the event and register as a new agent.
    await this.instances.get(instance)?.shutdown(2000);
    await handleFleetEvent(master, this.group, DEFAULT_DRAIN_SETTINGS, stateChangeEvent(instance, 'shutting-down'));
    this.instances.delete(instance);
    this.terminated.push(instance);
    return instance;
  }

  async stop(): Promise<void> {
    for (const agent of this.instances.values()) await agent.shutdown(2000).catch(() => undefined);
    this.instances.clear();
    await this.stub.close();
  }
}
