/**
 * `mantle principal create|list|update|rotate|delete` against DynamoDB Local: what each prints, that a
 * secret is printed only by create and rotate, and that rotation and deletion reach the registrar
 * (the master re-reads the principal on every request: test/contract/scheduler-acls.test.ts).
 */
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { runPrincipalCli } from '../../cli/principal.js';
import { freshRegistrar, type TestRegistrar } from '../support/registrar.js';

let db: TestRegistrar;
let cluster: string;

beforeAll(async () => {
  db = await freshRegistrar();
  cluster = db.tables.principals.replace(/-principals$/, '');
});
afterAll(() => db.close());

/** Runs the command; its exit code and what it printed (stdout and stderr). */
async function principal(...args: string[]): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
  const error = vi.spyOn(console, 'error').mockImplementation((line: string) => void lines.push(line));
  try {
    const where = ['--cluster', cluster, '--dynamodb_endpoint', inject('dynamodbEndpoint')];
    const code = await runPrincipalCli([...args, ...where]);
    return { code, output: lines.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

const secretOf = (output: string) => /MANTLE_SECRET=(\S+)/.exec(output)?.[1] as string;

describe('mantle principal', () => {
  it('creates with roles and an ACL, lists without secrets, updates, rotates and deletes', async () => {
    const created = await principal('create', '--name', 'team-a', '--roles', 'a,b', '--acl', '{"privileged":true}');
    expect(created.code).toBe(0);
    expect(created.output).toMatch(/^principal team-a \(framework, roles a,b, acl \{"privileged":true\}\)$/m);
    const secret = secretOf(created.output);
    expect((await db.registrar.principals.authenticate('team-a', secret)).ok).toBe(true);

    const listed = await principal('list');
    expect(listed.code).toBe(0);
    expect(listed.output).toMatch(/^team-a \(framework, roles a,b, acl \{"privileged":true\}\) created \d{4}-/);
    expect(listed.output).not.toContain(secret);

    const updated = await principal('update', '--name', 'team-a', '--roles', 'a', '--acl', 'none');
    expect(updated).toEqual({ code: 0, output: 'principal team-a (framework, roles a, cluster ACL)' });

    const rotated = await principal('rotate', '--name', 'team-a');
    expect(rotated.code).toBe(0);
    expect(rotated.output).toContain('new secret; the old one no longer works');
    const fresh = secretOf(rotated.output);
    expect(fresh).not.toBe(secret);
    expect((await db.registrar.principals.authenticate('team-a', secret)).ok).toBe(false);
    expect((await db.registrar.principals.authenticate('team-a', fresh)).ok).toBe(true);
    expect((await principal('list')).output).toMatch(/, rotated \d{4}-/);

    expect(await principal('delete', '--name', 'team-a')).toEqual({
      code: 0,
      output: 'principal team-a deleted; its credentials no longer work',
    });
    expect((await db.registrar.principals.authenticate('team-a', fresh)).ok).toBe(false);
    expect(await principal('list')).toEqual({ code: 0, output: 'no principals' });
  });

  it('says why it refuses, and changes nothing', async () => {
    expect(await principal('delete', '--name', 'nobody')).toEqual({
      code: 1,
      output: "mantle principal delete: Principal 'nobody' does not exist",
    });
    expect((await principal('rotate', '--name', 'nobody')).output).toBe(
      "mantle principal rotate: Principal 'nobody' does not exist",
    );
    const badAcl = await principal('create', '--name', 'x', '--acl', '{"privileged":"yes"}');
    expect(badAcl.code).toBe(1);
    expect(badAcl.output).toMatch(/^mantle principal create: Invalid ACL: privileged: /);
    const typo = await principal('create', '--name', 'x', '--acl', '{"host_path":["/"]}');
    expect(typo.output).toMatch(/Unrecognized key.*host_path/);
    expect((await principal('update', '--name', 'x', '--acl', 'not json')).code).toBe(2);
    expect((await principal('rotate')).code).toBe(2);
    expect(await principal('list')).toEqual({ code: 0, output: 'no principals' });
  });
});
