/**
 * Offer constraints (Mesos 1.11 `OfferConstraints`, src/master/allocator/mesos/offer_constraints_filter.cpp):
 * per role, an OR of groups, each an AND of attribute constraints on the agent. Equality and regex
 * predicates test TEXT attributes only; an attribute of another type always matches them, a missing
 * one never does (the not-predicates the other way round).
 *
 * Mesos uses RE2 (linear time). JavaScript regexes backtrack, so patterns that could blow up are
 * refused: no back-references or lookaround (RE2 has neither), no repeated group that itself holds a
 * quantifier or an alternation, and at most MAX_PATTERN_LENGTH characters (Mesos caps the RE2 program
 * size).
 */
import type { AttributeConstraint, OfferConstraints } from '#shared/protocol/scheduler.js';
import { err, ok, type Result } from '#shared/result.js';
import type { AgentSnapshot } from './snapshot.js';

export const MAX_PATTERN_LENGTH = 200;

type Subject = Pick<AgentSnapshot, 'hostname' | 'attributes' | 'domain'>;
/** A value to test: undefined when the (pseudo)attribute does not exist, null for a non-TEXT attribute. */
type Selected = string | null | undefined;
type Predicate = (value: Selected) => boolean;
type Evaluator = (agent: Subject) => boolean;

/** The constraints of one role, compiled: true when the agent may be offered to the role. */
export type RoleConstraints = (agent: Subject) => boolean;

function unsafePattern(pattern: string): string | undefined {
  if (pattern.length > MAX_PATTERN_LENGTH) return `longer than ${MAX_PATTERN_LENGTH} characters`;
  if (/\\[1-9]|\\k<|\(\?<?[=!]/.test(pattern)) return 'back-references and lookaround are not supported (RE2)';
  // Star height above one: a group containing a quantifier, itself quantified, e.g. (a+)+ or (a|b*){2,}.
  const stack: boolean[] = [];
  let quantifiedInside = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      i = close < 0 ? pattern.length : close;
      continue;
    }
    if (c === '(') {
      stack.push(quantifiedInside);
      quantifiedInside = false;
      // Group prefixes (?: and (?<name> are syntax, not quantifiers.
      if (pattern[i + 1] === '?') i = pattern[i + 2] === '<' ? Math.max(i + 2, pattern.indexOf('>', i)) : i + 2;
    } else if (c === '|') {
      // Alternatives under a quantifier backtrack exponentially too: (a|aa)+.
      quantifiedInside = true;
    } else if (c === ')') {
      const inner: boolean = quantifiedInside;
      quantifiedInside = stack.pop() ?? false;
      // An optional group ((...)?) is matched at most once: only repetition of the group can blow up.
      const next = pattern[i + 1];
      const repeated = next === '*' || next === '+' || next === '{';
      if (repeated && inner) return 'nested quantifiers can take exponential time';
      quantifiedInside ||= inner || repeated || next === '?';
    } else if (c === '*' || c === '+' || c === '{' || c === '?') {
      quantifiedInside = true;
    }
  }
  return undefined;
}

function regexPredicate(pattern: string, negate: boolean): Result<Predicate, string> {
  const unsafe = unsafePattern(pattern);
  if (unsafe) return err(`Regex '${pattern}' is refused: ${unsafe}`);
  let regex: RegExp;
  try {
    regex = new RegExp(`^(?:${pattern})$`, 'u');
  } catch (error) {
    return err(`Failed to construct regex from pattern '${pattern}': ${(error as Error).message}`);
  }
  return ok((value) => {
    if (value === undefined) return negate;
    if (value === null) return true;
    return regex.test(value) !== negate;
  });
}

function predicateOf(predicate: AttributeConstraint['predicate']): Result<Predicate, string> {
  if (predicate.exists) return ok((value) => value !== undefined);
  if (predicate.not_exists) return ok((value) => value === undefined);
  if (predicate.text_equals) {
    const expected = predicate.text_equals.value;
    return ok((value) => value !== undefined && (value === null || value === expected));
  }
  if (predicate.text_not_equals) {
    const expected = predicate.text_not_equals.value;
    return ok((value) => value === undefined || value === null || value !== expected);
  }
  if (predicate.text_matches) return regexPredicate(predicate.text_matches.regex, false);
  if (predicate.text_not_matches) return regexPredicate(predicate.text_not_matches.regex, true);
  return err('Unknown predicate type');
}

function selectorOf(selector: AttributeConstraint['selector']): Result<(agent: Subject) => Selected, string> {
  const name = selector.attribute_name;
  const pseudo = selector.pseudoattribute_type;
  if ((name === undefined) === (pseudo === undefined || pseudo === 'UNKNOWN')) {
    return err("Exactly one of 'attribute_name' or 'pseudoattribute_type' must be set");
  }
  if (name !== undefined) {
    return ok((agent) => {
      const attribute = agent.attributes.find((candidate) => candidate.name === name);
      if (!attribute) return undefined;
      return attribute.type === 'TEXT' ? (attribute.text?.value ?? '') : null;
    });
  }
  switch (pseudo) {
    case 'HOSTNAME':
      return ok((agent) => agent.hostname);
    case 'REGION':
      return ok((agent) => agent.domain?.fault_domain?.region.name);
    case 'ZONE':
      return ok((agent) => agent.domain?.fault_domain?.zone.name);
    default:
      return err('Unknown pseudoattribute type');
  }
}

function compileConstraint(constraint: AttributeConstraint): Result<Evaluator, string> {
  const select = selectorOf(constraint.selector);
  if (!select.ok) return select;
  const predicate = predicateOf(constraint.predicate);
  if (!predicate.ok) return predicate;
  const [pick, test] = [select.value, predicate.value];
  return ok((agent) => test(pick(agent)));
}

/** Compiles (and so validates) a framework's offer constraints: role → predicate on agents. */
export function compileOfferConstraints(constraints: OfferConstraints): Result<Map<string, RoleConstraints>, string> {
  const result = new Map<string, RoleConstraints>();
  for (const [role, roleConstraints] of Object.entries(constraints.role_constraints ?? {})) {
    const groups: Evaluator[][] = [];
    if (!roleConstraints.groups?.length) return err(`Empty 'RoleConstraints::groups' for role ${role}`);
    for (const group of roleConstraints.groups) {
      if (!group.attribute_constraints?.length) {
        return err(`'RoleConstraints::groups' for role ${role} contains an empty group`);
      }
      const evaluators: Evaluator[] = [];
      for (const constraint of group.attribute_constraints) {
        const compiled = compileConstraint(constraint);
        if (!compiled.ok) return err(`Role ${role} has an invalid 'AttributeConstraint': ${compiled.error}`);
        evaluators.push(compiled.value);
      }
      groups.push(evaluators);
    }
    result.set(role, (agent) => groups.some((group) => group.every((evaluate) => evaluate(agent))));
  }
  return ok(result);
}

/** For the scheduler API: the error SUBSCRIBE and UPDATE_FRAMEWORK answer for invalid constraints. */
export function validateOfferConstraints(constraints: OfferConstraints): string | undefined {
  const compiled = compileOfferConstraints(constraints);
  return compiled.ok ? undefined : compiled.error;
}
