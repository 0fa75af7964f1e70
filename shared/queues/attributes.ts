/**
 * The ids of shared/log-context.ts as SQS message attributes, so that each hop's consumer logs under the ids of
 * the message it handles (docs/operator.md, "Logs"). One String attribute per id, named as the log key. A message
 * without them (an older sender) decodes to no ids: it is handled all the same.
 */
import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import { LOG_CONTEXT_KEYS, type LogContext } from '../log-context.js';

/**
 * What SQS takes as a String attribute: any of its allowed characters (XML's: no control characters but tab and
 * line ends), at least one. Ids are bounded by the protocol (255 characters for a task id); the cap is a backstop.
 */
const SQS_TEXT = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]{1,1024}$/u;

/** The attributes to send with a message; ids that SQS would refuse are left out rather than fail the send. */
export function toMessageAttributes(ids: LogContext): Record<string, MessageAttributeValue> {
  const attributes: Record<string, MessageAttributeValue> = {};
  for (const key of LOG_CONTEXT_KEYS) {
    const value = ids[key];
    if (value !== undefined && SQS_TEXT.test(value)) attributes[key] = { DataType: 'String', StringValue: value };
  }
  return attributes;
}

/** An attribute as ReceiveMessage answers it (`StringValue`) or as Lambda's SQS event has it (`stringValue`). */
export interface ReceivedAttribute {
  readonly DataType?: string;
  readonly StringValue?: string;
  readonly dataType?: string;
  readonly stringValue?: string;
}

/** The ids a received message carries; anything else in its attributes is ignored. */
export function fromMessageAttributes(attributes: Readonly<Record<string, ReceivedAttribute>> | undefined): LogContext {
  const ids: Record<string, string> = {};
  for (const key of LOG_CONTEXT_KEYS) {
    const attribute = attributes?.[key];
    const value = attribute?.StringValue ?? attribute?.stringValue;
    if (typeof value === 'string' && value.length > 0) ids[key] = value;
  }
  return ids;
}

/** The same ids in the shape of Lambda's SQS event record (`messageAttributes`). */
export function toRecordAttributes(
  ids: LogContext,
): Record<string, { stringValue: string; dataType: 'String'; stringListValues: []; binaryListValues: [] }> {
  const result: ReturnType<typeof toRecordAttributes> = {};
  for (const [key, value] of Object.entries(toMessageAttributes(ids))) {
    result[key] = {
      stringValue: value.StringValue ?? '',
      dataType: 'String',
      stringListValues: [],
      binaryListValues: [],
    };
  }
  return result;
}
