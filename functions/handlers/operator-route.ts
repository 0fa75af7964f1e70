/**
 * `POST /api/v1`, the Mesos v1 operator API (functions/operator/), with Mesos's checks in its order
 * (`Master::Http::api`): the method (405), the media type (400, 415; JSON or protobuf), the caller (401;
 * 403 for a principal that is not an operator), the body (JSON or protobuf) and its `Call` (400; 501 for a call Mantle does not
 * answer), what the client accepts (406); then the call's own answer. Errors are plain text, as
 * Mesos's are.
 */
import type { Context, Hono } from 'hono';
import type { Authenticator } from '../master/auth.js';
import type { Master } from '../master/master.js';
import { OPERATOR_CALLS } from '../operator/calls.js';
import { operatorPrometheus } from '../operator/metrics.js';
import { mountLegacyEndpoints } from './legacy-routes.js';
import { applyLoggingLevel } from '../operator/logging.js';
import { parseOperatorCall, runOperatorCall, type OperatorCallTable } from '../operator/dispatch.js';
import type { OperatorResponse } from '../operator/responses.js';
import type { WireFormat } from '#shared/protocol/media-types.js';
import { authenticated, authorized, callBody, postOnly, text, type MasterEnv } from './scheduler-route.js';
import { acceptedFormat, answer, notAcceptable, readCall, streamOf } from './wire.js';

export const OPERATOR_API_PATH = '/api/v1';

/** An operator call's answer, its `Response` or its stream of `Event`s in `format`. */
export function render(c: Context, response: OperatorResponse, format: WireFormat = 'json'): Response {
  switch (response.kind) {
    case 'json':
      return answer(c, format, 'mesos.v1.master.Response', response.body);
    case 'empty':
      return c.body(null, response.status);
    case 'error':
      return text(c, response.status, response.message);
    case 'stream':
      return streamOf(format, 'mesos.v1.master.Event', response.body, { ...response.headers });
  }
}

/** Mounts the operator API and the legacy read endpoints (operators only) on the app; `table` is the calls it answers (every call, but in tests). */
export function mountOperatorApi(
  app: Hono<MasterEnv>,
  master: Master,
  authenticator: Authenticator,
  table: OperatorCallTable = OPERATOR_CALLS,
): void {
  const operator = authenticated(master, authenticator, ['operator']);
  app.get('/metrics', operator, async (c) => {
    const { contentType, text: body } = await operatorPrometheus(master);
    return c.body(body, 200, { 'Content-Type': contentType });
  });
  mountLegacyEndpoints(app, master, operator);
  app.all(OPERATOR_API_PATH, postOnly, callBody, operator, authorized(master), async (c) => {
    const body = await readCall(c, c.get('bodyFormat'), 'mesos.v1.master.Call', master.config.maxBodyBytes);
    if (body instanceof Response) return body;
    const parsed = parseOperatorCall(table, body.json);
    if ('kind' in parsed) return render(c, parsed);
    const format = acceptedFormat(c);
    if (!format) return notAcceptable(c);
    await applyLoggingLevel(master);
    const caller = {
      authority: c.get('authority'),
      ...(c.get('principal') ? { principal: c.get('principal') } : {}),
    };
    return render(c, await runOperatorCall(master, parsed, caller), format);
  });
}
