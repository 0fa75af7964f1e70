/**
 * Tasks: search and filter (10,000 rows, virtualised; drawn from the first page of tasks while the rest
 * page in), and a task's state history and live output.
 */
import { useMemo, useState } from 'preact/hooks';
import type { Task } from '../api.js';
import { scalars, summary } from '../resources.js';
import { useCluster, type Cluster } from '../store.js';
import { Table } from '../table.js';
import { navigate, useLocation } from '../router.js';
import { LogTail } from './log-tail.js';

const STATES = [
  'TASK_STAGING',
  'TASK_STARTING',
  'TASK_RUNNING',
  'TASK_KILLING',
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_LOST',
  'TASK_ERROR',
  'TASK_UNREACHABLE',
  'TASK_GONE',
  'TASK_DROPPED',
];

function TaskDetail(props: { task: Task; cluster: Cluster }) {
  const history = props.cluster.history.get(props.task.task_id.value) ?? [];
  return (
    <section class="detail" aria-labelledby="task-title">
      <h2 id="task-title">
        Task <code>{props.task.task_id.value}</code>
      </h2>
      <dl class="facts">
        <dt>Name</dt>
        <dd>{props.task.name}</dd>
        <dt>State</dt>
        <dd data-testid="task-state">{props.task.state}</dd>
        <dt>Framework</dt>
        <dd>
          {props.cluster.frameworks.get(props.task.framework_id.value)?.framework_info.name ??
            props.task.framework_id.value}
        </dd>
        <dt>Agent</dt>
        <dd>{props.task.agent_id?.value ?? '—'}</dd>
        <dt>Resources</dt>
        <dd>{summary(scalars(props.task.resources))}</dd>
      </dl>
      <h3>State history</h3>
      <ol class="history">
        {history.map((step) => (
          <li key={`${step.state}-${step.at}`}>
            <time dateTime={new Date(step.at).toISOString()}>{new Date(step.at).toLocaleTimeString()}</time>{' '}
            {step.state}
            {step.message ? ` — ${step.message}` : ''}
          </li>
        ))}
      </ol>
      <LogTail task={props.task} />
    </section>
  );
}

function matches(task: Task, query: URLSearchParams): boolean {
  const text = (query.get('q') ?? '').toLowerCase();
  const state = query.get('state');
  const framework = query.get('framework');
  const agent = query.get('agent');
  if (state && task.state !== state) return false;
  if (framework && task.framework_id.value !== framework) return false;
  if (agent && task.agent_id?.value !== agent) return false;
  return !text || task.task_id.value.toLowerCase().includes(text) || task.name.toLowerCase().includes(text);
}

function setQuery(url: URL, name: string, value: string): void {
  if (value) url.searchParams.set(name, value);
  else url.searchParams.delete(name);
  history.replaceState(null, '', url);
}

export function Tasks() {
  const cluster = useCluster();
  const url = useLocation();
  const [, setFilter] = useState(0);
  const query = url.searchParams;
  const rows = useMemo(
    () => [...cluster.tasks.values()].filter((task) => matches(task, query)).reverse(),
    [cluster.version, url.search],
  );
  const selectedId = query.get('id');
  const selected = selectedId ? cluster.tasks.get(selectedId) : undefined;
  const update = (name: string, value: string) => {
    setQuery(url, name, value);
    setFilter((n) => n + 1);
  };
  return (
    <>
      <h1>Tasks</h1>
      <form class="filters" role="search" onSubmit={(event) => event.preventDefault()}>
        <label>
          Search{' '}
          <input type="search" value={query.get('q') ?? ''} onInput={(e) => update('q', e.currentTarget.value)} />
        </label>
        <label>
          State{' '}
          <select value={query.get('state') ?? ''} onChange={(e) => update('state', e.currentTarget.value)}>
            <option value="">any</option>
            {STATES.map((state) => (
              <option key={state} value={state}>
                {state}
              </option>
            ))}
          </select>
        </label>
        <span role="status">
          {rows.length} of {cluster.tasks.size} tasks{cluster.loadingTasks ? ', loading more…' : ''}
        </span>
      </form>
      <div class="split">
        <Table
          label="Tasks"
          rows={rows}
          rowKey={(task) => task.task_id.value}
          selected={selectedId}
          onSelect={(task) => {
            url.searchParams.set('id', task.task_id.value);
            navigate(url.pathname + url.search);
          }}
          columns={[
            { title: 'Task', cell: (task) => <code>{task.task_id.value}</code> },
            { title: 'Name', cell: (task) => task.name },
            { title: 'State', cell: (task) => task.state },
            { title: 'Resources', cell: (task) => summary(scalars(task.resources)) },
          ]}
        />
        {selected && <TaskDetail key={selected.task_id.value} task={selected} cluster={cluster} />}
      </div>
    </>
  );
}
