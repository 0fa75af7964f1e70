/**
 * What a PartiQL write statement touches, read from its text and parameters, for the meters that count writes
 * (bench:scale's per-partition meter, the cost test's): its table, an INSERT's item, an UPDATE's key. Enough for
 * the statements the registrar writes: double-quoted names, `?` parameters, `SET`s before `WHERE`.
 */
/** The table a PartiQL statement writes: the first double-quoted name. */
export function statementTable(statement: string): string {
  return /"((?:[^"]|"")+)"/.exec(statement)?.[1]?.replaceAll('""', '"') ?? '?';
}

/** An INSERT's item, its attribute names paired with the parameters in order; undefined for other statements. */
export function insertedItem(statement: string, parameters: readonly unknown[]): Record<string, unknown> | undefined {
  const tuple = /^\s*INSERT\s+INTO\s+"(?:[^"]|"")+"\s+VALUE\s*\{(.*)\}\s*$/is.exec(statement)?.[1];
  if (tuple === undefined) return undefined;
  const names = [...tuple.matchAll(/'((?:[^']|'')+)'\s*:\s*\?/g)].map((match) =>
    (match[1] as string).replaceAll("''", "'"),
  );
  return Object.fromEntries(names.map((name, i) => [name, parameters[i]]));
}

/** An UPDATE's WHERE equalities on the key attributes `keys`, paired with their parameters. */
export function updatedKey(
  statement: string,
  parameters: readonly unknown[],
  keys: readonly string[],
): Record<string, unknown> | undefined {
  const where = /\bWHERE\b(.*)$/is.exec(statement);
  if (!where) return undefined;
  const before = (statement.slice(0, where.index).match(/\?/g) ?? []).length;
  const equalities = [...(where[1] as string).matchAll(/"((?:[^"]|"")+)"\s*(=|<>|IN)\s*(\?|\[[^\]]*\])/g)];
  const key: Record<string, unknown> = {};
  let index = before;
  for (const [, name, , operand] of equalities) {
    const count = ((operand as string).match(/\?/g) ?? []).length;
    if (keys.includes(name as string) && count === 1) key[name as string] = parameters[index];
    index += count;
  }
  return keys.every((name) => name in key) ? key : undefined;
}
