import { describe, expect, it } from 'vitest';
import { parseMasterUrl, permanentFetchFailure, resolveMaster } from '#shared/master-url.js';

describe('parseMasterUrl', () => {
  it.each([
    ['127.0.0.1:5050', 'http://127.0.0.1:5050'],
    ['  127.0.0.1:5051 ', 'http://127.0.0.1:5051'],
    ['localhost', 'http://localhost:5050'],
    ['master.example.com:80', 'http://master.example.com'],
    ['master@10.0.0.7:5050', 'http://10.0.0.7:5050'],
    ['[::1]:5050', 'http://[::1]:5050'],
    ['[::1]', 'http://[::1]:5050'],
    ['http://127.0.0.1:5050', 'http://127.0.0.1:5050'],
    ['http://127.0.0.1:5050/', 'http://127.0.0.1:5050'],
    ['HTTP://Master.Example.com:5050', 'http://master.example.com:5050'],
    ['https://abc.execute-api.eu-west-1.amazonaws.com/prod/', 'https://abc.execute-api.eu-west-1.amazonaws.com/prod'],
    ['https://gw.example.com:8443/a/b', 'https://gw.example.com:8443/a/b'],
    ['http://10.0.0.1', 'http://10.0.0.1'],
  ])('%j -> %s', (text, url) => {
    expect(parseMasterUrl(text)).toEqual({ ok: true, value: url });
  });

  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['zk://10.0.0.1:2181,10.0.0.2:2181/mesos', /ZooKeeper \(zk:\/\/\) is not supported/],
    ['ZK://10.0.0.1:2181/mesos', /ZooKeeper/],
    ['file:///etc/mesos/master', /file:\/\/ is not supported/],
    ['ftp://host:21', /ftp:\/\/ is not supported/],
    ['127.0.0.1:', /the port must be 1 to 65535, not ''/],
    ['127.0.0.1:0', /the port must be 1 to 65535, not '0'/],
    ['127.0.0.1:65536', /not '65536'/],
    ['127.0.0.1:50x', /expected host:port/],
    [':5050', /expected host:port/],
    ['::1', /IPv6 address goes in brackets/],
    ['host:5050/path', /expected host:port/],
    ['two words:5050', /expected host:port/],
    ['http://', /not a valid URL/],
    ['http://u:p@127.0.0.1:5050', /credentials do not go in the URL: use --principal and --secret/],
    ['http://127.0.0.1:5050/?x=1', /no query or fragment/],
    ['http://127.0.0.1:99999', /not a valid URL/],
  ])('refuses %j', (text, message) => {
    const parsed = parseMasterUrl(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(message);
  });
});

describe('resolveMaster', () => {
  const env = { MANTLE_MASTER: '127.0.0.2:5050', MESOS_MASTER: '127.0.0.3:5050' };

  it('takes the flag, then MANTLE_MASTER, then MESOS_MASTER, then the fallback', () => {
    expect(resolveMaster({ given: '127.0.0.1:1', env })).toEqual({ ok: true, value: 'http://127.0.0.1:1' });
    expect(resolveMaster({ env })).toEqual({ ok: true, value: 'http://127.0.0.2:5050' });
    expect(resolveMaster({ env: { MESOS_MASTER: env.MESOS_MASTER } })).toEqual({
      ok: true,
      value: 'http://127.0.0.3:5050',
    });
    expect(resolveMaster({ env: { MANTLE_MASTER: '' }, fallback: 'http://127.0.0.1:5050' })).toEqual({
      ok: true,
      value: 'http://127.0.0.1:5050',
    });
  });

  it('says where a bad master came from, and that one is needed', () => {
    expect(resolveMaster({ env: { MESOS_MASTER: 'zk://z:2181/mesos' } })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^MESOS_MASTER 'zk:\/\/z:2181\/mesos': ZooKeeper/),
    });
    expect(resolveMaster({ given: 'a b', env })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^--master 'a b': expected host:port/),
    });
    expect(resolveMaster({ env: {} })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/no master: give --master host:port, or set MANTLE_MASTER or MESOS_MASTER/),
    });
  });
});

describe('permanentFetchFailure', () => {
  it('names an unknown host, and leaves what retrying can fix alone', () => {
    const failed = (cause: unknown) => Object.assign(new TypeError('fetch failed'), { cause });
    expect(permanentFetchFailure(failed({ code: 'ENOTFOUND', hostname: 'nobody.invalid' }))).toBe(
      "unknown host 'nobody.invalid'",
    );
    expect(permanentFetchFailure(failed({ code: 'EAI_AGAIN', hostname: 'slow.example' }))).toBeUndefined();
    expect(permanentFetchFailure(failed({ code: 'ECONNREFUSED' }))).toBeUndefined();
    expect(permanentFetchFailure(new Error('aborted'))).toBeUndefined();
    expect(permanentFetchFailure(undefined)).toBeUndefined();
  });
});
