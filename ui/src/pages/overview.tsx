/** The overview: agents, frameworks, tasks by state, pending demand, and the last hour's allocation. */
import { operator, type Id } from '../api.js';
import { ResourceChart } from '../chart.js';
import { usePoll } from '../poll.js';
import { add, scalars, summary, type Totals } from '../resources.js';
import { CHARTED, series } from '../series.js';
import { useCluster } from '../store.js';
import { Link } from '../router.js';

interface PendingReason {
  readonly framework_id?: Id;
  readonly role?: string;
  readonly job_id?: string;
  readonly job_name?: string;
  readonly code: string;
  readonly message: string;
}

export function PendingReasons(props: { frameworkId?: string }) {
  const pending = usePoll(
    (signal) =>
      operator<{ reasons?: PendingReason[] }>(
        {
          type: 'GET_PENDING_REASONS',
          ...(props.frameworkId ? { get_pending_reasons: { framework_id: { value: props.frameworkId } } } : {}),
        },
        signal,
      ),
    5000,
    [props.frameworkId],
  );
  const reasons = pending.value?.reasons ?? [];
  return (
    <section aria-labelledby="pending-title">
      <h2 id="pending-title">Pending demand</h2>
      {pending.error && <p role="alert">{pending.error}</p>}
      {reasons.length === 0 ? (
        <p class="empty">Nothing waits.</p>
      ) : (
        <ul class="reasons">
          {reasons.map((reason) => (
            <li key={`${reason.framework_id?.value ?? reason.job_id}-${reason.role}`}>
              <strong>{reason.code}</strong> {reason.job_name ? `job ${reason.job_name}` : `role ${reason.role}`}:{' '}
              {reason.message}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function Overview() {
  const cluster = useCluster();
  const byState = new Map<string, number>();
  for (const task of cluster.tasks.values()) byState.set(task.state, (byState.get(task.state) ?? 0) + 1);
  const total: Totals = {};
  const allocated: Totals = {};
  for (const agent of cluster.agents.values()) {
    add(total, scalars(agent.total_resources));
    add(allocated, scalars(agent.allocated_resources));
  }
  const active = [...cluster.agents.values()].filter((agent) => agent.active).length;
  const connected = [...cluster.frameworks.values()].filter((framework) => framework.connected).length;
  return (
    <>
      <h1>Overview</h1>
      <div class="cards">
        <section class="card" aria-labelledby="agents-card">
          <h2 id="agents-card">
            <Link href="/ui/agents">Agents</Link>
          </h2>
          <p class="big" data-testid="agent-count">
            {cluster.agents.size}
          </p>
          <p>{active} active</p>
        </section>
        <section class="card" aria-labelledby="frameworks-card">
          <h2 id="frameworks-card">
            <Link href="/ui/frameworks">Frameworks</Link>
          </h2>
          <p class="big">{cluster.frameworks.size}</p>
          <p>{connected} connected</p>
        </section>
        <section class="card" aria-labelledby="resources-card">
          <h2 id="resources-card">Resources</h2>
          <p>Total: {summary(total) || '—'}</p>
          <p>Allocated: {summary(allocated) || '—'}</p>
        </section>
        <section class="card" aria-labelledby="tasks-card">
          <h2 id="tasks-card">
            <Link href="/ui/tasks">Tasks</Link>
          </h2>
          <p class="big">{cluster.tasks.size}</p>
          <dl class="states">
            {[...byState.entries()].sort().map(([state, count]) => (
              <div key={state}>
                <dt>{state.replace('TASK_', '')}</dt>
                <dd>{count}</dd>
              </div>
            ))}
          </dl>
        </section>
      </div>
      <section aria-labelledby="charts-title">
        <h2 id="charts-title">Allocation, last hour</h2>
        <div class="charts">
          {CHARTED.map((name) => (
            <ResourceChart key={name} name={name} series={series} version={cluster.version} />
          ))}
        </div>
      </section>
      <PendingReasons />
    </>
  );
}
