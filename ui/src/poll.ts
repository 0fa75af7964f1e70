/** Re-reads something every few seconds while a page shows it. */
import { useEffect, useState } from 'preact/hooks';

export interface Polled<T> {
  readonly value: T | undefined;
  readonly error: string | null;
  readonly refresh: () => void;
}

export function usePoll<T>(
  read: (signal: AbortSignal) => Promise<T>,
  everyMs: number,
  deps: unknown[] = [],
): Polled<T> {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    const run = () =>
      read(controller.signal).then(
        (next) => {
          setValue(next);
          setError(null);
        },
        (failure: Error) => {
          if (!controller.signal.aborted) setError(failure.message);
        },
      );
    void run();
    const timer = setInterval(() => void run(), everyMs);
    return () => {
      controller.abort();
      clearInterval(timer);
    };
  }, [tick, ...deps]);
  return { value, error, refresh: () => setTick((n) => n + 1) };
}
