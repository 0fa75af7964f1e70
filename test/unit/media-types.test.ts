/** How a request picks its media types (shared/protocol/media-types.ts), as Mesos's master does. */
import { describe, expect, it } from 'vitest';
import { accepts, answerFormat, bodyFormat } from '#shared/protocol/media-types.js';

describe('media types', () => {
  it('reads a body as JSON or protobuf, parameters and case aside, and nothing else', () => {
    expect(bodyFormat('application/json')).toBe('json');
    expect(bodyFormat('Application/JSON; charset=utf-8')).toBe('json');
    expect(bodyFormat('application/x-protobuf')).toBe('protobuf');
    expect(bodyFormat('application/protobuf')).toBeUndefined();
    expect(bodyFormat('text/plain')).toBeUndefined();
  });

  it('answers JSON where the client allows it, else protobuf, else nothing', () => {
    const cases: Array<[string | undefined, string | undefined]> = [
      [undefined, 'json'],
      ['', 'json'],
      ['*/*', 'json'],
      ['application/*', 'json'],
      ['application/json', 'json'],
      ['application/x-protobuf', 'protobuf'],
      // Mesos prefers JSON whatever the order or the weights, so long as it is allowed.
      ['application/x-protobuf, application/json;q=0.1', 'json'],
      ['application/x-protobuf, application/json;q=0', 'protobuf'],
      ['application/json;q=0, */*', 'protobuf'],
      ['text/html', undefined],
      ['application/*;q=0, */*', undefined],
      ['application/json;q=0', undefined],
    ];
    for (const [accept, format] of cases) expect(answerFormat(accept), String(accept)).toBe(format);
  });

  it('lets the most specific range decide', () => {
    expect(accepts('application/*;q=0, application/json', 'application/json')).toBe(true);
    expect(accepts('application/*;q=0, application/json', 'application/x-protobuf')).toBe(false);
    expect(accepts('*/*;q=0.5', 'application/x-protobuf')).toBe(true);
  });
});
