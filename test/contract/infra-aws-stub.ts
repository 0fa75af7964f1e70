/**
 * A stand-in for the two AWS APIs the fleet code calls that have no local emulator: Auto Scaling
 * (CompleteLifecycleAction, DescribeAutoScalingGroups, SetInstanceProtection) and EC2
 * (DescribeInstances). Both speak the AWS Query protocol (form-encoded POST, XML answers); the stub
 * records every call and answers from the state a test gives it, including Auto Scaling's own
 * "No active Lifecycle Action" error. The real SDK clients talk to it through an endpoint override.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';

export interface StubCall {
  readonly action: string;
  readonly params: Readonly<Record<string, string>>;
}

export interface AwsStub {
  readonly url: string;
  readonly calls: StubCall[];
  /** Instances waiting in Terminating:Wait for the group's hook; completing one takes it out. */
  readonly waiting: Set<string>;
  /** The group's in-service instances and their scale-in protection. */
  readonly inService: Map<string, boolean>;
  /** EC2's view: instance id → state name; absent ids are unknown to EC2. */
  readonly states: Map<string, string>;
  /** Makes the next call of this action fail with a server error. */
  failNext(action: string): void;
  callsOf(action: string): StubCall[];
  autoScaling(): AutoScalingClient;
  ec2(): EC2Client;
  close(): Promise<void>;
}

const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const AUTOSCALING_NS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function ok(action: string, result = ''): string {
  return (
    `<${action}Response xmlns="${AUTOSCALING_NS}"><${action}Result>${result}</${action}Result>` +
    `<ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></${action}Response>`
  );
}

function error(code: string, message: string): string {
  return (
    `<ErrorResponse xmlns="${AUTOSCALING_NS}"><Error><Type>Sender</Type><Code>${code}</Code>` +
    `<Message>${escape(message)}</Message></Error><RequestId>stub</RequestId></ErrorResponse>`
  );
}

/** Values of a Query-protocol list parameter (`InstanceIds.member.1`, `Filter.1.Value.1`, ...). */
function list(params: Record<string, string>, prefix: string): string[] {
  return Object.entries(params)
    .filter(([key]) => key.startsWith(prefix))
    .sort(([a], [b]) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)))
    .map(([, value]) => value);
}

export async function startAwsStub(group: { name: string; hook: string }): Promise<AwsStub> {
  const calls: StubCall[] = [];
  const waiting = new Set<string>();
  const inService = new Map<string, boolean>();
  const states = new Map<string, string>();
  const failing = new Set<string>();

  function answer(action: string, params: Record<string, string>): { status: number; body: string } {
    if (failing.delete(action)) return { status: 500, body: error('InternalFailure', 'The stub was told to fail') };
    switch (action) {
      case 'CompleteLifecycleAction': {
        const instanceId = params.InstanceId ?? '';
        if (
          params.AutoScalingGroupName !== group.name ||
          params.LifecycleHookName !== group.hook ||
          !waiting.delete(instanceId)
        ) {
          return {
            status: 400,
            body: error('ValidationError', `No active Lifecycle Action found with instance ID ${instanceId}`),
          };
        }
        return { status: 200, body: ok(action) };
      }
      case 'DescribeAutoScalingGroups': {
        const instances = [...inService]
          .map(
            ([id, isProtected]) =>
              `<member><InstanceId>${id}</InstanceId><LifecycleState>InService</LifecycleState>` +
              `<HealthStatus>Healthy</HealthStatus><AvailabilityZone>us-east-1a</AvailabilityZone>` +
              `<ProtectedFromScaleIn>${isProtected}</ProtectedFromScaleIn></member>`,
          )
          .join('');
        return {
          status: 200,
          body: ok(
            action,
            `<AutoScalingGroups><member><AutoScalingGroupName>${group.name}</AutoScalingGroupName>` +
              `<Instances>${instances}</Instances></member></AutoScalingGroups>`,
          ),
        };
      }
      case 'SetInstanceProtection': {
        for (const id of list(params, 'InstanceIds.member.')) inService.set(id, params.ProtectedFromScaleIn === 'true');
        return { status: 200, body: ok(action) };
      }
      case 'DescribeInstances': {
        const ids = list(params, 'Filter.1.Value.');
        const items = ids
          .filter((id) => states.has(id))
          .map(
            (id) =>
              `<item><instanceId>${id}</instanceId><instanceState><code>0</code><name>${states.get(id)}</name></instanceState></item>`,
          )
          .join('');
        return {
          status: 200,
          body:
            '<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>stub</requestId>' +
            `<reservationSet>${items ? `<item><reservationId>r-stub</reservationId><instancesSet>${items}</instancesSet></item>` : ''}</reservationSet>` +
            '</DescribeInstancesResponse>',
        };
      }
      default:
        return { status: 400, body: error('InvalidAction', `The stub does not know ${action}`) };
    }
  }

  const server: Server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      const params = Object.fromEntries(new URLSearchParams(body));
      const action = params.Action ?? '';
      calls.push({ action, params });
      const { status, body: xml } = answer(action, params);
      response.writeHead(status, { 'Content-Type': 'text/xml' });
      response.end(xml);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients: Array<{ destroy(): void }> = [];
  const options = { endpoint: url, region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 1 };
  return {
    url,
    calls,
    waiting,
    inService,
    states,
    failNext: (action) => failing.add(action),
    callsOf: (action) => calls.filter((call) => call.action === action),
    autoScaling() {
      const client = new AutoScalingClient(options);
      clients.push(client);
      return client;
    },
    ec2() {
      const client = new EC2Client(options);
      clients.push(client);
      return client;
    },
    close: () =>
      new Promise<void>((resolve) => {
        clients.forEach((client) => client.destroy());
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
