import { describe, expect, it } from 'vitest';
import { ancestors, isStrictSubroleOf, topLevelRole, validateRole } from '#shared/roles.js';

describe('roles', () => {
  it('accepts the Mesos-valid names', () => {
    for (const role of ['*', 'ml', 'eng/backend/db', 'a.b', 'team-1', 'x*y'])
      expect(validateRole(role), role).toBeUndefined();
  });

  it('rejects what Mesos rejects, with its messages', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /empty string/],
      ['/eng', /start with a slash/],
      ['eng/', /end with a slash/],
      ['eng//db', /adjacent slashes/],
      ['eng/./db', /'\.' as a component/],
      ['eng/..', /'\.\.' as a component/],
      ['eng/*', /'\*' as a component/],
      ['-eng', /starts with a dash/],
      ['e ng', /whitespace/],
      ['e\tng', /whitespace/],
      ['e\x7fng', /backspace or whitespace/],
    ];
    for (const [role, message] of cases) expect(validateRole(role), JSON.stringify(role)).toMatch(message);
  });

  it('knows the role tree', () => {
    expect(isStrictSubroleOf('eng/backend', 'eng')).toBe(true);
    expect(isStrictSubroleOf('eng', 'eng')).toBe(false);
    expect(isStrictSubroleOf('engineering', 'eng')).toBe(false);
    expect(ancestors('a/b/c')).toEqual(['a/b', 'a']);
    expect(ancestors('a')).toEqual([]);
    expect(topLevelRole('a/b/c')).toBe('a');
  });
});
