/**
 * Gates: a task that must still run when the test looks waits for a file the test writes once it has seen what
 * it waits for, never for a fixed time, which a loaded machine can outlast.
 */

/**
 * A shell command that ends once `file` exists (a relative name is the task's sandbox), or, with `whileFolder`, once
 * that folder is gone: a task that outlives its agent then stops when a failed test removes its folder.
 */
export function untilFile(file: string, whileFolder?: string): string {
  const gone = whileFolder === undefined ? '' : ` && [ -d ${whileFolder} ]`;
  return `while [ ! -e ${file} ]${gone}; do sleep 0.1; done`;
}
