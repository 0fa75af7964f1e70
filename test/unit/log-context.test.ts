/**
 * Correlation ids (docs/operator.md, "Logs"): the log scope, the logger that writes it into every line, the ids as SQS
 * message attributes (and a message without them, from an older sender), the request's correlation id, and the
 * per-record scope of the SQS batch handler.
 */
import type { SQSRecord } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { correlationId } from '../../functions/handlers/request-context.js';
import { addToLogContext, inLogContext, logContext, withLogContext } from '#shared/log-context.js';
import { createLogger } from '#shared/log.js';
import { fromMessageAttributes, toMessageAttributes, toRecordAttributes } from '#shared/queues/attributes.js';
import { processInOrder } from '#shared/queues/batch.js';

afterEach(() => vi.restoreAllMocks());

/** The JSON lines the logger writes while `work` runs. */
async function captured(work: () => unknown): Promise<Array<Record<string, unknown>>> {
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  await work();
  vi.restoreAllMocks();
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('the log scope', () => {
  it('adds ids to the enclosing scope, replaces them with inLogContext, and grows with addToLogContext', async () => {
    expect(logContext()).toEqual({});
    await withLogContext({ correlation_id: 'c1' }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      withLogContext({ task_id: 't1', agent_id: undefined }, () =>
        expect(logContext()).toEqual({ correlation_id: 'c1', task_id: 't1' }),
      );
      inLogContext({ framework_id: 'f1' }, () => expect(logContext()).toEqual({ framework_id: 'f1' }));
      addToLogContext({ framework_id: 'f2' });
      expect(logContext()).toEqual({ correlation_id: 'c1', framework_id: 'f2' });
    });
    addToLogContext({ framework_id: 'nowhere' }); // outside any scope: nothing to add to
    expect(logContext()).toEqual({});
  });

  it("is in every line the logger writes in it, the caller's own keys winning", async () => {
    const logger = createLogger('test');
    logger.setLogLevel('DEBUG');
    const lines = await captured(() =>
      inLogContext({ correlation_id: 'req-1', framework_id: 'fw', task_id: 'task' }, async () => {
        await Promise.resolve();
        logger.debug('one');
        logger.info('two', { task_id: 'explicit' });
      }),
    );
    expect(lines).toMatchObject([
      { message: 'one', level: 'DEBUG', correlation_id: 'req-1', framework_id: 'fw', task_id: 'task' },
      { message: 'two', correlation_id: 'req-1', task_id: 'explicit' },
    ]);
    const child = await captured(() => inLogContext({ agent_id: 'a' }, () => logger.createChild().info('child')));
    expect(child[0]).toMatchObject({ message: 'child', agent_id: 'a' });
    const outside = await captured(() => logger.info('outside'));
    expect(outside[0]).not.toHaveProperty('correlation_id');
  });
});

describe('the ids as SQS message attributes', () => {
  it('encode as String attributes named as the log keys and decode in both SQS and Lambda shapes', () => {
    const ids = { correlation_id: 'c', framework_id: 'f', task_id: 'tâche ✓', agent_id: 'a' };
    const attributes = toMessageAttributes(ids);
    expect(attributes.task_id).toEqual({ DataType: 'String', StringValue: 'tâche ✓' });
    expect(fromMessageAttributes(attributes)).toEqual(ids);
    expect(fromMessageAttributes(toRecordAttributes(ids))).toEqual(ids);
  });

  it('leave out what SQS would refuse rather than fail the send', () => {
    expect(toMessageAttributes({ correlation_id: 'bad\u0000id', task_id: 'x'.repeat(1025), agent_id: '' })).toEqual({});
  });

  it('decode a message without attributes (an older sender) or with others to no ids', () => {
    expect(fromMessageAttributes(undefined)).toEqual({});
    expect(fromMessageAttributes({})).toEqual({});
    expect(
      fromMessageAttributes({ other: { DataType: 'String', StringValue: 'x' }, task_id: { DataType: 'Number' } }),
    ).toEqual({});
  });
});

describe("a request's correlation id", () => {
  it("is the caller's X-Request-Id, else the traceparent's trace id, else API Gateway's, else a new UUID", () => {
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    expect(correlationId({ requestId: 'my-id-1', traceparent: `00-${trace}-00f067aa0ba902b7-01` })).toBe('my-id-1');
    expect(correlationId({ traceparent: `00-${trace}-00f067aa0ba902b7-01`, gatewayRequestId: 'gw' })).toBe(trace);
    expect(correlationId({ gatewayRequestId: 'gw-1' })).toBe('gw-1');
    expect(correlationId({})).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('ignores ids that are not sane tokens and malformed or all-zero trace contexts', () => {
    const generated = /^[0-9a-f-]{36}$/;
    expect(correlationId({ requestId: 'has space' })).toMatch(generated);
    expect(correlationId({ requestId: 'x'.repeat(129) })).toMatch(generated);
    expect(correlationId({ requestId: 'line\nbreak' })).toMatch(generated);
    expect(correlationId({ traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` })).toMatch(generated);
    expect(correlationId({ traceparent: 'garbage' })).toMatch(generated);
  });
});

describe('the SQS batch handler', () => {
  const record = (id: string, messageAttributes: SQSRecord['messageAttributes']): SQSRecord =>
    ({ messageId: id, body: '{}', attributes: { MessageGroupId: id }, messageAttributes }) as unknown as SQSRecord;

  it('handles each record in the scope of its ids, and one without any (an older sender) with none', async () => {
    const seen: Record<string, unknown> = {};
    const response = await processInOrder(
      [record('with', toRecordAttributes({ correlation_id: 'c', task_id: 't' })), record('without', {})],
      async (r) => {
        await Promise.resolve();
        seen[r.messageId] = logContext();
        if (r.messageId === 'with') throw new Error('fails');
      },
      (r) => (seen[`${r.messageId}-error`] = logContext()),
    );
    expect(seen).toEqual({
      with: { correlation_id: 'c', task_id: 't' },
      'with-error': { correlation_id: 'c', task_id: 't' },
      without: {},
    });
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'with' }]);
  });
});
