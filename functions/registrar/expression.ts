/**
 * The registrar's expression language, pure: items as plain objects, expression attribute names and
 * values with generated placeholders, and the shape of a conditional change of one item (what a
 * store sends as one UpdateItem). Building a change needs no table and no client.
 */
export type Item = Record<string, unknown>;

/** The outcome of a conditional write: the new image, or the item as it was when the condition failed. */
export type WriteOutcome =
  { readonly written: true; readonly item: Item } | { readonly written: false; readonly old?: Item };

/** A name in a PartiQL statement: in double quotes, a quote inside doubled (ids may hold any character). */
export const partiqlName = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** Builds expression attribute names and values with generated placeholders (ids may hold any character). */
export class Expression {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private nameCount = 0;
  private valueCount = 0;

  name(attribute: string): string {
    const placeholder = `#n${this.nameCount++}`;
    this.names[placeholder] = attribute;
    return placeholder;
  }

  /** A document path of attribute names, e.g. path('offers', offerId) → "#n0.#n1". */
  path(...attributes: string[]): string {
    return attributes.map((attribute) => this.name(attribute)).join('.');
  }

  value(value: unknown): string {
    const placeholder = `:v${this.valueCount++}`;
    this.values[placeholder] = value;
    return placeholder;
  }

  /** The names and values to pass to the command (DynamoDB refuses empty maps). */
  attributes(): {
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues?: Record<string, unknown>;
  } {
    return {
      ...(this.nameCount > 0 ? { ExpressionAttributeNames: this.names } : {}),
      ...(this.valueCount > 0 ? { ExpressionAttributeValues: this.values } : {}),
    };
  }
}

/** A conditional change of one item: the UpdateItem's expressions, with their names and values. */
export interface ItemChange {
  readonly update: string;
  readonly condition: string;
  readonly expression: Expression;
}

/** Epoch seconds, for DynamoDB TTL attributes. */
export function epochSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}
