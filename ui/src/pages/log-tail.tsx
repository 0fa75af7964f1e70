/**
 * A task's stdout or stderr, followed live: the last 64 KiB first, then every 500 ms from the offset
 * reached (Mesos's files API, as `mantle logs -f` reads it), until the task has ended and all is read.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { readFile, type Task } from '../api.js';

const TAIL_BYTES = 65_536;
const POLL_MS = 500;
const KEEP_CHARS = 200_000;
const TERMINAL = /FINISHED|FAILED|KILLED|LOST|ERROR|DROPPED|GONE/;

export function sandboxPath(task: Task, file: string): string {
  const executor = task.executor_id?.value ?? task.task_id.value;
  return `/frameworks/${task.framework_id.value}/executors/${executor}/runs/latest/${file}`;
}

export function LogTail(props: { task: Task }) {
  const [file, setFile] = useState<'stdout' | 'stderr'>('stdout');
  const [text, setText] = useState('');
  const [note, setNote] = useState<string | null>(null);
  const box = useRef<HTMLPreElement>(null);
  const path = sandboxPath(props.task, file);
  useEffect(() => {
    let stopped = false;
    let offset = -1;
    setText('');
    setNote(null);
    const step = async () => {
      try {
        if (offset < 0) offset = Math.max(0, (await readFile(path, -1, 0)).offset - TAIL_BYTES);
        const chunk = await readFile(path, offset, TAIL_BYTES);
        offset = chunk.offset + new TextEncoder().encode(chunk.data).length;
        if (chunk.data) setText((old) => (old + chunk.data).slice(-KEEP_CHARS));
        if (!chunk.data && chunk.taskState && TERMINAL.test(chunk.taskState)) {
          setNote(`The task ended (${chunk.taskState}); this is all of its ${file}.`);
          return;
        }
      } catch (error) {
        setNote((error as Error).message.startsWith('404') ? `No ${file} yet.` : (error as Error).message);
      }
      if (!stopped) setTimeout(() => void step(), POLL_MS);
    };
    void step();
    return () => {
      stopped = true;
    };
  }, [path]);
  useEffect(() => {
    const pre = box.current;
    if (pre) pre.scrollTop = pre.scrollHeight;
  }, [text]);
  return (
    <section aria-labelledby="log-title">
      <h3 id="log-title">Output</h3>
      <div role="group" aria-label="Which file" class="toggle">
        {(['stdout', 'stderr'] as const).map((name) => (
          <button type="button" key={name} aria-pressed={file === name} onClick={() => setFile(name)}>
            {name}
          </button>
        ))}
      </div>
      <pre class="log" ref={box} tabIndex={0} aria-label={`${file} of ${props.task.task_id.value}`} aria-live="off">
        {text}
      </pre>
      {note && <p class="note">{note}</p>}
    </section>
  );
}
