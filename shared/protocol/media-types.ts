/**
 * The media types of Mesos's v1 HTTP APIs and how a request picks them (Mesos src/master/http.cpp): a
 * body is `application/json` or `application/x-protobuf` (anything else 415); an answer is JSON when the
 * `Accept` header allows it, else protobuf when it allows that, else nothing (406). No `Accept` header
 * allows everything, so JSON. A stream frames its events in RecordIO either way.
 */

export const APPLICATION_JSON = 'application/json';
export const APPLICATION_PROTOBUF = 'application/x-protobuf';

export type WireFormat = 'json' | 'protobuf';

/** The body's format from its `Content-Type` (parameters ignored); undefined for any other media type. */
export function bodyFormat(contentType: string): WireFormat | undefined {
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase();
  if (mediaType === APPLICATION_JSON) return 'json';
  if (mediaType === APPLICATION_PROTOBUF) return 'protobuf';
  return undefined;
}

interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  readonly quality: number;
}

function mediaRanges(accept: string): MediaRange[] {
  return accept.split(',').flatMap((part) => {
    const [range = '', ...parameters] = part.split(';').map((item) => item.trim().toLowerCase());
    const [type, subtype] = range.split('/');
    if (!type || !subtype) return [];
    const q = parameters.find((parameter) => parameter.startsWith('q='));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    return [{ type, subtype, quality: Number.isNaN(quality) ? 0 : quality }];
  });
}

/**
 * Whether `accept` allows `mediaType`: the most specific range that matches it decides (an exact match
 * over `type/*` over `*\/*`), and a quality of 0 refuses (RFC 7231 5.3.2, as libprocess reads it).
 */
export function accepts(accept: string | undefined, mediaType: string): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  const [type, subtype] = mediaType.split('/');
  const specificity = (range: MediaRange): number =>
    range.type === type && range.subtype === subtype
      ? 3
      : range.type === type && range.subtype === '*'
        ? 2
        : range.type === '*' && range.subtype === '*'
          ? 1
          : 0;
  let best: MediaRange | undefined;
  for (const range of mediaRanges(accept)) {
    if (specificity(range) > 0 && (!best || specificity(range) > specificity(best))) best = range;
  }
  return best !== undefined && best.quality > 0;
}

/** The answer's format, as Mesos picks it: JSON if allowed, else protobuf if allowed, else undefined (406). */
export function answerFormat(accept: string | undefined): WireFormat | undefined {
  if (accepts(accept, APPLICATION_JSON)) return 'json';
  if (accepts(accept, APPLICATION_PROTOBUF)) return 'protobuf';
  return undefined;
}

/** Mesos's 406 message. */
export const NOT_ACCEPTABLE = `Expecting 'Accept' to allow '${APPLICATION_PROTOBUF}' or '${APPLICATION_JSON}'`;

/** Mesos's 415 message. */
export const UNSUPPORTED_MEDIA_TYPE = `Expecting 'Content-Type' of ${APPLICATION_JSON} or ${APPLICATION_PROTOBUF}`;

export function contentTypeOf(format: WireFormat): string {
  return format === 'json' ? APPLICATION_JSON : APPLICATION_PROTOBUF;
}
