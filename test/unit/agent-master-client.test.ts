/**
 * The agent's registration call on errors retrying cannot fix: a host that does not exist is refused at
 * once (a DNS answer is injected: tests reach only loopback), a master that is not listening is retried.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MasterClient } from '../../agent/master-client.js';
import { freePort } from '../../local/aws-standins.js';
import type { RegisterAgentRequest } from '#shared/protocol/internal.js';

const request = {} as RegisterAgentRequest;

afterEach(() => vi.unstubAllGlobals());

describe('MasterClient.register', () => {
  it('refuses a master whose host does not exist', async () => {
    const notFound = Object.assign(new Error('getaddrinfo ENOTFOUND nobody.invalid'), {
      code: 'ENOTFOUND',
      hostname: 'nobody.invalid',
    });
    vi.stubGlobal('fetch', () => Promise.reject(new TypeError('fetch failed', { cause: notFound })));
    const client = new MasterClient('http://nobody.invalid:5050', undefined);
    expect(await client.register(request)).toEqual({
      kind: 'refused',
      status: 0,
      message: "unknown host 'nobody.invalid': no master at http://nobody.invalid:5050",
    });
  });

  it('throws (to be retried) when nothing listens there', async () => {
    const client = new MasterClient(`http://127.0.0.1:${await freePort()}`, undefined);
    await expect(client.register(request)).rejects.toThrow(/fetch failed/);
  });
});
