/** The `Mantle-Event-Delivery` header of a queue-delivered SUBSCRIBE (issue 12), parsed purely. */
import { describe, expect, it } from 'vitest';
import { parseDeliveryHeader } from '../../functions/scheduler/delivery.js';

describe('the Mantle-Event-Delivery header', () => {
  it('is absent for a stream, and names a queue otherwise', () => {
    expect(parseDeliveryHeader(undefined)).toEqual({ ok: true, value: undefined });
    expect(parseDeliveryHeader('queue; name=jobs')).toEqual({ ok: true, value: 'jobs' });
    expect(parseDeliveryHeader('Queue;Name = a-1')).toEqual({ ok: true, value: 'a-1' });
    expect(parseDeliveryHeader(`queue; name=${'z'.repeat(40)}`)).toEqual({ ok: true, value: 'z'.repeat(40) });
  });

  it('refuses anything else with a reason', () => {
    const refusals: Array<[string, RegExp]> = [
      ['', /expecting 'queue; name=<name>'/],
      ['stream', /expecting 'queue; name=<name>'/],
      ['queue', /missing 'name=<name>'/],
      ['queue; name=', /name '' must be 1 to 40/],
      ['queue; name=Jobs', /name 'Jobs' must be/],
      ['queue; name=a.b', /must be/],
      [`queue; name=${'z'.repeat(41)}`, /must be/],
      ['queue; name=a; name=b', /only one 'name'/],
      ['queue; group=a', /unexpected parameter 'group=a'/],
      ['queue; name', /unexpected parameter 'name'/],
    ];
    for (const [header, reason] of refusals) {
      const parsed = parseDeliveryHeader(header);
      expect(parsed.ok, header).toBe(false);
      if (!parsed.ok) expect(parsed.error, header).toMatch(/^Invalid 'Mantle-Event-Delivery' header: /);
      if (!parsed.ok) expect(parsed.error, header).toMatch(reason);
    }
  });
});
