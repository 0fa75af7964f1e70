import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalAppId, parseApp, portCount, runSpec } from '../../frameworks/services/model.js';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../fixtures/marathon/${name}`, import.meta.url), 'utf8'));

describe('Marathon app definitions', () => {
  it('accepts the fixtures as Marathon writes them, filling in its defaults and keeping unknown fields', () => {
    for (const name of ['docker-web.json', 'command-ports.json', 'constrained.json']) {
      const parsed = parseApp(fixture(name));
      expect(parsed.ok, name).toBe(true);
    }
    const web = parseApp(fixture('docker-web.json'));
    if (!web.ok) throw new Error('refused');
    expect(web.value).toMatchObject({
      id: '/shop/web',
      instances: 1,
      killSelection: 'YOUNGEST_FIRST',
      role: '*',
      unreachableStrategy: { inactiveAfterSeconds: 0, expungeAfterSeconds: 0 },
    });
    expect(web.value.cmd).toContain('httpd');
  });

  it('fills in defaults: one port, 1 cpu, 128 MB, backoff 1 s × 1.15 up to 3600 s', () => {
    const parsed = parseApp({ id: 'web', cmd: 'sleep 1' });
    if (!parsed.ok) throw new Error('refused');
    expect(parsed.value).toMatchObject({
      id: '/web',
      cpus: 1,
      mem: 128,
      instances: 1,
      backoffSeconds: 1,
      backoffFactor: 1.15,
      maxLaunchDelaySeconds: 3600,
      upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 },
      portDefinitions: [{ port: 0, protocol: 'tcp' }],
    });
    expect(portCount(parsed.value)).toBe(1);
  });

  it("turns 'ports' into portDefinitions", () => {
    const parsed = parseApp({ id: '/a', cmd: 'x', ports: [0, 0, 0] });
    expect(parsed.ok && parsed.value.portDefinitions).toHaveLength(3);
  });

  it("answers Marathon's 422 details for bad fields", () => {
    const parsed = parseApp({ id: '/Bad_Id', cmd: 'x' });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error.message).toBe('Object is not valid');
    expect(parsed.error.details[0]?.path).toBe('/id');
    const negative = parseApp({ id: '/a', cmd: 'x', instances: -1, mem: 'lots' });
    expect(!negative.ok && negative.error.details.map((d) => d.path).sort()).toEqual(['/instances', '/mem']);
  });

  it('refuses what it cannot honour, naming the field', () => {
    for (const [field, value] of [
      ['uris', ['http://x/y.tgz']],
      ['fetch', [{ uri: 'http://x' }]],
      ['readinessChecks', [{ name: 'r' }]],
      ['executor', '/opt/custom'],
      ['residency', { relaunchEscalationTimeoutSeconds: 1 }],
    ] as const) {
      const parsed = parseApp({ id: '/a', cmd: 'x', [field]: value });
      expect(!parsed.ok && parsed.error.details[0]?.path, field).toBe(`/${field}`);
    }
  });

  it('needs a command or an image, and valid constraints and health checks', () => {
    expect(parseApp({ id: '/a' }).ok).toBe(false);
    expect(parseApp({ id: '/a', cmd: 'x', constraints: [['hostname', 'MAX_PER', 'two']] }).ok).toBe(false);
    expect(parseApp({ id: '/a', cmd: 'x', constraints: [['hostname', 'SOMETIMES']] }).ok).toBe(false);
    expect(parseApp({ id: '/a', cmd: 'x', healthChecks: [{ protocol: 'COMMAND' }] }).ok).toBe(false);
    expect(parseApp({ id: '/a', cmd: 'x', portDefinitions: [], healthChecks: [{ protocol: 'HTTP' }] }).ok).toBe(false);
    expect(parseApp({ id: '/a', cmd: 'x', env: { MARATHON_APP_ID: 'x' } }).ok).toBe(false);
  });

  it('makes ids absolute paths and tells a scale from a new configuration', () => {
    expect(canonicalAppId('team/web')).toBe('/team/web');
    expect(canonicalAppId('/team//web/')).toBe('/team/web');
    expect(canonicalAppId('/Team')).toBeUndefined();
    const a = parseApp({ id: '/a', cmd: 'x', instances: 1 });
    const b = parseApp({ id: '/a', cmd: 'x', instances: 5 });
    const c = parseApp({ id: '/a', cmd: 'y', instances: 1 });
    if (!a.ok || !b.ok || !c.ok) throw new Error('refused');
    expect(runSpec(a.value)).toBe(runSpec(b.value));
    expect(runSpec(a.value)).not.toBe(runSpec(c.value));
    // Read back from DynamoDB, keys come in another order: the same configuration.
    const reordered = Object.fromEntries(Object.entries(b.value).reverse()) as typeof b.value;
    expect(runSpec(reordered)).toBe(runSpec(a.value));
  });
});
