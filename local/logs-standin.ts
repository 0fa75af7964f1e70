/**
 * The local cluster's stand-in for CloudWatch Logs: an in-process HTTP server speaking the part of its
 * JSON protocol (awsJson1_1, `X-Amz-Target: Logs_20140328.<Operation>`) that the task log store uses —
 * CreateLogGroup, CreateLogStream, PutLogEvents, GetLogEvents, DescribeLogStreams — so that the agents
 * and the master run the very CloudWatch client code they run in AWS (shared/task-logs/cloudwatch.ts).
 * Like the SQS stand-in it keeps everything in memory and on loopback: it is for a development cluster
 * and the tests, and its content goes when the cluster stops.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenOnLoopback, type LoopbackServer } from './loopback-server.js';

interface StoredEvent {
  readonly timestamp: number;
  readonly message: string;
  readonly ingestionTime: number;
  readonly bytes: number;
}

interface Stream {
  readonly name: string;
  readonly createdAt: number;
  readonly events: StoredEvent[];
}

/** GetLogEvents answers at most 10,000 events and 1 MB a call, as CloudWatch does. */
const PAGE_EVENTS = 10_000;
const PAGE_BYTES = 1_048_576;

class Fault extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

type Body = Record<string, unknown>;

/** The stand-in's state and operations (one object per server). */
export class LogsStandInState {
  private readonly groups = new Map<string, Map<string, Stream>>();

  constructor(private readonly now: () => number = Date.now) {}

  handle(operation: string, body: Body): Body {
    switch (operation) {
      case 'CreateLogGroup':
        return this.createGroup(String(body.logGroupName));
      case 'CreateLogStream':
        return this.createStream(String(body.logGroupName), String(body.logStreamName));
      case 'PutLogEvents':
        return this.put(this.stream(body), body.logEvents as Array<{ timestamp: number; message: string }>);
      case 'GetLogEvents':
        return this.get(this.stream(body), body);
      case 'DescribeLogStreams':
        return this.describe(this.group(String(body.logGroupName)), body);
      default:
        throw new Fault('UnknownOperationException', `The stand-in does not implement ${operation}`);
    }
  }

  private group(name: string): Map<string, Stream> {
    const group = this.groups.get(name);
    if (!group) throw new Fault('ResourceNotFoundException', 'The specified log group does not exist.');
    return group;
  }

  private stream(body: Body): Stream {
    const stream = this.group(String(body.logGroupName)).get(String(body.logStreamName));
    if (!stream) throw new Fault('ResourceNotFoundException', 'The specified log stream does not exist.');
    return stream;
  }

  private createGroup(name: string): Body {
    if (this.groups.has(name))
      throw new Fault('ResourceAlreadyExistsException', 'The specified log group already exists');
    this.groups.set(name, new Map());
    return {};
  }

  private createStream(groupName: string, name: string): Body {
    const group = this.group(groupName);
    if (/[:*]/.test(name) || name.length === 0 || name.length > 512) {
      throw new Fault('InvalidParameterException', `Invalid log stream name: ${name}`);
    }
    if (group.has(name)) throw new Fault('ResourceAlreadyExistsException', 'The specified log stream already exists');
    group.set(name, { name, createdAt: this.now(), events: [] });
    return {};
  }

  private put(stream: Stream, events: Array<{ timestamp: number; message: string }>): Body {
    if (!Array.isArray(events) || events.length === 0 || events.length > PAGE_EVENTS) {
      throw new Fault('InvalidParameterException', 'logEvents must hold 1 to 10000 events');
    }
    let bytes = 0;
    for (const [index, event] of events.entries()) {
      if (typeof event.message !== 'string' || event.message.length === 0) {
        throw new Fault('InvalidParameterException', 'A log event message must not be empty');
      }
      if (index > 0 && event.timestamp < (events[index - 1]?.timestamp ?? 0)) {
        throw new Fault(
          'InvalidParameterException',
          'Log events in a single PutLogEvents request must be in chronological order.',
        );
      }
      bytes += Buffer.byteLength(event.message, 'utf8') + 26;
    }
    if (bytes > PAGE_BYTES) throw new Fault('InvalidParameterException', 'Batch larger than 1,048,576 bytes');
    const ingestionTime = this.now();
    for (const event of events) {
      stream.events.push({ ...event, ingestionTime, bytes: Buffer.byteLength(event.message, 'utf8') });
    }
    return { nextSequenceToken: String(stream.events.length) };
  }

  private get(stream: Stream, body: Body): Body {
    const token = typeof body.nextToken === 'string' ? body.nextToken : undefined;
    const limit = Math.min(Number(body.limit ?? PAGE_EVENTS), PAGE_EVENTS);
    let first: number;
    if (token) {
      const match = /^f\/(\d+)$/.exec(token);
      if (!match) throw new Fault('InvalidParameterException', 'The specified nextToken is invalid.');
      first = Math.min(Number(match[1]), stream.events.length);
    } else {
      first = body.startFromHead === true ? 0 : Math.max(0, stream.events.length - limit);
    }
    const page: StoredEvent[] = [];
    let bytes = 0;
    for (let index = first; index < stream.events.length && page.length < limit; index++) {
      const event = stream.events[index] as StoredEvent;
      if (page.length > 0 && bytes + event.bytes > PAGE_BYTES) break;
      page.push(event);
      bytes += event.bytes;
    }
    return {
      events: page.map(({ timestamp, message, ingestionTime }) => ({ timestamp, message, ingestionTime })),
      nextForwardToken: `f/${first + page.length}`,
      nextBackwardToken: `b/${first}`,
    };
  }

  private describe(group: Map<string, Stream>, body: Body): Body {
    const prefix = typeof body.logStreamNamePrefix === 'string' ? body.logStreamNamePrefix : '';
    const limit = Math.min(Number(body.limit ?? 50), 50);
    const after = typeof body.nextToken === 'string' ? body.nextToken : '';
    const names = [...group.keys()].filter((name) => name.startsWith(prefix) && name > after).sort();
    const page = names.slice(0, limit).map((name) => group.get(name) as Stream);
    return {
      logStreams: page.map((stream) => ({
        logStreamName: stream.name,
        creationTime: stream.createdAt,
        ...(stream.events.length > 0
          ? {
              firstEventTimestamp: stream.events[0]?.timestamp,
              lastEventTimestamp: stream.events.at(-1)?.timestamp,
              lastIngestionTime: stream.events.at(-1)?.ingestionTime,
            }
          : {}),
        storedBytes: 0,
      })),
      ...(names.length > limit ? { nextToken: page.at(-1)?.name } : {}),
    };
  }
}

async function body(request: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : (JSON.parse(text) as Body);
}

function answer(response: ServerResponse, status: number, payload: Body): void {
  response.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1' });
  response.end(JSON.stringify(payload));
}

async function serve(state: LogsStandInState, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const target = String(request.headers['x-amz-target'] ?? '');
  const operation = target.startsWith('Logs_20140328.') ? target.slice('Logs_20140328.'.length) : '';
  try {
    answer(response, 200, state.handle(operation, await body(request)));
  } catch (error) {
    const fault = error instanceof Fault ? error : new Fault('ServiceUnavailableException', String(error));
    answer(response, fault.type === 'ServiceUnavailableException' ? 500 : 400, {
      __type: fault.type,
      message: fault.message,
    });
  }
}

export type LogsStandIn = LoopbackServer;

export async function startLogsStandIn(options: { port?: number } = {}): Promise<LogsStandIn> {
  const state = new LogsStandInState();
  const server: Server = createServer((request, response) => void serve(state, request, response));
  return listenOnLoopback(server, options.port);
}
