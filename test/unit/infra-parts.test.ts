/**
 * The pure parts of the AWS deployment: the settings the stack reads from CDK context (and every way
 * they can be wrong), the agents' user data, the demand and scale-in signals, the EventBridge events
 * the fleet accepts, the EMF lines its metrics become, and the drain settings from the environment.
 */
import { SAFE_ACL } from '#shared/acl.js';
import { describe, expect, it, vi } from 'vitest';
import { parseAttributes } from '../../agent/detect.js';
import {
  clusterSettings,
  DEFAULT_AGENT_INSTANCE_TYPES,
  lifecycleWaitSeconds,
  MAX_LIFECYCLE_WAIT_SECONDS,
  SettingsError,
} from '../../infra/settings.js';
import { agentSetupCommands } from '../../infra/user-data.js';
import { parseAgentFlags } from '../../agent/config.js';
import { FleetEventSchema } from '../../functions/fleet/eventbridge.js';
import {
  CounterExporter,
  FLEET_METRICS,
  publishFleetGauges,
  TASK_UPDATE_PREFIX,
} from '../../functions/master/cloudwatch.js';
import { fleetGauges, protectionChanges } from '../../functions/fleet/demand.js';
import { DEFAULT_DRAIN_SETTINGS, drainSettingsFromEnvironment } from '../../functions/fleet/drain.js';
import { INSTANCE_ID_ATTRIBUTE, instanceIdOf } from '../../functions/fleet/instance-id.js';
import { Metrics } from '#shared/metrics.js';
import type { AgentRecord, FrameworkRecord } from '../../functions/registrar/index.js';
import { resources } from '../support/resources.js';

function settings(context: Record<string, unknown>) {
  return clusterSettings((key) => context[key]);
}

describe('cluster settings', () => {
  it('has defaults for everything but can be given each', () => {
    const defaults = settings({});
    expect(defaults).toMatchObject({
      clusterName: 'mantle',
      endpoint: 'api-gateway',
      agentInstanceTypes: DEFAULT_AGENT_INSTANCE_TYPES,
      minAgents: 0,
      maxAgents: 8,
      spot: false,
      deletionProtection: true,
      drainGraceSeconds: DEFAULT_DRAIN_SETTINGS.graceSeconds,
      agentPingTimeoutSeconds: 15,
      maxAgentPingTimeouts: 5,
      filterGpuResources: true,
      agentResources: 'cpus:4;mem:14000;gpus:1',
    });
    expect(defaults.region).toBeUndefined();
    const given = settings({
      cluster: 'ml',
      region: 'eu-west-1',
      endpoint: 'function-url',
      agentInstanceTypes: ['g6.12xlarge'],
      minAgents: 2,
      maxAgents: '40',
      spot: true,
      deletionProtection: 'false',
      availabilityZones: 'eu-west-1a, eu-west-1b',
      drainGraceSeconds: '900',
      filterGpuResources: 'false',
      agentResources: 'cpus:48;mem:190000;gpus:4',
    });
    expect(given).toMatchObject({
      clusterName: 'ml',
      region: 'eu-west-1',
      endpoint: 'function-url',
      agentInstanceTypes: ['g6.12xlarge'],
      minAgents: 2,
      maxAgents: 40,
      spot: true,
      deletionProtection: false,
      availabilityZones: ['eu-west-1a', 'eu-west-1b'],
      drainGraceSeconds: 900,
      filterGpuResources: false,
      agentResources: 'cpus:48;mem:190000;gpus:4',
    });
  });

  it.each([
    [{ cluster: 'Bad_Name' }, /Cluster name/],
    [{ endpoint: 'http-api' }, /endpoint must be/],
    [{ agentInstanceTypes: 'g6.xlarge,not a type' }, /agentInstanceTypes/],
    [{ agentInstanceTypes: ' , ' }, /agentInstanceTypes/],
    [{ minAgents: '-1' }, /minAgents must be an integer/],
    [{ maxAgents: '0' }, /maxAgents must be an integer ≥ 1/],
    [{ maxAgents: '2.5' }, /maxAgents must be an integer/],
    [{ minAgents: 5, maxAgents: 4 }, /exceeds maxAgents/],
    [{ spot: 'yes' }, /spot must be true or false/],
    [{ domainName: 'mesos.example.com' }, /go together/],
    [{ rootVolumeGiB: 8 }, /rootVolumeGiB/],
    [{ drainGraceSeconds: MAX_LIFECYCLE_WAIT_SECONDS }, /must fit in a lifecycle hook/],
    [{ filterGpuResources: 'no' }, /filterGpuResources must be true or false/],
    [{ agentResources: 'cpus:four' }, /agentResources: Invalid agent shape/],
    [{ agentResources: 'ports:[1-2]' }, /agentResources: .*offers nothing/],
  ])('refuses %o', (context, message) => {
    expect(() => settings(context)).toThrow(SettingsError);
    expect(() => settings(context)).toThrow(message);
  });

  it("takes the cluster's ACLs as JSON text, a cdk.json object or permissive, checked at synth", () => {
    expect(settings({}).acls).toBeUndefined();
    expect(settings({ acls: 'permissive' }).acls).toBe('permissive');
    const fromText = settings({ acls: '{"host_paths":["/data/"]}' }).acls as string;
    expect(JSON.parse(fromText)).toEqual({ ...SAFE_ACL, host_paths: ['/data'] });
    expect(settings({ acls: { privileged: true } }).acls).toBe(JSON.stringify({ ...SAFE_ACL, privileged: true }));
    expect(() => settings({ acls: '{"privilegd":true}' })).toThrow(/acls: Invalid ACLs: .*privilegd/);
    expect(() => settings({ acls: 'open' })).toThrow(SettingsError);
  });

  it('keeps the lifecycle hook waiting longer than the grace, the kill grace and the ticks', () => {
    expect(lifecycleWaitSeconds(3600, 60)).toBeGreaterThan(3600 + 60 + 2 * 60);
    expect(settings({ drainGraceSeconds: MAX_LIFECYCLE_WAIT_SECONDS - lifecycleWaitSeconds(0, 60) })).toBeDefined();
  });
});

describe("the agents' user data", () => {
  const commands = agentSetupCommands({
    masterUrl: 'https://abc.execute-api.us-east-1.amazonaws.com/v1/',
    region: 'us-east-1',
    cluster: 'prod',
    bundleUrl: 's3://assets/agent.zip',
    bundleZip: '/opt/mantle/agent.zip',
  });
  const script = commands.join('\n');

  it('gives the agent an instance_id attribute the agent parses and the master reads back', () => {
    const line = /^MANTLE_AGENT_ATTRIBUTES=(.*)$/m.exec(script)?.[1];
    const parsed = parseAttributes((line ?? '').replace('$INSTANCE_ID', 'i-0123456789abcdef0'));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(instanceIdOf({ attributes: parsed.value })).toBe('i-0123456789abcdef0');
    expect(parsed.value[0]?.name).toBe(INSTANCE_ID_ATTRIBUTE);
  });

  it('fails fast, holds no secret, and has the agent prove its instance role (aws_sts) for this cluster', () => {
    expect(commands[0]).toBe('set -euxo pipefail');
    expect(script).toContain('MANTLE_AGENT_MASTER=https://abc.execute-api.us-east-1.amazonaws.com/v1/');
    expect(script).not.toMatch(/MANTLE_AGENT_(SECRET|PRINCIPAL|CREDENTIAL)=|ssm get-parameter/);
    const env = Object.fromEntries([...script.matchAll(/^(MANTLE_AGENT_[A-Z_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
    const flags = parseAgentFlags([], { ...env, MANTLE_AGENT_ATTRIBUTES: 'instance_id:i-0123456789abcdef0' });
    expect(flags.help ? undefined : flags.config).toMatchObject({
      authenticatee: 'aws_sts',
      cluster: 'prod',
      region: 'us-east-1',
    });
    // No task reaches the instance metadata service (tasks must not borrow the role): the agent's firewall,
    // not a uid rule that root tasks would pass.
    expect(script).not.toContain('--uid-owner');
    const line = commands.join('\n').match(/^MANTLE_AGENT_BLOCK_METADATA=.*$/m)?.[0] ?? '';
    const parsed = parseAgentFlags(['--master=http://m'], { MANTLE_AGENT_BLOCK_METADATA: line.split('=')[1] });
    expect(parsed.help ? [] : parsed.config.blockMetadata).toEqual(['169.254.169.254', 'fd00:ec2::254']);
  });

  it('puts the GPU device filter beside the agent, built at boot only when the bundle has none', () => {
    const unzip = commands.findIndex((command) => command.startsWith('unzip '));
    const build = commands.findIndex((command) => command.includes('cc -O2 -o /opt/mantle/agent/mantle-device-filter'));
    const check = commands.findIndex((command) =>
      command.startsWith('if [ -f /opt/mantle/agent/mantle-device-filter ]'),
    );
    expect(unzip).toBeGreaterThan(-1);
    expect(check).toBeGreaterThan(unzip);
    expect(build).toBeGreaterThan(check);
    expect(commands.findIndex((command) => command.includes('systemctl enable --now'))).toBeGreaterThan(build);
  });
});

function agent(overrides: Partial<AgentRecord> & { gpus?: number; taskGpus?: number[] }): AgentRecord {
  const { gpus = 1, taskGpus = [], ...rest } = overrides;
  return {
    agentId: `a-${Math.random()}`,
    hostname: 'h',
    ip: '127.0.0.1',
    port: 5051,
    commandQueueUrl: '',
    containerizers: ['docker'],
    principal: '',
    attributes: [],
    capabilities: [],
    total: resources(`cpus:8;mem:1024;gpus:${gpus}`),
    offers: {},
    tasks: Object.fromEntries(
      taskGpus.map((count, i) => [
        `f/t${i}`,
        {
          frameworkId: 'f',
          taskId: `t${i}`,
          role: '*',
          resources: resources(`cpus:1;mem:64${count > 0 ? `;gpus:${count}` : ''}`),
          launchId: 'l',
          launchedAt: 0,
        },
      ]),
    ),
    executors: {},
    version: 1,
    status: 'ACTIVE',
    deactivated: false,
    registeredAt: 0,
    lastHeartbeat: 0,
    ...rest,
  };
}

function framework(gpus: number, at: number, status: FrameworkRecord['status'] = 'SUBSCRIBED'): FrameworkRecord {
  return {
    frameworkId: `f-${Math.random()}`,
    principal: '',
    roles: ['*'],
    suppressedRoles: [],
    status,
    eventQueueUrl: 'q',
    info: { user: 'u', name: 'n', capabilities: [{ type: 'GPU_RESOURCES' }] },
    // `gpus` tasks of one GPU each.
    requests: { requests: [{ resources: resources('cpus:1;mem:128;gpus:1'), count: gpus }], at },
    version: 1,
    registeredAt: 0,
  } as unknown as FrameworkRecord;
}

describe('the demand signal', () => {
  const now = 10_000_000;

  it('is the agents needed for the tasks active frameworks recently requested beyond what schedulable agents hold', () => {
    const agents = [
      agent({ gpus: 4, taskGpus: [1, 1] }),
      agent({ gpus: 2, taskGpus: [] }),
      agent({ gpus: 8, deactivated: true, drain: { startedAt: 0, deadline: 1 } }),
      agent({ gpus: 8, status: 'UNREACHABLE' }),
      agent({ gpus: 8, status: 'GONE', taskGpus: [1] }),
    ];
    const frameworks = [
      framework(5, now - 60_000),
      framework(3, now),
      framework(100, now - 16 * 60_000),
      framework(100, now, 'INACTIVE'),
    ];
    const gauges = fleetGauges(agents, frameworks, now);
    expect(gauges).toEqual({
      activeAgents: 2,
      drainingAgents: 1,
      unreachableAgents: 1,
      idleAgents: 1,
      requestedTasks: 8,
      requestedGpus: 8,
      freeGpus: 4,
      pendingTasks: 4,
      pendingGpus: 4,
      agentsNeeded: 4,
      unplaceableTasks: 0,
      scaleInCandidates: 0,
      outstandingOffers: 0,
      activeTasks: 2,
    });
  });

  it('offers idle agents for scale-in only while nothing is pending', () => {
    const agents = [agent({ gpus: 1 }), agent({ gpus: 1 }), agent({ gpus: 1, taskGpus: [1] })];
    expect(fleetGauges(agents, [], now)).toMatchObject({ pendingGpus: 0, idleAgents: 2, scaleInCandidates: 2 });
    expect(fleetGauges(agents, [framework(3, now)], now)).toMatchObject({ pendingGpus: 1, scaleInCandidates: 0 });
    expect(fleetGauges([], [framework(2, now)], now)).toMatchObject({ pendingGpus: 2, activeAgents: 0 });
  });

  it('protects the instances whose agents hold tasks or offers, and unprotects the idle ones', () => {
    const on = (instance: string) => [
      { name: INSTANCE_ID_ATTRIBUTE, type: 'TEXT' as const, text: { value: instance } },
    ];
    const offer = { o: { offerId: 'o', agentId: 'x', frameworkId: 'f', role: '*', resources: [], createdAt: 0 } };
    const agents = [
      agent({ attributes: on('i-busy'), taskGpus: [1] }),
      agent({ attributes: on('i-offered'), offers: offer }),
      agent({ attributes: on('i-idle') }),
      agent({ attributes: on('i-settled'), taskGpus: [0] }),
      agent({ attributes: on('i-gone'), status: 'GONE', taskGpus: [1] }),
      agent({ attributes: on('i-elsewhere'), taskGpus: [1] }),
      agent({}),
    ];
    const instances = new Map([
      ['i-busy', false],
      ['i-offered', false],
      ['i-idle', true],
      ['i-settled', true],
      ['i-gone', true],
      ['i-booting', true],
    ]);
    expect(protectionChanges(agents, instances)).toEqual({ protect: ['i-busy', 'i-offered'], unprotect: ['i-idle'] });
  });
});

describe('fleet events', () => {
  it('accepts the lifecycle action, Spot warning and state change EventBridge delivers, and nothing else', () => {
    const lifecycle = {
      'detail-type': 'EC2 Instance-terminate Lifecycle Action',
      source: 'aws.autoscaling',
      detail: {
        AutoScalingGroupName: 'g',
        LifecycleHookName: 'h',
        EC2InstanceId: 'i-1',
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        LifecycleActionToken: 't',
      },
    };
    expect(FleetEventSchema.safeParse(lifecycle).success).toBe(true);
    expect(
      FleetEventSchema.safeParse({
        ...lifecycle,
        detail: { ...lifecycle.detail, LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' },
      }).success,
    ).toBe(false);
    expect(
      FleetEventSchema.safeParse({
        'detail-type': 'EC2 Spot Instance Interruption Warning',
        source: 'aws.ec2',
        detail: { 'instance-id': 'i-1', 'instance-action': 'terminate' },
      }).success,
    ).toBe(true);
    expect(
      FleetEventSchema.safeParse({
        'detail-type': 'EC2 Instance State-change Notification',
        source: 'aws.ec2',
        detail: { 'instance-id': 'i-1', state: 'stopping' },
      }).success,
    ).toBe(true);
    expect(
      FleetEventSchema.safeParse({ 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} }).success,
    ).toBe(false);
  });
});

/** Captures what Powertools writes to stdout (EMF lines). */
function emfLines(work: () => void): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    for (const line of String(chunk).split('\n'))
      if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
    return true;
  });
  try {
    work();
  } finally {
    spy.mockRestore();
  }
  return lines;
}

describe('metrics', () => {
  it('publishes the fleet gauges as one EMF line in the Mantle namespace, with the cluster and service', () => {
    const gauges = fleetGauges([agent({ gpus: 2 })], [framework(5, Date.now())], Date.now());
    const [line] = emfLines(() => publishFleetGauges(gauges, 'prod'));
    expect(line).toMatchObject({
      cluster: 'prod',
      service: 'fleet',
      [FLEET_METRICS.pendingGpus]: 3,
      [FLEET_METRICS.agentsNeeded]: 3,
      [FLEET_METRICS.activeAgents]: 1,
      _aws: { CloudWatchMetrics: [{ Namespace: 'Mantle', Dimensions: [['service', 'cluster']] }] },
    });
    const names = (
      (line?._aws as { CloudWatchMetrics: Array<{ Metrics: Array<{ Name: string }> }> }).CloudWatchMetrics[0]
        ?.Metrics ?? []
    ).map((metric) => metric.Name);
    expect(names.sort()).toEqual(Object.values(FLEET_METRICS).sort());
  });

  it('exports only the growth of the counters it is given, and nothing when nothing grew', () => {
    const registry = new Metrics();
    const exporter = new CounterExporter(registry, TASK_UPDATE_PREFIX, 'status', 'prod');
    registry.increment(`${TASK_UPDATE_PREFIX}TASK_RUNNING`, 3);
    registry.increment(`${TASK_UPDATE_PREFIX}TASK_FINISHED`);
    registry.increment('master/valid_status_updates', 4);
    const [first] = emfLines(() => expect(exporter.flush()).toEqual({ TASK_RUNNING: 3, TASK_FINISHED: 1 }));
    expect(first).toMatchObject({ TASK_RUNNING: 3, TASK_FINISHED: 1, service: 'status', cluster: 'prod' });
    registry.increment(`${TASK_UPDATE_PREFIX}TASK_FINISHED`, 2);
    const [second] = emfLines(() => expect(exporter.flush()).toEqual({ TASK_FINISHED: 2 }));
    expect(second).not.toHaveProperty('TASK_RUNNING');
    expect(emfLines(() => expect(exporter.flush()).toEqual({}))).toEqual([]);
  });
});

describe('drain settings', () => {
  it('come from the environment the stack sets, with defaults, and refuse nonsense', () => {
    expect(drainSettingsFromEnvironment({})).toEqual(DEFAULT_DRAIN_SETTINGS);
    expect(
      drainSettingsFromEnvironment({
        MANTLE_DRAIN_GRACE_SECONDS: '120',
        MANTLE_DRAIN_KILL_GRACE_SECONDS: '10',
        MANTLE_SPOT_KILL_GRACE_SECONDS: '',
      }),
    ).toEqual({
      graceSeconds: 120,
      killGraceSeconds: 10,
      spotKillGraceSeconds: DEFAULT_DRAIN_SETTINGS.spotKillGraceSeconds,
    });
    expect(() => drainSettingsFromEnvironment({ MANTLE_DRAIN_GRACE_SECONDS: 'soon' })).toThrow(
      /MANTLE_DRAIN_GRACE_SECONDS/,
    );
    expect(() => drainSettingsFromEnvironment({ MANTLE_SPOT_KILL_GRACE_SECONDS: '-5' })).toThrow(
      /MANTLE_SPOT_KILL_GRACE_SECONDS/,
    );
  });
});
