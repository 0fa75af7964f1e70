/**
 * The protobuf codec of the Mesos v1 APIs (`application/x-protobuf`), over Mantle's own wire definitions
 * (shared/protocol/proto/). It converts at the HTTP edge only: a protobuf body becomes the plain object
 * the JSON API would have parsed (then the same zod schemas and the same calls), and a JSON answer or
 * event becomes protobuf on the way out. The conversion follows the JSON dialect (dialect.ts): snake_case
 * names, enums as their names, 64-bit integers as numbers, bytes as base64 text.
 */
import protobuf from 'protobufjs';
import { MESOS_V1_EXECUTOR_PROTO } from './proto/executor.js';
import { MANTLE_V1_PROTO } from './proto/mantle.js';
import { MESOS_V1_MASTER_PROTO } from './proto/master.js';
import { MESOS_V1_TASKS_PROTO } from './proto/mesos-tasks.js';
import { MESOS_V1_PROTO } from './proto/mesos.js';
import {
  DURATION_PROTO,
  MESOS_V1_ALLOCATOR_PROTO,
  MESOS_V1_MAINTENANCE_PROTO,
  MESOS_V1_QUOTA_PROTO,
} from './proto/operator-parts.js';
import { MESOS_V1_SCHEDULER_PROTO } from './proto/scheduler.js';
import { err, ok, type Result } from '../result.js';
import { encodeRecord, RecordIODecoder } from './recordio.js';

/** The messages that travel on Mantle's HTTP APIs. */
export type WireMessage =
  | 'mesos.v1.scheduler.Call'
  | 'mesos.v1.scheduler.Event'
  | 'mesos.v1.scheduler.Response'
  | 'mesos.v1.master.Call'
  | 'mesos.v1.master.Response'
  | 'mesos.v1.master.Event'
  | 'mesos.v1.executor.Call'
  | 'mesos.v1.executor.Event';

const SOURCES = [
  MESOS_V1_PROTO,
  MESOS_V1_TASKS_PROTO,
  MESOS_V1_SCHEDULER_PROTO,
  MESOS_V1_QUOTA_PROTO,
  MESOS_V1_ALLOCATOR_PROTO,
  MESOS_V1_MAINTENANCE_PROTO,
  DURATION_PROTO,
  MANTLE_V1_PROTO,
  MESOS_V1_MASTER_PROTO,
  MESOS_V1_EXECUTOR_PROTO,
];

let root: protobuf.Root | undefined;

/** Every definition, parsed once (keepCase: the field names stay Mesos's snake_case). */
export function wireRoot(): protobuf.Root {
  if (root) return root;
  const parsed = new protobuf.Root();
  for (const source of SOURCES) protobuf.parse(source, parsed, { keepCase: true });
  parsed.resolveAll();
  root = parsed;
  return parsed;
}

const TO_OBJECT: protobuf.IConversionOptions = {
  enums: String,
  longs: Number,
  bytes: String,
  defaults: false,
  arrays: false,
  objects: false,
  oneofs: false,
};

/**
 * An enum number the definitions do not name reads as unset, as an unknown enum value in a proto2
 * optional field does in Mesos (the C++ parser keeps it aside); `toObject` would hand the number on.
 */
function dropUnknownEnums(type: protobuf.Type, object: Record<string, unknown>): void {
  for (const field of type.fieldsArray) {
    const value = object[field.name];
    if (value === undefined) continue;
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Enum) {
      if (Array.isArray(value)) object[field.name] = value.filter((item) => typeof item === 'string');
      else if (typeof value !== 'string' && !field.required) Reflect.deleteProperty(object, field.name);
    } else if (resolved instanceof protobuf.Type) {
      const children = field.map
        ? Object.values(value as Record<string, unknown>)
        : Array.isArray(value)
          ? value
          : [value];
      for (const child of children) dropUnknownEnums(resolved, child as Record<string, unknown>);
    }
  }
}

/** A protobuf body as the plain object its JSON form would parse to; the decoder's complaint otherwise. */
export function decodeMessage(name: WireMessage, bytes: Uint8Array): Result<Record<string, unknown>, string> {
  const type = wireRoot().lookupType(name);
  let message: protobuf.Message;
  try {
    message = type.decode(bytes);
  } catch (error) {
    return err((error as Error).message);
  }
  const object = type.toObject(message, TO_OBJECT);
  dropUnknownEnums(type, object);
  return ok(object);
}

/** A JSON-dialect object (a Response, an Event) as protobuf; fields the definitions lack are left out. */
export function encodeMessage(name: WireMessage, object: unknown): Uint8Array {
  const type = wireRoot().lookupType(name);
  return type.encode(type.fromObject(object as Record<string, unknown>)).finish();
}

const textDecoder = new TextDecoder();

/** A RecordIO stream of JSON events, re-framed record by record as protobuf events of type `name`. */
export function protobufRecords(name: WireMessage, json: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const decoder = new RecordIODecoder();
  return json.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        for (const record of decoder.decodeBytes(chunk)) {
          controller.enqueue(encodeRecord(encodeMessage(name, JSON.parse(textDecoder.decode(record)))));
        }
      },
    }),
  );
}
