/**
 * How a custom executor's end is told (Mesos `Slave::executorTerminated`): the reason and message its
 * unfinished tasks end with, and the status of the framework's FAILURE event, which Mesos gives as the
 * raw `waitpid` status (WEXITSTATUS of it is the exit code). Pure.
 */
import { constants } from 'node:os';
import type { TaskStatusReason } from '#shared/protocol/mesos.js';
import { describeTermination, type Termination } from '../containerizer/containerizer.js';

/** Why an executor run ended: it timed out subscribing (again), was shut down, or exited by itself. */
export type EndCause = 'registration-timeout' | 'reregistration-timeout' | 'shutdown' | 'exited';

/** The `waitpid` status of an ending: the exit code in the second byte, or the signal number in the first. */
export function waitStatus(termination: Termination): number {
  if (termination.signal !== undefined) {
    return constants.signals[termination.signal as NodeJS.Signals] ?? constants.signals.SIGKILL;
  }
  return ((termination.exitCode ?? 1) & 0xff) << 8;
}

export function terminationReport(
  cause: EndCause,
  termination: Termination,
  timeouts: { readonly registrationTimeoutMs: number; readonly reregistrationTimeoutMs: number },
): { reason: TaskStatusReason; message: string } {
  if (cause === 'registration-timeout') {
    return {
      reason: 'REASON_EXECUTOR_REGISTRATION_TIMEOUT',
      message: `Executor did not register within ${timeouts.registrationTimeoutMs / 1000}secs`,
    };
  }
  if (cause === 'reregistration-timeout') {
    return {
      reason: 'REASON_EXECUTOR_REREGISTRATION_TIMEOUT',
      message: `Executor did not re-register within ${timeouts.reregistrationTimeoutMs / 1000}secs after the agent restarted`,
    };
  }
  if (termination.oomKilled) {
    return {
      reason: 'REASON_CONTAINER_LIMITATION_MEMORY',
      message: 'Executor killed by the OOM killer: memory limit exceeded',
    };
  }
  const what = cause === 'shutdown' ? 'Executor shut down' : 'Executor terminated';
  return { reason: 'REASON_EXECUTOR_TERMINATED', message: `${what}: ${describeTermination(termination)}` };
}
