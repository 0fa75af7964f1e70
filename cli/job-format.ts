/** How `mantle job` and `mantle queue` print jobs and queues for people (`--json` prints the API's JSON). */
import type { Attempt, Job } from '../frameworks/jobs/model.js';
import type { Queue } from '../frameworks/jobs/service.js';

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function clip(text: string, max = 72): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** What a job waits for or why it ended, in a few words. */
export function reasonOf(job: Pick<Job, 'pending_reason' | 'status_reason'>): string {
  return job.pending_reason ?? job.status_reason ?? '';
}

/** Resources as Mesos text: `cpus:1;mem:128;gpus:1`. */
export function resourceText(job: Pick<Job, 'resources'>): string {
  return job.resources.map((resource) => `${resource.name}:${resource.scalar?.value ?? '?'}`).join(';');
}

export function jobsTable(jobs: readonly Job[]): string[] {
  if (jobs.length === 0) return ['no jobs'];
  return table(
    ['ID', 'NAME', 'QUEUE', 'PRIORITY', 'STATE', 'CREATED', 'REASON'],
    jobs.map((job) => [
      job.id,
      clip(job.name, 32),
      job.queue,
      String(job.priority),
      job.state,
      job.created_at,
      clip(reasonOf(job)),
    ]),
  );
}

function attemptRows(attempts: readonly Attempt[]): string[] {
  if (attempts.length === 0) return ['attempts:  none yet'];
  return [
    'attempts:',
    ...table(
      ['#', 'TASK', 'HOST', 'STATE', 'STARTED', 'ENDED', 'EXIT', 'MESSAGE'],
      attempts.map((attempt) => [
        String(attempt.attempt),
        attempt.task_id,
        attempt.hostname ?? '-',
        attempt.state,
        attempt.started_at ?? '-',
        attempt.ended_at ?? '-',
        attempt.exit_code === null ? '-' : String(attempt.exit_code),
        clip(attempt.message ?? ''),
      ]),
    ).map((row) => `  ${row}`),
  ];
}

/** `mantle job show`: the fields that matter, then the attempts. */
export function showJob(job: Job): string[] {
  const optional: Array<[string, unknown]> = [
    ['parent', job.parent],
    ['array', job.array ? `${job.array.size} children` : null],
    ['children', job.children ? Object.entries(job.children).map(([state, n]) => `${state} ${n}`) : null],
    ['gang', job.gang],
    ['schedule', job.schedule ? `${job.schedule} (next ${job.next_tick ?? 'none'})` : null],
    ['depends', job.depends_on.length > 0 ? job.depends_on.map((d) => `${d.job} (${d.condition})`) : null],
    ['image', job.docker_image],
    ['command', job.command],
    ['timeout', job.timeout_seconds !== null ? `${job.timeout_seconds} s` : null],
    ['retry at', job.retry_at],
    ['pending', job.pending_reason],
    ['reason', job.status_reason],
  ];
  const lines = [
    `job:       ${job.id}  ${job.name}`,
    `state:     ${job.state}`,
    `queue:     ${job.queue}  priority ${job.priority}`,
    `resources: ${resourceText(job)}`,
    `retries:   ${job.retries} (backoff ${job.retry_backoff_seconds} s)`,
    `created:   ${job.created_at}`,
  ];
  for (const [label, value] of optional) {
    if (value === null || value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : String(value);
    lines.push(`${`${label}:`.padEnd(11)}${text}`);
  }
  return [...lines, ...attemptRows(job.attempts)];
}

function quantities(values: Readonly<Record<string, number>>): string {
  const entries = Object.entries(values);
  return entries.length === 0 ? '-' : entries.map(([name, value]) => `${name}=${value}`).join(',');
}

export function queuesTable(queues: readonly Queue[]): string[] {
  if (queues.length === 0) return ['no queues'];
  return table(
    ['QUEUE', 'WEIGHT', 'GUARANTEES', 'LIMITS', 'PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'],
    queues.map((queue) => [
      queue.name,
      String(queue.weight),
      quantities(queue.quota.guarantees),
      quantities(queue.quota.limits),
      ...(['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const).map((state) =>
        String(queue.counts[state]),
      ),
    ]),
  );
}
