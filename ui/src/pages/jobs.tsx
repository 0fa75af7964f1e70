/** Mantle Jobs: queues, jobs (paged) with pending reasons, arrays, schedules and attempts; submit, cancel. */
import { useState } from 'preact/hooks';
import { getJson, sendJson } from '../api.js';
import { usePoll } from '../poll.js';
import { Table } from '../table.js';
import { JobDetail, type Job } from './job-detail.js';
import { SubmitJob } from './submit-job.js';

interface Queue {
  readonly name: string;
  readonly weight: number;
  readonly counts?: Record<string, number>;
}

const JOB_STATES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];

function Queues() {
  const queues = usePoll((signal) => getJson<{ queues: Queue[] }>('/api/jobs/v1/queues', signal), 5000);
  return (
    <section aria-labelledby="queues-title">
      <h2 id="queues-title">Queues</h2>
      {queues.error && <p role="alert">{queues.error}</p>}
      <Table
        label="Queues"
        rows={queues.value?.queues ?? []}
        rowKey={(queue) => queue.name}
        columns={[
          { title: 'Queue', cell: (queue) => queue.name },
          { title: 'Weight', numeric: true, cell: (queue) => String(queue.weight) },
          ...JOB_STATES.map((state) => ({
            title: state.toLowerCase(),
            numeric: true,
            cell: (queue: Queue) => String(queue.counts?.[state] ?? 0),
          })),
        ]}
      />
    </section>
  );
}

function useJobs(state: string, pages: number) {
  return usePoll(
    async (signal) => {
      const all: Job[] = [];
      let next: string | null = null;
      for (let page = 0; page < pages; page++) {
        const query: URLSearchParams = new URLSearchParams({
          limit: '100',
          ...(state ? { state } : {}),
          ...(next ? { next } : {}),
        });
        const answer: { jobs: Job[]; next: string | null } = await getJson(`/api/jobs/v1/jobs?${query}`, signal);
        all.push(...answer.jobs);
        next = answer.next;
        if (!next) break;
      }
      return { jobs: all, more: next !== null };
    },
    2000,
    [state, pages],
  );
}

function JobTable(props: {
  jobs: readonly Job[];
  selected: string | null;
  onSelect: (job: Job) => void;
  onCancel: (job: Job) => void;
}) {
  return (
    <Table
      label="Jobs"
      rows={props.jobs}
      rowKey={(job) => job.id}
      selected={props.selected}
      onSelect={props.onSelect}
      columns={[
        { title: 'Job', cell: (job) => <code>{job.id}</code> },
        { title: 'Name', cell: (job) => job.name },
        { title: 'Queue', cell: (job) => job.queue },
        { title: 'State', cell: (job) => <span data-testid="job-state">{job.state}</span> },
        { title: 'Why pending', cell: (job) => job.pending_reason ?? '' },
        {
          title: 'Kind',
          cell: (job) => (job.array ? `array of ${job.array.size}` : job.schedule ? `schedule ${job.schedule}` : ''),
        },
        { title: 'Attempts', numeric: true, cell: (job) => String(job.attempts.length) },
        {
          title: 'Cancel',
          cell: (job) =>
            job.state === 'PENDING' || job.state === 'RUNNING' ? (
              <button
                type="button"
                aria-label={`Cancel ${job.id}`}
                onClick={(event) => (event.stopPropagation(), props.onCancel(job))}
              >
                Cancel
              </button>
            ) : null,
        },
      ]}
    />
  );
}

export function Jobs() {
  const [state, setState] = useState('');
  const [pages, setPages] = useState(1);
  const [selected, setSelected] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const jobs = useJobs(state, pages);
  const cancel = async (job: Job) => {
    try {
      await sendJson('DELETE', `/api/jobs/v1/jobs/${encodeURIComponent(job.id)}`);
      setMessage(`Cancelled ${job.id}`);
    } catch (error) {
      setMessage((error as Error).message);
    }
    jobs.refresh();
  };
  const shown = jobs.value?.jobs.find((job) => job.id === selected);
  return (
    <>
      <h1>Jobs</h1>
      <Queues />
      <SubmitJob
        onSubmitted={(job) => {
          setMessage(`Submitted ${job.id}`);
          setSelected(job.id);
          jobs.refresh();
        }}
      />
      <section aria-labelledby="jobs-title">
        <h2 id="jobs-title">Jobs</h2>
        <p role="status" aria-live="polite">
          {message}
        </p>
        {jobs.error && <p role="alert">{jobs.error}</p>}
        <label>
          State{' '}
          <select value={state} onChange={(e) => setState(e.currentTarget.value)}>
            <option value="">any</option>
            {JOB_STATES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <JobTable
          jobs={jobs.value?.jobs ?? []}
          selected={selected}
          onSelect={(job) => setSelected(job.id)}
          onCancel={(job) => void cancel(job)}
        />
        {jobs.value?.more && (
          <button type="button" onClick={() => setPages((n) => n + 1)}>
            More
          </button>
        )}
      </section>
      {shown && <JobDetail job={shown} />}
    </>
  );
}
