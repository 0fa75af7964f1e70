/**
 * The small interface between the agents, which ship their tasks' output, and the master, which serves
 * it through the files API (docs/operator.md "Task output"). CloudWatch Logs implements it in AWS and,
 * through the same client, the local cluster's stand-in (cloudwatch.ts, local/logs-standin.ts).
 */

/** One stretch of a file's text, as written; the file is its events' messages in order. */
export interface TaskLogEvent {
  /** When it was read from the file (ms since the epoch). */
  readonly timestamp: number;
  readonly message: string;
}

/** What the agents use: append to a stream, which is created when missing. */
export interface TaskLogWriter {
  /** Appends events (in order, oldest first) to the stream; throws once its retries are spent. */
  append(stream: string, events: readonly TaskLogEvent[]): Promise<void>;
}

export interface TaskLogStream {
  readonly name: string;
  /** When the stream was created (ms since the epoch). */
  readonly createdAt: number;
  /** When its newest event was written, when the store says. */
  readonly lastEventAt?: number;
}

/** A stretch of a stream's bytes (its messages' UTF-8 bytes, concatenated). */
export interface TaskLogRead {
  readonly data: Buffer;
  /** True when the read reached the end of what the stream holds now. */
  readonly end: boolean;
}

/** What the master uses: list streams under a prefix, read a stream by byte offset. */
export interface TaskLogReader {
  /** Streams whose names start with `prefix`, at most `limit` of them. */
  list(prefix: string, limit?: number): Promise<TaskLogStream[]>;
  /** Up to `length` bytes from byte `offset`; undefined when the stream does not exist. */
  read(stream: string, offset: number, length: number): Promise<TaskLogRead | undefined>;
  /** The stream's size in bytes; undefined when it does not exist. */
  size(stream: string): Promise<number | undefined>;
}
