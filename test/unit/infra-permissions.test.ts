/**
 * The registrar's IAM grant against the code: every DynamoDB request the registrar's modules make must be
 * an action REGISTRAR_ACTIONS grants, or the functions would be denied on AWS while every local test passes
 * (DynamoDB Local checks no permissions). Table creation (bootstrap.ts) is the local cluster's alone.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REGISTRAR_ACTIONS } from '../../infra/permissions.js';

const REGISTRAR = join(import.meta.dirname, '../../functions/registrar');

/** The document client's commands and the IAM action each needs; PartiQL writes are granted apart. */
const ACTION_OF: Record<string, string> = {
  Get: 'dynamodb:GetItem',
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  Query: 'dynamodb:Query',
  Scan: 'dynamodb:Scan',
  BatchGet: 'dynamodb:BatchGetItem',
  BatchWrite: 'dynamodb:BatchWriteItem',
};
const GRANTED_APART = new Set(['BatchExecuteStatement']);

function commandsUsed(): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const file of readdirSync(REGISTRAR).filter((name) => name.endsWith('.ts') && name !== 'bootstrap.ts')) {
    const source = readFileSync(join(REGISTRAR, file), 'utf8');
    for (const match of source.matchAll(/\bnew (\w+)Command\(/g)) {
      const command = match[1] as string;
      used.set(command, [...(used.get(command) ?? []), file]);
    }
  }
  return used;
}

describe('the registrar grant', () => {
  it('finds the registrar commands it checks', () => {
    expect([...commandsUsed().keys()]).toEqual(expect.arrayContaining(['Get', 'Update', 'BatchGet', 'BatchWrite']));
  });

  it('grants every DynamoDB action the registrar calls', () => {
    for (const [command, files] of commandsUsed()) {
      if (GRANTED_APART.has(command)) continue;
      const action = ACTION_OF[command];
      expect(action, `${command}Command (${files.join(', ')}) has a known IAM action`).toBeDefined();
      expect(REGISTRAR_ACTIONS as readonly string[], `${command}Command in ${files.join(', ')}`).toContain(action);
    }
  });

  it('grants nothing the registrar does not call', () => {
    const needed = new Set([...commandsUsed().keys()].map((command) => ACTION_OF[command]));
    expect(REGISTRAR_ACTIONS.filter((action) => !needed.has(action))).toEqual([]);
  });
});
