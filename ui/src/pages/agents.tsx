/** Agents: resources and GPUs, their tasks, and drain / deactivate / reactivate. */
import { useState } from 'preact/hooks';
import { operator, type Agent } from '../api.js';
import { gpuList, scalars, summary } from '../resources.js';
import { useCluster } from '../store.js';
import { Table } from '../table.js';
import { Link } from '../router.js';

function agentState(agent: Agent): string {
  if (agent.drain_info?.state) return agent.drain_info.state.toLowerCase();
  return agent.active ? 'active' : 'deactivated';
}

/** The GPU count, and the devices by model and index where the agent lists them (GET_AGENTS `gpus`). */
function Gpus(props: { agent: Agent }) {
  const count = scalars(props.agent.total_resources).gpus ?? 0;
  const devices = gpuList(props.agent.gpus);
  if (count === 0) return <>—</>;
  if (devices.length === 0) return <>{String(count)}</>;
  return (
    <ul class="gpus" aria-label={`${count} GPUs`}>
      {devices.map((device) => (
        <li key={device}>{device}</li>
      ))}
    </ul>
  );
}

interface Attribute {
  readonly name: string;
  readonly text?: { readonly value: string };
  readonly scalar?: { readonly value: number };
}

/** The agent's attributes (`gpu_model:A100`, `instance_type`, `zone` …), name:value. */
function attributes(agent: Agent): string {
  return ((agent.agent_info.attributes ?? []) as Attribute[])
    .map((a) => `${a.name}:${a.text?.value ?? a.scalar?.value ?? ''}`)
    .join(' ');
}

function Actions(props: { agent: Agent; onDone: (message: string) => void }) {
  const id = props.agent.agent_info.id?.value ?? '';
  const [busy, setBusy] = useState(false);
  const act = async (type: string, field: string, label: string) => {
    if (type === 'DRAIN_AGENT' && !confirm(`Drain ${props.agent.agent_info.hostname}? Its tasks will be killed.`))
      return;
    setBusy(true);
    try {
      await operator({ type, [field]: { agent_id: { value: id } } });
      props.onDone(`${label} ${id}`);
    } catch (error) {
      props.onDone(`${label} ${id} failed: ${(error as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="actions">
      <button type="button" disabled={busy} onClick={() => void act('DRAIN_AGENT', 'drain_agent', 'Drain')}>
        Drain
      </button>
      <button
        type="button"
        disabled={busy || !props.agent.active}
        onClick={() => void act('DEACTIVATE_AGENT', 'deactivate_agent', 'Deactivate')}
      >
        Deactivate
      </button>
      <button
        type="button"
        disabled={busy || props.agent.active}
        onClick={() => void act('REACTIVATE_AGENT', 'reactivate_agent', 'Reactivate')}
      >
        Reactivate
      </button>
    </div>
  );
}

export function Agents() {
  const cluster = useCluster();
  const [message, setMessage] = useState<string | null>(null);
  const tasksOn = new Map<string, number>();
  for (const task of cluster.tasks.values()) {
    const agent = task.agent_id?.value;
    if (agent && !task.state.match(/FINISHED|FAILED|KILLED|LOST|ERROR|DROPPED|GONE/)) {
      tasksOn.set(agent, (tasksOn.get(agent) ?? 0) + 1);
    }
  }
  const refresh = (text: string) => {
    setMessage(text);
    void operator<{ agents?: Agent[] }>({ type: 'GET_AGENTS' }).then((answer) => {
      for (const agent of answer.agents ?? []) cluster.putAgent(agent);
      cluster.changed();
    });
  };
  return (
    <>
      <h1>Agents</h1>
      <p role="status" aria-live="polite">
        {message}
      </p>
      <Table
        label="Agents"
        rows={[...cluster.agents.values()]}
        rowKey={(agent) => agent.agent_info.id?.value ?? agent.agent_info.hostname}
        columns={[
          { title: 'Agent', cell: (agent) => <code>{agent.agent_info.id?.value}</code> },
          { title: 'Host', cell: (agent) => agent.agent_info.hostname },
          { title: 'State', cell: (agent) => <span data-testid="agent-state">{agentState(agent)}</span> },
          { title: 'Total', cell: (agent) => summary(scalars(agent.total_resources)) },
          { title: 'Allocated', cell: (agent) => summary(scalars(agent.allocated_resources)) || '—' },
          { title: 'Offered', cell: (agent) => summary(scalars(agent.offered_resources)) || '—' },
          { title: 'GPUs', cell: (agent) => <Gpus agent={agent} /> },
          { title: 'Attributes', cell: (agent) => attributes(agent) || '—' },
          {
            title: 'Tasks',
            numeric: true,
            cell: (agent) => (
              <Link href={`/ui/tasks?agent=${encodeURIComponent(agent.agent_info.id?.value ?? '')}`}>
                {String(tasksOn.get(agent.agent_info.id?.value ?? '') ?? 0)}
              </Link>
            ),
          },
          { title: 'Actions', cell: (agent) => <Actions agent={agent} onDone={refresh} /> },
        ]}
      />
    </>
  );
}
