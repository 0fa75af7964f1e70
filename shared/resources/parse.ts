/**
 * The ways resources enter Mantle, each validated with the Mesos rules into canonical form:
 * - Mesos v1 JSON (a list of Resource objects), from frameworks, agents and the registrar;
 * - the agent flag text, `cpus:4;mem:8192;gpus:1;ports:[31000-32000];cpus(ml):2;bugs:{a,b}`
 *   (Mesos `Resources::parse`; `name(role)` is a static reservation), or its JSON array form.
 */
import { z } from 'zod';
import { ResourceSchema, type Range, type Resource } from '../protocol/mesos.js';
import { describeZodError } from '../protocol/errors.js';
import { failure, ok, type Failure, type Result } from '../result.js';
import { DEFAULT_ROLE } from '../roles.js';
import { canonicalResource } from './resource.js';
import { add, scalarTotal } from './resources.js';

export type InvalidResources = Failure<'INVALID_RESOURCES'>;

function invalid(message: string): { ok: false; error: InvalidResources } {
  return failure('INVALID_RESOURCES', message);
}

/** Checks that span resources: one type per name, and a whole number of GPUs in total. */
export function validateResourceSet(resources: readonly Resource[]): string | undefined {
  const types = new Map<string, string>();
  for (const resource of resources) {
    const seen = types.get(resource.name);
    if (seen !== undefined && seen !== resource.type) {
      return `Resources with the same name ('${resource.name}') but different types are not allowed`;
    }
    types.set(resource.name, resource.type);
  }
  // Mesos checks the sum: 0.5 + 0.5 split over two entries is one whole GPU (validateGpus).
  const gpus = scalarTotal(resources, 'gpus');
  if (!Number.isInteger(gpus)) return `The 'gpus' resource must be an unsigned integer, not ${gpus}`;
  return undefined;
}

/** Validates already-parsed resources and returns them canonical and normalized. */
export function canonicalResources(resources: readonly Resource[]): Result<Resource[], InvalidResources> {
  const canonical: Resource[] = [];
  for (const resource of resources) {
    const result = canonicalResource(resource);
    if ('error' in result) return invalid(`Resource '${describeResource(resource)}' is invalid: ${result.error}`);
    canonical.push(result.resource);
  }
  const setError = validateResourceSet(canonical);
  if (setError) return invalid(setError);
  return ok(add([], canonical));
}

/** Parses Mesos v1 JSON resources (any untrusted value) into canonical, normalized resources. */
export function parseResources(input: unknown): Result<Resource[], InvalidResources> {
  const parsed = z.array(ResourceSchema).safeParse(input);
  if (!parsed.success) return invalid(`Invalid resources: ${describeZodError(parsed.error)}`);
  return canonicalResources(parsed.data);
}

const TOKEN = /^([^():]+)(?:\(([^()]*)\))?:(.+)$/s;

function parseRangesText(text: string): Range[] | string {
  const body = text.slice(1, -1).trim();
  if (body === '') return [];
  const ranges: Range[] = [];
  for (const part of body.split(',')) {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!match?.[1]) return `Invalid range '${part.trim()}'`;
    const begin = Number(match[1]);
    const end = match[2] === undefined ? begin : Number(match[2]);
    ranges.push({ begin, end });
  }
  return ranges;
}

/** A value in Mesos's text form (`values::parse`), as resources and attributes share it. */
export type ParsedValue =
  | { readonly type: 'RANGES'; readonly ranges: { range: Range[] } }
  | { readonly type: 'SET'; readonly set: { item: string[] } }
  | { readonly type: 'SCALAR'; readonly scalar: { value: number } };

/**
 * `[a-b,c]` ranges, `{x,y}` a set, a number a scalar; undefined for anything else (text, to an
 * attribute); a string says what is wrong with ranges.
 */
export function parseValueText(value: string): ParsedValue | undefined | string {
  if (value.startsWith('[') && value.endsWith(']')) {
    const ranges = parseRangesText(value);
    return typeof ranges === 'string' ? ranges : { type: 'RANGES', ranges: { range: ranges } };
  }
  if (value.startsWith('{') && value.endsWith('}')) {
    const items = value
      .slice(1, -1)
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
    return { type: 'SET', set: { item: items } };
  }
  if (/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(value)) {
    return { type: 'SCALAR', scalar: { value: Number(value) } };
  }
  return undefined;
}

/**
 * Parses the agent flag text form (or a JSON array of resources). Resources without a role go to
 * `defaultRole` (Mesos `--default_role`), as a static reservation unless it is "*".
 */
export function parseResourceText(text: string, defaultRole = DEFAULT_ROLE): Result<Resource[], InvalidResources> {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch (error) {
      return invalid(`Invalid resources JSON: ${(error as Error).message}`);
    }
    return parseResources(json);
  }
  const resources: Resource[] = [];
  for (const token of trimmed.split(';')) {
    if (token.trim() === '') continue;
    const match = TOKEN.exec(token.trim());
    if (!match?.[1] || match[3] === undefined) {
      return invalid(`Failed to parse resource '${token.trim()}': expected name(role):value`);
    }
    const name = match[1].trim();
    const role = match[2] === undefined ? defaultRole : match[2].trim();
    const value = match[3].trim();
    // Validation (of the role too) happens once, on the whole list, in canonicalResources.
    const base = { name, ...(role === DEFAULT_ROLE ? {} : { reservations: [{ type: 'STATIC' as const, role }] }) };
    const parsed = parseValueText(value);
    if (typeof parsed === 'string') return invalid(`Failed to parse resource ${name}: ${parsed}`);
    if (!parsed) return invalid(`Failed to parse resource ${name}: '${value}' is not a scalar, ranges or set`);
    resources.push({ ...base, ...parsed });
  }
  return canonicalResources(resources);
}

/** A short human form of a resource for messages: `cpus(ml):2`, `ports:[31000-32000]`. */
export function describeResource(resource: Resource): string {
  const role = resource.reservations?.at(-1)?.role ?? resource.role;
  const prefix = role && role !== DEFAULT_ROLE ? `${resource.name}(${role})` : resource.name;
  switch (resource.type) {
    case 'SCALAR':
      return `${prefix}:${resource.scalar?.value}`;
    case 'RANGES':
      return `${prefix}:[${(resource.ranges?.range ?? []).map((r) => `${r.begin}-${r.end}`).join(',')}]`;
    case 'SET':
      return `${prefix}:{${(resource.set?.item ?? []).join(',')}}`;
    default:
      return `${prefix}:?`;
  }
}
