/** The operator API's SUBSCRIBE call: a RecordIO stream of events (subscribe.ts). */
import { z } from 'zod';
import { operatorCall } from './dispatch.js';
import { OperatorStream } from './subscribe.js';

/**
 * Mantle's extension (Mesos's operator Call has no `subscribe`): `omit_tasks` leaves the tasks (and
 * the executors they imply) out of SUBSCRIBED, for a client that pages them with GET_TASKS instead.
 */
const SubscribeSchema = z.object({ omit_tasks: z.boolean().default(false) });

export const SUBSCRIBE = operatorCall<z.infer<typeof SubscribeSchema> | undefined>({
  type: 'SUBSCRIBE',
  field: 'subscribe',
  payload: SubscribeSchema,
  optional: true,
  handle: async (master, call) => ({
    kind: 'stream',
    body: new OperatorStream(master, { tasks: !call.payload?.omit_tasks }).readable(),
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' },
  }),
});
