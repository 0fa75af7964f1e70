/**
 * Asks EC2 whether agents' instances are still there (faster failure detection than Mesos's ping
 * timeout alone): an instance that is stopping, stopped, shutting down or terminated cannot be running
 * its agent, and one EC2 no longer lists has been terminated for a while.
 */
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';

/** The states in which an instance runs no agent. */
export const LOST_STATES: ReadonlySet<string> = new Set(['stopping', 'stopped', 'shutting-down', 'terminated']);

export interface InstanceStates {
  /** The ids among `instanceIds` whose instances are lost, with their state ("missing" when EC2 lists none). */
  lostInstances(instanceIds: readonly string[]): Promise<Map<string, string>>;
}

// DescribeInstances takes at most 200 values in one filter.
const FILTER_VALUES = 200;

export class Ec2InstanceStates implements InstanceStates {
  constructor(private readonly ec2: EC2Client = new EC2Client({})) {}

  async lostInstances(instanceIds: readonly string[]): Promise<Map<string, string>> {
    const ids = [...new Set(instanceIds)];
    const seen = new Map<string, string>();
    for (let i = 0; i < ids.length; i += FILTER_VALUES) {
      // A filter, not InstanceIds: an unknown id then is simply absent instead of failing the call.
      let token: string | undefined;
      do {
        const page = await this.ec2.send(
          new DescribeInstancesCommand({
            Filters: [{ Name: 'instance-id', Values: ids.slice(i, i + FILTER_VALUES) }],
            ...(token ? { NextToken: token } : {}),
          }),
        );
        for (const reservation of page.Reservations ?? []) {
          for (const instance of reservation.Instances ?? []) {
            if (instance.InstanceId) seen.set(instance.InstanceId, instance.State?.Name ?? 'unknown');
          }
        }
        token = page.NextToken;
      } while (token);
    }
    const lost = new Map<string, string>();
    for (const id of ids) {
      const state = seen.get(id);
      if (state === undefined) lost.set(id, 'missing');
      else if (LOST_STATES.has(state)) lost.set(id, state);
    }
    return lost;
  }
}
