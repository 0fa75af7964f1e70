/** The submit form: a job spec's common fields, sent as POST /api/jobs/v1/jobs. */
import { useState } from 'preact/hooks';
import { sendJson } from '../api.js';
import type { Job } from './job-detail.js';

function spec(form: HTMLFormElement): Record<string, unknown> {
  const data = new FormData(form);
  const text = (name: string) => String(data.get(name) ?? '').trim();
  const number = (name: string) => (text(name) ? Number(text(name)) : undefined);
  const body: Record<string, unknown> = { name: text('name'), queue: text('queue') || 'default' };
  if (text('command')) body.command = text('command');
  if (text('docker_image')) body.docker_image = text('docker_image');
  if (text('resources')) body.resources = text('resources');
  if (number('retries') !== undefined) body.retries = number('retries');
  if (number('array') !== undefined) body.array = { size: number('array') };
  if (text('schedule')) body.schedule = text('schedule');
  return body;
}

export function SubmitJob(props: { onSubmitted: (job: Job) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    setBusy(true);
    setError(null);
    try {
      props.onSubmitted(await sendJson<Job>('POST', '/api/jobs/v1/jobs', spec(form)));
      form.reset();
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <details class="submit">
      <summary>Submit a job</summary>
      <form onSubmit={(event) => void submit(event)} aria-describedby={error ? 'submit-error' : undefined}>
        <label>
          Name <input name="name" required maxLength={255} />
        </label>
        <label>
          Queue <input name="queue" placeholder="default" />
        </label>
        <label class="wide">
          Command <input name="command" placeholder="echo hello" />
        </label>
        <label>
          Docker image <input name="docker_image" />
        </label>
        <label>
          Resources <input name="resources" placeholder="cpus:1;mem:128" />
        </label>
        <label>
          Retries <input name="retries" type="number" min={0} max={100} />
        </label>
        <label>
          Array size <input name="array" type="number" min={1} max={10000} />
        </label>
        <label>
          Schedule <input name="schedule" placeholder="*/5 * * * *" />
        </label>
        <button type="submit" disabled={busy}>
          Submit
        </button>
        {error && (
          <p id="submit-error" role="alert">
            {error}
          </p>
        )}
      </form>
    </details>
  );
}
