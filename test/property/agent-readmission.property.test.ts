/**
 * An agent's total on re-admission (functions/registrar/agent-readmission.ts): its dynamic reservations
 * and persistent volumes applied onto what it reports, what no longer fits dropped; nothing invented,
 * nothing lost without being named, and what tasks hold kept whenever the report still has it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Resource } from '#shared/protocol/mesos.js';
import { add, contains, equals, filter, pushReservation, quantities, unallocate } from '#shared/resources/resources.js';
import { isConverted, readmittedTotal, sourcesOf } from '../../functions/registrar/agent-readmission.js';
import { DOMAIN_A, resourcesIn } from '../support/arbitraries.js';
import { resources } from '../support/resources.js';

const RUNS = { numRuns: 400 };

/** A total an agent can have: no value counted twice across entries (overlapping ports, say). */
const total = resourcesIn(DOMAIN_A, 8)
  .map(unallocate)
  .filter((list) => {
    const flat = quantities(sourcesOf(list));
    const whole = quantities(list);
    return Object.keys(whole).every((name) => Math.abs((flat[name] ?? 0) - (whole[name] ?? 0)) < 1e-9);
  });

/** A total, what tasks hold of it, and a report from the agent coming back. */
const readmission = fc.record({
  current: total,
  heldPick: fc.array(fc.boolean(), { maxLength: 8 }),
  reported: total,
});

function heldOf(current: Resource[], pick: boolean[]): Resource[] {
  return current.filter((_, i) => pick[i]);
}

const reserved = (text: string, role = 'a') => pushReservation(resources(text), { role, principal: 'ops' });

function volume(id: string, mb: number): Resource {
  return { ...(reserved(`disk:${mb}`)[0] as Resource), disk: { persistence: { id, principal: 'ops' } } };
}

describe('readmittedTotal', () => {
  it('an agent reporting what it was started with gets its total back unchanged', () => {
    fc.assert(
      fc.property(total, (current) => {
        const result = readmittedTotal(current, [], sourcesOf(current));
        expect(equals(result.total, current)).toBe(true);
        expect(result.dropped).toEqual([]);
      }),
      RUNS,
    );
  });

  it('keeps or names every conversion, and the total is exactly what the agent reported', () => {
    fc.assert(
      fc.property(readmission, ({ current, heldPick, reported }) => {
        const held = heldOf(current, heldPick);
        const result = readmittedTotal(current, held, reported);
        expect(equals(add(result.kept, result.dropped), filter(current, isConverted))).toBe(true);
        expect(equals(sourcesOf(result.total), sourcesOf(reported))).toBe(true);
        expect(contains(result.total, result.kept)).toBe(true);
        if (contains(sourcesOf(reported), sourcesOf(current))) expect(result.dropped).toEqual([]);
        if (contains(sourcesOf(reported), sourcesOf(held))) expect(contains(result.total, held)).toBe(true);
      }),
      RUNS,
    );
  });

  it('keeps the part of a reservation that fits in a smaller agent, and drops the rest', () => {
    const current = add(reserved('cpus:4;mem:1024'), resources('cpus:4;mem:1024'));
    const result = readmittedTotal(current, [], resources('cpus:2;mem:4096'));
    expect(equals(result.total, add(reserved('cpus:2;mem:1024'), resources('mem:3072')))).toBe(true);
    expect(equals(result.dropped, reserved('cpus:2'))).toBe(true);
  });

  it('keeps a volume whole or not at all, before a plain reservation of the same disk', () => {
    const current = add([volume('v1', 100)], add(reserved('disk:200'), resources('disk:100')));
    const smaller = readmittedTotal(current, [], resources('disk:150'));
    expect(equals(smaller.total, add([volume('v1', 100)], reserved('disk:50')))).toBe(true);
    expect(equals(smaller.dropped, reserved('disk:150'))).toBe(true);
    const tiny = readmittedTotal(current, [], resources('disk:50'));
    expect(equals(tiny.total, reserved('disk:50'))).toBe(true);
    expect(contains(tiny.dropped, [volume('v1', 100)])).toBe(true);
  });

  it("sets a task's reported resources aside before a reservation no task holds", () => {
    const current = add(reserved('cpus:4'), resources('cpus:4'));
    const held = resources('cpus:3');
    const result = readmittedTotal(current, held, resources('cpus:4'));
    expect(equals(result.total, add(reserved('cpus:1'), resources('cpus:3')))).toBe(true);
    expect(contains(result.total, held)).toBe(true);
    expect(equals(result.dropped, reserved('cpus:3'))).toBe(true);
  });

  it('keeps what tasks hold of a reservation before another role’s reservation', () => {
    const current = add(reserved('cpus:2', 'a'), reserved('cpus:2', 'b'));
    const held = reserved('cpus:2', 'b');
    const result = readmittedTotal(current, held, resources('cpus:2'));
    expect(equals(result.total, held)).toBe(true);
    expect(equals(result.dropped, reserved('cpus:2', 'a'))).toBe(true);
  });

  it('counts a dynamic reservation the agent reports itself as what it was made from', () => {
    const current = add(reserved('cpus:2'), resources('cpus:2'));
    const result = readmittedTotal(current, [], current);
    expect(equals(result.total, current)).toBe(true);
  });
});
