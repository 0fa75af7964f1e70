/** A fetch that failed for a reason the task's status message gives. */
export class FetchError extends Error {
  override readonly name = 'FetchError';
}
