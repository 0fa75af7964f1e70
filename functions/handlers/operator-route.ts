/**
 * `POST /api/v1`, the Mesos v1 operator API (functions/operator/), with Mesos's checks in its order
 * (`Master::Http::api`): the method (405), the media type (400, 415), the caller (401; 403 for a
 * principal that is not an operator), the JSON and its `Call` (400; 501 for a call Mantle does not
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
import { acceptsJson, authenticated, authorized, jsonBody, postOnly, text, type MasterEnv } from './scheduler-route.js';

export const OPERATOR_API_PATH = '/api/v1';

export function render(c: Context, response: OperatorResponse): Response {
  switch (response.kind) {
    case 'json':
      return c.json(response.body, response.status);
    case 'empty':
      return c.body(null, response.status);
    case 'error':
      return text(c, response.status, response.message);
    case 'stream':
      return new Response(response.body, { status: 200, headers: { ...response.headers } });
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
  app.all(OPERATOR_API_PATH, postOnly, jsonBody, operator, authorized(master), async (c) => {
    let json: unknown;
    try {
      json = JSON.parse(await c.req.text());
    } catch (error) {
      return text(c, 400, `Failed to parse body into JSON: ${(error as Error).message}`);
    }
    const parsed = parseOperatorCall(table, json);
    if ('kind' in parsed) return render(c, parsed);
    if (!acceptsJson(c.req.header('accept'))) {
      return text(c, 406, "Expecting 'Accept' to allow 'application/json'");
    }
    await applyLoggingLevel(master);
    const caller = {
      authority: c.get('authority'),
      ...(c.get('principal') ? { principal: c.get('principal') } : {}),
    };
    return render(c, await runOperatorCall(master, parsed, caller));
  });
}
