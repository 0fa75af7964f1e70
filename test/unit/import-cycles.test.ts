/**
 * No import circles in the source folders (type-only imports count too: a circle of types is still a
 * knot in the design). Which folder may import which is eslint's job (`no-restricted-imports` in
 * eslint.config.js); this walks the whole graph, which a per-file rule cannot.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SOURCE_FOLDERS = ['functions', 'frameworks', 'shared', 'agent', 'sdk', 'cli', 'local', 'infra', 'bench'];

type Graph = ReadonlyMap<string, readonly string[]>;

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Each source file and the source files it imports (relative and `#shared/` imports; `x.js` is `x.ts`). */
function importGraph(): Graph {
  const files = SOURCE_FOLDERS.flatMap((folder) => sourceFiles(join(ROOT, folder)));
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const imports = ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles;
    const targets = imports
      .map((entry) => entry.fileName)
      .filter((name) => name.startsWith('.') || name.startsWith('#shared/'))
      .map((name) =>
        name.startsWith('#shared/')
          ? join(ROOT, 'shared', name.slice('#shared/'.length).replace(/\.js$/, '.ts'))
          : resolve(dirname(file), name.replace(/\.js$/, '.ts')),
      )
      .filter((target) => known.has(target));
    graph.set(relative(ROOT, file), [...new Set(targets.map((target) => relative(ROOT, target)))]);
  }
  return graph;
}

/** The strongly connected components with more than one file, or a file importing itself (Tarjan). */
function cycles(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node) as number);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) as number, low.get(next) as number));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) as number, index.get(next) as number));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop() as string;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || graph.get(node)?.includes(node)) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

describe('the import graph', () => {
  it('finds a circle when there is one', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts', 'd.ts']],
      ['e.ts', []],
    ]);
    expect(cycles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts'], ['d.ts']]);
  });

  it('reads the repository: the master imports the shared core', () => {
    const graph = importGraph();
    expect(graph.get('functions/scheduler/accept-feedback.ts')).toContain('shared/protocol/scheduler.ts');
    expect(graph.size).toBeGreaterThan(100);
  });

  it('has no circle in the source folders', () => {
    expect(cycles(importGraph())).toEqual([]);
  });
});
