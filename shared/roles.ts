/**
 * Mesos roles (docs/roles.md, src/common/roles.cpp): "*" is the default role; hierarchical roles use "/".
 */

export const DEFAULT_ROLE = '*';

// Whitespace and DEL: Mesos's list (its error message calls DEL "backspace").
const INVALID_CHARACTERS = /[\t\n\v\f\r \x7f]/;

/** The Mesos rules for a role name; returns the error, or undefined when valid. */
export function validateRole(role: string): string | undefined {
  if (role === DEFAULT_ROLE) return undefined;
  if (role.startsWith('/')) return `Role '${role}' cannot start with a slash`;
  if (role.endsWith('/')) return `Role '${role}' cannot end with a slash`;
  if (role.includes('//')) return `Role '${role}' cannot contain two adjacent slashes`;
  const components = role.split('/').filter((part) => part.length > 0);
  if (components.length === 0) return 'Role names cannot be the empty string';
  for (const component of components) {
    if (component === '.') return `Role '${role}' cannot include '.' as a component`;
    if (component === '..') return `Role '${role}' cannot include '..' as a component`;
    if (component === '*') return `Role '${role}' cannot include '*' as a component`;
    if (component.startsWith('-')) {
      return `Role component '${component}' is invalid because it starts with a dash`;
    }
    if (INVALID_CHARACTERS.test(component)) {
      return `Role component '${component}' is invalid because it contains backspace or whitespace`;
    }
  }
  return undefined;
}

/** True when `child` lies strictly below `parent` in the role tree ("eng/backend" under "eng"). */
export function isStrictSubroleOf(child: string, parent: string): boolean {
  return child.length > parent.length && child[parent.length] === '/' && child.startsWith(parent);
}

/** The ancestors of a role, nearest first: "a/b/c" → ["a/b", "a"]. */
export function ancestors(role: string): string[] {
  const result: string[] = [];
  for (let i = role.length - 1; i >= 0; i--) if (role[i] === '/') result.push(role.slice(0, i));
  return result;
}

/** The top-level role of a role path ("a/b/c" → "a"). */
export function topLevelRole(role: string): string {
  const slash = role.indexOf('/');
  return slash < 0 ? role : role.slice(0, slash);
}
