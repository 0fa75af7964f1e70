/** One job: its spec's essentials, children by state, and every attempt. */
import { Table } from '../table.js';

export interface Attempt {
  readonly attempt: number;
  readonly gang_index: number | null;
  readonly task_id: string;
  readonly hostname: string | null;
  readonly state: string | null;
  readonly started_at: string | null;
  readonly ended_at: string | null;
  readonly exit_code: number | null;
  readonly message: string | null;
}

export interface Job {
  readonly id: string;
  readonly name: string;
  readonly queue: string;
  readonly state: string;
  readonly command: string | null;
  readonly pending_reason: string | null;
  readonly status_reason: string | null;
  readonly array: { readonly size: number } | null;
  readonly schedule: string | null;
  readonly next_tick: string | null;
  readonly children: Record<string, number> | null;
  readonly attempts: readonly Attempt[];
}

export function JobDetail(props: { job: Job }) {
  const { job } = props;
  return (
    <section class="detail" aria-labelledby="job-title">
      <h2 id="job-title">
        Job <code>{job.id}</code>
      </h2>
      <dl class="facts">
        <dt>Name</dt>
        <dd>{job.name}</dd>
        <dt>State</dt>
        <dd>{job.state}</dd>
        <dt>Command</dt>
        <dd>
          <code>{job.command ?? '(the image’s)'}</code>
        </dd>
        {job.pending_reason && (
          <>
            <dt>Why pending</dt>
            <dd>{job.pending_reason}</dd>
          </>
        )}
        {job.status_reason && (
          <>
            <dt>Reason</dt>
            <dd>{job.status_reason}</dd>
          </>
        )}
        {job.schedule && (
          <>
            <dt>Schedule</dt>
            <dd>
              {job.schedule} (next {job.next_tick ?? 'none'})
            </dd>
          </>
        )}
        {job.children && (
          <>
            <dt>Children</dt>
            <dd>
              {Object.entries(job.children)
                .map(([state, count]) => `${state.toLowerCase()} ${count}`)
                .join(' · ')}
            </dd>
          </>
        )}
      </dl>
      <Table
        label="Attempts"
        rows={job.attempts}
        rowKey={(a) => a.task_id}
        columns={[
          { title: 'Attempt', numeric: true, cell: (a) => String(a.attempt) },
          { title: 'Task', cell: (a) => <code>{a.task_id}</code> },
          { title: 'Host', cell: (a) => a.hostname ?? '—' },
          { title: 'State', cell: (a) => a.state ?? '—' },
          { title: 'Started', cell: (a) => a.started_at ?? '—' },
          { title: 'Ended', cell: (a) => a.ended_at ?? '—' },
          { title: 'Exit', numeric: true, cell: (a) => (a.exit_code === null ? '—' : String(a.exit_code)) },
        ]}
      />
    </section>
  );
}
