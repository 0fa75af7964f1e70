/**
 * bench:scale's view of the master's queues: each queue's messages waiting and in flight, sampled every few
 * seconds, the latest for the progress lines and the peaks for the results. Which consumer falls behind shows as a
 * queue whose waiting count grows.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';

export interface QueueDepth {
  /** Visible messages: the backlog. */
  waiting: number;
  /** Received and not yet deleted (SQS's in-flight quota counts these). */
  in_flight: number;
}

export class QueueDepths {
  readonly latest = new Map<string, QueueDepth>();
  readonly peak = new Map<string, QueueDepth>();
  private readonly timer: NodeJS.Timeout;

  private readonly queues: Record<string, string>;

  constructor(
    private readonly sqs: SQSClient,
    queues: Readonly<Record<string, string>>,
    intervalMs = 2000,
  ) {
    this.queues = { ...queues };
    this.timer = setInterval(() => void this.sample(), intervalMs);
  }

  /** Watches one more queue from now on. */
  add(name: string, url: string): void {
    this.queues[name] = url;
  }

  private async sample(): Promise<void> {
    await Promise.all(
      Object.entries(this.queues).map(async ([name, url]) => {
        try {
          const { Attributes: attributes = {} } = await this.sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: url,
              AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
            }),
          );
          const inFlight = Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
          // The stand-in's ApproximateNumberOfMessages counts the in-flight ones too (SQS's does not).
          const depth = {
            waiting: Math.max(0, Number(attributes.ApproximateNumberOfMessages ?? 0) - inFlight),
            in_flight: inFlight,
          };
          this.latest.set(name, depth);
          const peak = this.peak.get(name) ?? { waiting: 0, in_flight: 0 };
          this.peak.set(name, {
            waiting: Math.max(peak.waiting, depth.waiting),
            in_flight: Math.max(peak.in_flight, depth.in_flight),
          });
        } catch {
          // A sample missed (the stand-in busy or stopping): the next one counts.
        }
      }),
    );
  }

  /** "status 120 waiting/10 in flight, heartbeats ..." */
  line(): string {
    return [...this.latest]
      .map(([name, depth]) => `${name} ${depth.waiting} waiting/${depth.in_flight} in flight`)
      .join(', ');
  }

  peaks(): Record<string, QueueDepth> {
    return Object.fromEntries(this.peak);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
