/**
 * The master's APIs as the browser calls them: the operator API (POST /api/v1), its SUBSCRIBE stream
 * (RecordIO over fetch streaming), the files API and the Jobs REST API. The operator's credential lives
 * in sessionStorage (gone when the tab closes) and travels only in the Authorization header.
 */
const CREDENTIAL_KEY = 'mantle.credential';

/** Raised on a 401: the page asks for a login. */
export class LoginRequired extends Error {}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function credential(): string | null {
  return sessionStorage.getItem(CREDENTIAL_KEY);
}

/** Basic for principal and secret, or the Bearer token `mantle principal create` prints. */
export function saveCredential(principal: string, secret: string): void {
  const value = principal ? `Basic ${btoa(`${principal}:${secret}`)}` : `Bearer ${secret}`;
  sessionStorage.setItem(CREDENTIAL_KEY, value);
}

export function forgetCredential(): void {
  sessionStorage.removeItem(CREDENTIAL_KEY);
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const auth = credential();
  // X-Requested-With: the master then answers a 401 without a Basic challenge (no browser prompt).
  return {
    Accept: 'application/json',
    'X-Requested-With': 'XMLHttpRequest',
    ...(auth ? { Authorization: auth } : {}),
    ...extra,
  };
}

async function checked(response: Response): Promise<Response> {
  if (response.ok) return response;
  if (response.status === 401) throw new LoginRequired('Authentication required');
  const body = await response.text();
  let message = body;
  try {
    message = (JSON.parse(body) as { message?: string }).message ?? body;
  } catch {
    // A plain-text error body, as the operator API answers.
  }
  throw new ApiError(response.status, `${response.status}: ${message || response.statusText}`);
}

/** One operator call; answers the Response's sub-message (`get_agents` for GET_AGENTS), or undefined. */
export async function operator<T>(call: { type: string } & Record<string, unknown>, signal?: AbortSignal): Promise<T> {
  const response = await checked(
    await fetch('/api/v1', {
      method: 'POST',
      headers: headers({ 'Content-Type': 'application/json' }),
      body: JSON.stringify(call),
      ...(signal ? { signal } : {}),
    }),
  );
  const text = await response.text();
  if (!text) return undefined as T;
  const json = JSON.parse(text) as Record<string, unknown>;
  return json[call.type.toLowerCase()] as T;
}

/** Splits a RecordIO byte stream (`<length>\n<json>`) into records. */
export async function* recordIo(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = new Uint8Array(0);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const joined = new Uint8Array(buffer.length + value.length);
    joined.set(buffer);
    joined.set(value, buffer.length);
    buffer = joined;
    for (;;) {
      const newline = buffer.indexOf(10);
      if (newline < 0) break;
      const length = Number(decoder.decode(buffer.subarray(0, newline)));
      if (buffer.length < newline + 1 + length) break;
      yield JSON.parse(decoder.decode(buffer.subarray(newline + 1, newline + 1 + length)));
      buffer = buffer.slice(newline + 1 + length);
    }
  }
}

/**
 * The operator event stream; ends when the master closes it (the caller resubscribes). SUBSCRIBED
 * leaves the tasks out (Mantle's `omit_tasks`): the tab pages them with taskPage instead.
 */
export async function* subscribe(signal: AbortSignal): AsyncGenerator<OperatorEvent> {
  const response = await checked(
    await fetch('/api/v1', {
      method: 'POST',
      headers: headers({ 'Content-Type': 'application/json' }),
      body: JSON.stringify({ type: 'SUBSCRIBE', subscribe: { omit_tasks: true } }),
      signal,
    }),
  );
  if (!response.body) throw new ApiError(500, 'SUBSCRIBE answered no stream');
  for await (const record of recordIo(response.body)) yield record as OperatorEvent;
}

export type TaskPage = NonNullable<State['get_tasks']> & { readonly next_cursor?: string };

/** One page of the tasks (GET_TASKS with Mantle's `get_tasks`): from `cursor`, at most `limit`. */
export function taskPage(limit: number, cursor: string | undefined, signal: AbortSignal): Promise<TaskPage> {
  return operator<TaskPage>({ type: 'GET_TASKS', get_tasks: { limit, ...(cursor ? { cursor } : {}) } }, signal);
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await checked(await fetch(path, { headers: headers(), ...(signal ? { signal } : {}) }));
  return (await response.json()) as T;
}

export async function sendJson<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const response = await checked(
    await fetch(path, {
      method,
      headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );
  return (await response.json()) as T;
}

export interface FileChunk {
  readonly data: string;
  readonly offset: number;
  readonly taskState: string | null;
}

/** A stretch of a task's output through Mesos's files API. */
export async function readFile(path: string, offset: number, length: number): Promise<FileChunk> {
  const query = new URLSearchParams({ path, offset: String(offset), length: String(length) });
  const response = await checked(await fetch(`/files/read?${query}`, { headers: headers() }));
  const json = (await response.json()) as { data: string; offset: number };
  return { ...json, taskState: response.headers.get('Mantle-Task-State') };
}

// The shapes the UI reads of Mesos's operator JSON (master.proto), loosely: unknown fields pass through.
export interface Id {
  readonly value: string;
}
export interface Resource {
  readonly name: string;
  readonly type: string;
  readonly scalar?: { readonly value: number };
  readonly ranges?: { readonly range: ReadonlyArray<{ begin: number; end: number }> };
  readonly set?: { readonly item: readonly string[] };
  readonly allocation_info?: { readonly role?: string };
  readonly reservations?: ReadonlyArray<{ readonly role?: string }>;
}
export interface TaskStatus {
  readonly state: string;
  readonly timestamp?: number;
  readonly message?: string;
  readonly reason?: string;
  readonly source?: string;
}
export interface Task {
  readonly name: string;
  readonly task_id: Id;
  readonly framework_id: Id;
  readonly agent_id?: Id;
  readonly executor_id?: Id;
  readonly state: string;
  readonly resources: readonly Resource[];
  readonly statuses?: readonly TaskStatus[];
}
/** One GPU as GET_AGENTS lists it (Mantle's `gpus` field of an agent; docs/operator.md). */
export interface AgentGpu {
  readonly index: number;
  readonly uuid: string;
  readonly model: string;
  readonly memory_mib: number;
  readonly mig_parent_uuid?: string;
  readonly mig_profile?: string;
}

export interface Agent {
  readonly agent_info: { readonly hostname: string; readonly id?: Id; readonly attributes?: readonly unknown[] };
  readonly active: boolean;
  readonly deactivated?: boolean;
  readonly total_resources?: readonly Resource[];
  readonly allocated_resources?: readonly Resource[];
  readonly offered_resources?: readonly Resource[];
  readonly drain_info?: { readonly state: string };
  /** Mantle's extension: the GPUs behind `gpus`, as the agent found them (absent: none, or an older agent). */
  readonly gpus?: readonly AgentGpu[];
}
export interface Framework {
  readonly framework_info: {
    readonly name: string;
    readonly id?: Id;
    readonly roles?: readonly string[];
    readonly role?: string;
    readonly principal?: string;
  };
  readonly active: boolean;
  readonly connected: boolean;
  readonly offers?: readonly unknown[];
  readonly allocated_resources?: readonly Resource[];
  readonly offered_resources?: readonly Resource[];
}
export interface State {
  readonly get_tasks?: {
    readonly tasks?: readonly Task[];
    readonly completed_tasks?: readonly Task[];
    readonly unreachable_tasks?: readonly Task[];
    readonly pending_tasks?: readonly Task[];
  };
  readonly get_frameworks?: { readonly frameworks?: readonly Framework[] };
  readonly get_agents?: { readonly agents?: readonly Agent[] };
}
export interface OperatorEvent {
  readonly type: string;
  readonly subscribed?: { readonly get_state: State };
  readonly task_added?: { readonly task: Task };
  readonly task_updated?: {
    readonly framework_id: Id;
    readonly status: TaskStatus & { task_id: Id };
    readonly state: string;
  };
  readonly agent_added?: { readonly agent: Agent };
  readonly agent_removed?: { readonly agent_id: Id };
  readonly framework_added?: { readonly framework: Framework };
  readonly framework_updated?: { readonly framework: Framework };
  readonly framework_removed?: { readonly framework_info: { readonly id?: Id } };
}
