/**
 * The stack's guards against one tenant starving the cluster (issue 10): reserved concurrency for the
 * status, heartbeat and allocator functions (SUBSCRIBE streams cannot take it), the per-principal caps
 * in the master's environment, and every queue TLS-only (the stack's queues here; runtime queues in
 * test/contract/runtime-queues.test.ts, whose lifecycle grant includes setting their policy).
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { MantleStack, ALLOCATOR_CONCURRENCY } from '../../infra/mantle-stack.js';
import { clusterSettings } from '../../infra/settings.js';

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}

function template(context: Record<string, unknown> = {}): Template {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return Template.fromStack(new MantleStack(app, 'Test', { settings: clusterSettings((key) => context[key]) }));
}

function all(t: Template, type: string): Array<[string, Resource]> {
  return Object.entries(t.toJSON().Resources as Record<string, Resource>).filter(([, r]) => r.Type === type);
}

function fn(t: Template, key: string): [string, Resource] {
  const found = all(t, 'AWS::Lambda::Function').filter(([id]) => id.startsWith(`${key}Function`));
  expect(found, key).toHaveLength(1);
  return found[0] as [string, Resource];
}

function mappingOf(t: Template, id: string): Resource | undefined {
  return all(t, 'AWS::Lambda::EventSourceMapping').find(([, m]) =>
    JSON.stringify(m.Properties.FunctionName).includes(`"${id}"`),
  )?.[1];
}

describe('concurrency', () => {
  it('reserves concurrency for the status, heartbeat and allocator functions, their event sources within it', () => {
    const t = template();
    for (const [key, reserved] of [
      ['Status', 10],
      ['Heartbeats', 2],
      ['Allocator', ALLOCATOR_CONCURRENCY],
    ] as const) {
      const [id, resource] = fn(t, key);
      expect(resource.Properties.ReservedConcurrentExecutions, key).toBe(reserved);
      expect(mappingOf(t, id)?.Properties.ScalingConfig, key).toEqual({ MaximumConcurrency: reserved });
    }
    // The scheduler's streams draw on the account's unreserved pool, capped per principal instead.
    expect(fn(t, 'Scheduler')[1].Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it('takes the reservations and the per-principal caps from the settings', () => {
    const t = template({
      statusConcurrency: '20',
      heartbeatsConcurrency: '3',
      maxFrameworksPerPrincipal: '7',
      maxStreamsPerPrincipal: '4',
    });
    expect(fn(t, 'Status')[1].Properties.ReservedConcurrentExecutions).toBe(20);
    expect(fn(t, 'Heartbeats')[1].Properties.ReservedConcurrentExecutions).toBe(3);
    const env = (fn(t, 'Scheduler')[1].Properties.Environment as { Variables: Record<string, string> }).Variables;
    expect(env.MANTLE_MAX_FRAMEWORKS_PER_PRINCIPAL).toBe('7');
    expect(env.MANTLE_MAX_STREAMS_PER_PRINCIPAL).toBe('4');
    expect(() => template({ statusConcurrency: '1' })).toThrow(/statusConcurrency must be an integer ≥ 2/);
  });
});

describe('queues', () => {
  it('every queue of the stack denies requests not over TLS', () => {
    const t = template();
    const queues = all(t, 'AWS::SQS::Queue').map(([id]) => id);
    expect(queues.length).toBeGreaterThan(4);
    const guarded = new Set<string>();
    for (const [, policy] of all(t, 'AWS::SQS::QueuePolicy')) {
      const statements = (policy.Properties.PolicyDocument as { Statement: Array<Record<string, unknown>> }).Statement;
      const deny = statements.some(
        (s) => s.Effect === 'Deny' && JSON.stringify(s.Condition) === '{"Bool":{"aws:SecureTransport":"false"}}',
      );
      if (!deny) continue;
      for (const ref of policy.Properties.Queues as Array<{ Ref: string }>) guarded.add(ref.Ref);
    }
    expect(queues.filter((id) => !guarded.has(id))).toEqual([]);
  });

  it('lets the functions that create runtime queues set their TLS-only policy', () => {
    const t = template();
    const text = JSON.stringify(all(t, 'AWS::IAM::Policy').map(([, p]) => p.Properties.PolicyDocument));
    expect(text).toContain('sqs:SetQueueAttributes');
  });
});
