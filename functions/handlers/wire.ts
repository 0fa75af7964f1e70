/**
 * The media types of the Mesos v1 APIs at the HTTP edge: a Call's body in JSON or protobuf
 * (`application/x-protobuf`), turned into the plain object the JSON API parses, and answers, events and
 * streams in the format the client accepts (JSON where it allows it, as Mesos prefers). The calls
 * themselves see JSON-dialect objects only (shared/protocol/protobuf.ts converts).
 */
import type { Context } from 'hono';
import { answerFormat, contentTypeOf, NOT_ACCEPTABLE, type WireFormat } from '#shared/protocol/media-types.js';
import { decodeMessage, encodeMessage, protobufRecords, type WireMessage } from '#shared/protocol/protobuf.js';

/** A plain-text answer, as Mesos gives its errors. */
export function text(c: Context, status: number, message: string, headers: Record<string, string> = {}): Response {
  return c.body(message, status as 400, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
}

/** The body as the object its JSON would parse to; or the 413 / 400 to answer. */
export async function readCall(
  c: Context,
  format: WireFormat,
  message: WireMessage,
  limit: number,
): Promise<{ readonly json: unknown } | Response> {
  const declared = Number(c.req.header('content-length') ?? '0');
  const tooLarge = () => text(c, 413, `Request body over ${limit} bytes`);
  if (declared > limit) return tooLarge();
  if (format === 'protobuf') {
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    if (bytes.byteLength > limit) return tooLarge();
    const decoded = decodeMessage(message, bytes);
    if (!decoded.ok) return text(c, 400, `Failed to parse body into Call protobuf: ${decoded.error}`);
    return { json: decoded.value };
  }
  const body = await c.req.text();
  if (Buffer.byteLength(body) > limit) return tooLarge();
  try {
    return { json: JSON.parse(body) as unknown };
  } catch (error) {
    return text(c, 400, `Failed to parse body into JSON: ${(error as Error).message}`);
  }
}

/** The format the client accepts for an answer with a body; undefined where it accepts neither (406). */
export function acceptedFormat(c: Context): WireFormat | undefined {
  return answerFormat(c.req.header('accept'));
}

export function notAcceptable(c: Context): Response {
  return text(c, 406, NOT_ACCEPTABLE);
}

/** A JSON-dialect answer (a `Response`, an `Event`) in `format`. */
export function answer(
  c: Context,
  format: WireFormat,
  message: WireMessage,
  body: object,
  headers: Record<string, string> = {},
): Response {
  if (format === 'json') return c.json(body, 200, headers);
  return c.body(new Uint8Array(encodeMessage(message, body)), 200, {
    ...headers,
    'Content-Type': contentTypeOf(format),
  });
}

/** A RecordIO stream of JSON `Event`s, in `format` (its records re-encoded for protobuf). */
export function streamOf(
  format: WireFormat,
  message: WireMessage,
  body: ReadableStream<Uint8Array>,
  headers: Record<string, string>,
): Response {
  return new Response(format === 'json' ? body : protobufRecords(message, body), {
    status: 200,
    headers: { ...headers, 'Content-Type': contentTypeOf(format) },
  });
}

/** A JSON answer already built (a queue-delivered SUBSCRIBE's SUBSCRIBED event), in `format`. */
export async function reencoded(response: Response, format: WireFormat, message: WireMessage): Promise<Response> {
  if (format === 'json' || response.status !== 200) return response;
  const headers = new Headers(response.headers);
  headers.set('Content-Type', contentTypeOf(format));
  const body = encodeMessage(message, await response.json());
  return new Response(body, { status: 200, headers });
}
