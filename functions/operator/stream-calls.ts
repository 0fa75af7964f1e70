/** The operator API's SUBSCRIBE call: a RecordIO stream of events (subscribe.ts). */
import { operatorCall } from './dispatch.js';
import { OperatorStream } from './subscribe.js';

export const SUBSCRIBE = operatorCall({
  type: 'SUBSCRIBE',
  handle: async (master) => ({
    kind: 'stream',
    body: new OperatorStream(master).readable(),
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' },
  }),
});
