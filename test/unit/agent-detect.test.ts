import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  agentResources,
  detectedResources,
  ec2Attributes,
  firstExternalIpv4,
  mergeAttributes,
  parseAttributes,
  requestedGpus,
} from '../../agent/detect.js';
import { ec2Placement, instanceLeaving } from '../../agent/ec2-metadata.js';
import type { NetworkInterfaceInfo } from 'node:os';
import { describeResource } from '#shared/resources/parse.js';

const GB = 1024 ** 3;

describe('what the agent offers', () => {
  it('keeps memory and disk for the system, as Mesos does', () => {
    const big = detectedResources({ cpus: 16, memoryBytes: 64 * GB, diskBytes: 500 * GB }, 4).map(describeResource);
    expect(big).toEqual(['cpus:16', `mem:${63 * 1024}`, `disk:${495 * 1024}`, 'ports:[31000-32000]', 'gpus:4']);
    const small = detectedResources({ cpus: 1, memoryBytes: 1 * GB, diskBytes: 8 * GB }, 0).map(describeResource);
    expect(small).toEqual(['cpus:1', 'mem:512', `disk:${4 * 1024}`, 'ports:[31000-32000]']);
  });

  it('completes --resources with what it does not name, whatever the role', () => {
    const detected = detectedResources({ cpus: 8, memoryBytes: 32 * GB, diskBytes: 100 * GB }, 1);
    const result = agentResources('cpus(ml):2;mem:4096;ports:[8000-8100]', '*', detected);
    expect(result.ok && result.value.map(describeResource).sort()).toEqual(
      ['cpus(ml):2', 'mem:4096', `disk:${95 * 1024}`, 'ports:[8000-8100]', 'gpus:1'].sort(),
    );
    const all = agentResources(undefined, '*', detected);
    expect(all.ok && all.value).toHaveLength(5);
  });

  it('refuses bad --resources and an agent with nothing to offer', () => {
    expect(agentResources('cpus:-1', '*', [])).toMatchObject({ ok: false, error: /--resources/ });
    expect(agentResources('cpus:1', '*', [])).toMatchObject({ ok: false, error: /cpus and mem/ });
  });

  it('advertises the first external IPv4 address', () => {
    const entry = (address: string, family: 'IPv4' | 'IPv6', internal: boolean) =>
      ({ address, family, internal, netmask: '', mac: '', cidr: null, scopeid: 0 }) as NetworkInterfaceInfo;
    expect(
      firstExternalIpv4({
        lo: [entry('127.0.0.1', 'IPv4', true)],
        eth1: [entry('fe80::1', 'IPv6', false), entry('10.0.0.7', 'IPv4', false)],
        eth0: [entry('10.0.0.5', 'IPv4', false)],
      }),
    ).toBe('10.0.0.5');
    expect(firstExternalIpv4({ lo: [entry('127.0.0.1', 'IPv4', true)] })).toBeUndefined();
  });

  it('reads the GPU count --resources asks for', () => {
    expect(requestedGpus('cpus:1;gpus:2;gpus(ml):1', '*')).toBe(3);
    expect(requestedGpus('cpus:1', '*')).toBeUndefined();
    expect(requestedGpus(undefined, '*')).toBeUndefined();
  });

  it('parses attributes as Mesos does, and lets the operator override detected ones', () => {
    const parsed = parseAttributes('rack:a1;level:10;keys:[1000-1500];tags:{x,y};zone:us-east-1b');
    expect(parsed.ok && parsed.value).toEqual([
      { name: 'rack', type: 'TEXT', text: { value: 'a1' } },
      { name: 'level', type: 'SCALAR', scalar: { value: 10 } },
      { name: 'keys', type: 'RANGES', ranges: { range: [{ begin: 1000, end: 1500 }] } },
      { name: 'tags', type: 'SET', set: { item: ['x', 'y'] } },
      { name: 'zone', type: 'TEXT', text: { value: 'us-east-1b' } },
    ]);
    expect(parseAttributes('nocolon')).toMatchObject({ ok: false });
    expect(parseAttributes('a:')).toMatchObject({ ok: false });
    expect(parseAttributes('r:[1-x]')).toMatchObject({ ok: false });
    const detected = ec2Attributes({ instanceType: 'p5.48xlarge', zone: 'us-east-1a', region: 'us-east-1' });
    expect(detected.domain).toEqual({ fault_domain: { region: { name: 'us-east-1' }, zone: { name: 'us-east-1a' } } });
    const merged = mergeAttributes(detected.attributes, parsed.ok ? parsed.value : []);
    expect(merged.filter((a) => a.name === 'zone')).toEqual([
      { name: 'zone', type: 'TEXT', text: { value: 'us-east-1b' } },
    ]);
    expect(merged.find((a) => a.name === 'instance_type')?.text?.value).toBe('p5.48xlarge');
  });
});

describe('EC2 instance metadata (IMDSv2, against a loopback stand-in)', () => {
  let url = '';
  let mode: 'ok' | 'v1-only' | 'silent' = 'ok';
  /** Auto Scaling's and Spot's items, absent (404) when undefined. */
  let lifecycle: string | undefined;
  let spotAction: string | undefined;
  const requests: string[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    requests.push(`${request.method} ${request.url}`);
    if (mode === 'silent') return; // never answers
    if (request.method === 'PUT' && request.url === '/latest/api/token') {
      if (mode === 'v1-only') return void response.writeHead(403).end();
      return void response.writeHead(200).end('token-1');
    }
    if (request.headers['x-aws-ec2-metadata-token'] !== 'token-1') return void response.writeHead(401).end();
    const answers: Record<string, string> = {
      '/latest/meta-data/instance-type': 'g5.12xlarge',
      '/latest/meta-data/placement/availability-zone': 'eu-west-1c',
      '/latest/meta-data/placement/region': 'eu-west-1',
      '/latest/meta-data/local-ipv4': '10.1.2.3',
      ...(lifecycle !== undefined ? { '/latest/meta-data/autoscaling/target-lifecycle-state': lifecycle } : {}),
      ...(spotAction !== undefined ? { '/latest/meta-data/spot/instance-action': spotAction } : {}),
    };
    const answer = answers[request.url ?? ''];
    response.writeHead(answer ? 200 : 404).end(answer ?? '');
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('reads instance type, zone and region with a session token', async () => {
    mode = 'ok';
    expect(await ec2Placement(url, 2_000)).toEqual({
      instanceType: 'g5.12xlarge',
      zone: 'eu-west-1c',
      region: 'eu-west-1',
      privateIp: '10.1.2.3',
    });
    expect(requests).toContain('PUT /latest/api/token');
  });

  it('gives up quietly when IMDSv2 is refused, when nothing listens, and after the timeout', async () => {
    mode = 'v1-only';
    expect(await ec2Placement(url, 2_000)).toBeUndefined();
    expect(await ec2Placement('http://127.0.0.1:1', 2_000)).toBeUndefined();
    mode = 'silent';
    const started = Date.now();
    expect(await ec2Placement(url, 150)).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('tells an instance on its way out: Auto Scaling terminating it, or a Spot notice to terminate it', async () => {
    mode = 'ok';
    lifecycle = undefined;
    spotAction = undefined;
    expect(await instanceLeaving(url, 2_000)).toBeUndefined(); // not in a group, no notice
    lifecycle = 'InService';
    expect(await instanceLeaving(url, 2_000)).toBeUndefined();
    lifecycle = 'Standby';
    expect(await instanceLeaving(url, 2_000)).toBeUndefined();
    lifecycle = 'Terminated';
    expect(await instanceLeaving(url, 2_000)).toBe('its Auto Scaling group is terminating it (Terminated)');
    lifecycle = 'Warmed:Terminated';
    expect(await instanceLeaving(url, 2_000)).toBe('its Auto Scaling group is terminating it (Warmed:Terminated)');
    lifecycle = 'InService';
    spotAction = '{"action": "terminate", "time": "2026-12-07T22:30:00Z"}';
    expect(await instanceLeaving(url, 2_000)).toBe('a Spot interruption notice terminates it at 2026-12-07T22:30:00Z');
    spotAction = '{"action": "stop", "time": "2026-12-07T22:30:00Z"}';
    expect(await instanceLeaving(url, 2_000)).toBeUndefined(); // it comes back
    spotAction = 'not a notice';
    expect(await instanceLeaving(url, 2_000)).toBeUndefined();
    lifecycle = 'Terminated';
    mode = 'v1-only';
    expect(await instanceLeaving(url, 2_000)).toBeUndefined();
    expect(await instanceLeaving('http://127.0.0.1:1', 2_000)).toBeUndefined();
    mode = 'ok';
    lifecycle = undefined;
    spotAction = undefined;
  });
});
