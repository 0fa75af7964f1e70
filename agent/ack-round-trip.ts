/**
 * How long the master and the framework take to acknowledge a status update, as the agent sees it, and the first
 * retry interval that follows from it: TCP's retransmission timer (RFC 6298: smoothed round trip + 4 × its
 * variation), floored at Mesos's fixed minimum and capped at its maximum.
 *
 * Why not Mesos's fixed 10 s: here the update travels on a durable queue, so a resend only guards against a
 * framework that lost its copy. Under a backlog (10,000 jobs queued) acknowledgements take longer than 10 s, and a
 * fixed timer resent every update several times, adding to the very backlog it was waiting on. Pure.
 */

/** RFC 6298's gains: 1/8 for the mean, 1/4 for the variation. */
const ALPHA = 1 / 8;
const BETA = 1 / 4;

export class AckRoundTrip {
  private smoothed: number | undefined;
  private variation = 0;

  /** One update's round trip: first sent → acknowledged, in ms. */
  sample(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    if (this.smoothed === undefined) {
      this.smoothed = ms;
      this.variation = ms / 2;
      return;
    }
    this.variation = (1 - BETA) * this.variation + BETA * Math.abs(this.smoothed - ms);
    this.smoothed = (1 - ALPHA) * this.smoothed + ALPHA * ms;
  }

  /** The first retry interval: the estimate's timeout, within [minMs, maxMs]; minMs until anything was measured. */
  firstRetryMs(minMs: number, maxMs: number): number {
    if (this.smoothed === undefined) return minMs;
    return Math.min(maxMs, Math.max(minMs, Math.round(this.smoothed + 4 * this.variation)));
  }
}
