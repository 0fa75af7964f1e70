/**
 * The JSON dialect Mesos speaks on its v1 HTTP APIs (stout's JSON <-> protobuf mapping), as zod building
 * blocks. Rules (Mesos 3rdparty/stout/include/stout/protobuf.hpp; docs/protocol-and-resources.md):
 * - keys are proto field names in snake_case; unknown keys are ignored (zod strips them);
 * - `null` means "unset";
 * - a repeated field also accepts a single value (stout applies it as one element);
 * - enums are strings; an unknown name on an optional field is dropped, on a required one it is an error;
 * - numbers may be sent as numeric strings; doubles also accept "Infinity" / "-Infinity";
 * - bools may be sent as "true" / "false";
 * - bytes are base64.
 */
import { z } from 'zod';

const nullToUndefined = (value: unknown): unknown => (value === null ? undefined : value);

/** An optional field: absent or null → undefined. */
export function opt<T extends z.ZodType>(schema: T) {
  return z.preprocess(nullToUndefined, schema.optional());
}

/** A repeated field: absent or null → undefined; a lone value counts as one element. */
export function rep<T extends z.ZodType>(schema: T) {
  return z.preprocess(
    (value) => (value === null || value === undefined ? undefined : Array.isArray(value) ? value : [value]),
    z.array(schema).optional(),
  );
}

/** A required enum field: unknown names are an error. */
export function enumOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: (issue) => `unknown enum value ${JSON.stringify(issue.input)}` });
}

/** An optional enum field: unknown names are dropped (the field reads as unset), as proto2 does. */
export function optEnum<const T extends readonly [string, ...string[]]>(values: T) {
  const known = new Set<string>(values);
  return z.preprocess(
    (value) => (typeof value === 'string' && !known.has(value) ? undefined : nullToUndefined(value)),
    z.enum(values).optional(),
  );
}

const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function numberFromString(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (value === 'Infinity') return Number.POSITIVE_INFINITY;
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
  return NUMERIC.test(value.trim()) ? Number(value) : value;
}

/**
 * A proto double: a JSON number or a numeric string, incl. "Infinity" (used by TaskInfo.limits).
 * zod's number() refuses infinities, hence the custom check. Range checks are semantic, elsewhere.
 */
export const double = z.preprocess(
  numberFromString,
  z.custom<number>((value) => typeof value === 'number' && !Number.isNaN(value), { error: 'expected a number' }),
);

// zod's int() stops at 2^53; int64 fields such as nanoseconds since the epoch (~1.8e18) go beyond it and,
// as in every JSON client, arrive as (rounded) doubles. A whole number is what matters.
const wholeNumber = z
  .number({ error: 'expected a number' })
  .refine((value) => Number.isInteger(value), { error: 'expected an integer' });

/** A proto integer (int32/int64). */
export const int = z.preprocess(numberFromString, wholeNumber);

/** A proto unsigned integer (uint32/uint64). */
export const uint = z.preprocess(
  numberFromString,
  wholeNumber.refine((value) => value >= 0, { error: 'expected an unsigned integer' }),
);

/** A proto bool: true/false or "true"/"false". */
export const bool = z.preprocess(
  (value) => (value === 'true' ? true : value === 'false' ? false : value),
  z.boolean({ error: 'expected a boolean' }),
);

/** A proto bytes field: base64 text (kept encoded; decode where the bytes are needed). */
export const bytes = z.base64({ error: 'expected base64' });

/** Decodes a base64 bytes field. */
export function decodeBytes(value: string): Buffer {
  return Buffer.from(value, 'base64');
}

/** Mesos's ID messages: `{ "value": "..." }`. */
export const IdSchema = z.object({ value: z.string({ error: 'expected a string' }) });
export type Id = z.infer<typeof IdSchema>;

/** A proto map<string, V> field: a JSON object. */
export function map<T extends z.ZodType>(schema: T) {
  return opt(z.record(z.string(), schema));
}
