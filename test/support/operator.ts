/** Raw HTTP against the operator API (`POST /api/v1`) and the legacy endpoints, as a Mesos operator tool speaks it. */
import type { RawCall } from './http.js';

export const SECRET = 'correct-horse-battery-staple';

export function basic(principal: string, secret = SECRET): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${principal}:${secret}`).toString('base64')}` };
}

/** Posts a call to `/api/v1`: a string body is sent as it is. */
export async function operatorPost(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<RawCall> {
  const response = await fetch(`${url}/api/v1`, {
    method,
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
    ...(method === 'GET' || method === 'HEAD' ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** A call that must answer 200 with a v1 `Response`: its parsed body. */
export async function operatorGet<T = Record<string, unknown>>(
  url: string,
  call: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<T> {
  const response = await operatorPost(url, call, headers);
  if (response.status !== 200) throw new Error(`${String(call.type)}: ${response.status} ${response.body}`);
  return JSON.parse(response.body) as T;
}

/** GET on a legacy endpoint (`/master/state`, `/version`, …): status and parsed JSON body. */
export async function legacyGet(
  url: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown; text: string; headers: Headers }> {
  const response = await fetch(`${url}${path}`, { headers });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text, headers: response.headers };
}
