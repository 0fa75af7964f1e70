import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Resource } from '#shared/protocol/mesos.js';
import { allocate } from '#shared/resources/resources.js';
import { parseResourceText } from '#shared/resources/parse.js';
import { holdsResources, resourcesFromStored, storedResources } from '../../functions/registrar/stored-resources.js';
import { Expression } from '../../functions/registrar/expression.js';
import {
  agentFromItem,
  storedOffer,
  storedTask,
  validateRegistration,
} from '../../functions/registrar/agent-records.js';
import { admittedItem } from '../../functions/registrar/agent-changes.js';
import { DOMAIN_A, DOMAIN_B, resourcesIn } from '../support/arbitraries.js';

function text(value: string): Resource[] {
  const parsed = parseResourceText(value);
  if (!parsed.ok) throw new Error(parsed.error.message);
  return parsed.value;
}

describe("the agents table's stored resources", () => {
  it("keeps a g6.12xlarge's total and a task's allocated share as Mesos's text", () => {
    const total = text('cpus:48;mem:190000;disk:140000;ports:[31000-32000];gpus:4');
    expect(storedResources(total)).toBe('cpus:48;mem:190000;disk:140000;ports:[31000-32000];gpus:4');
    const task = allocate(text('cpus:8;mem:30000;gpus:1;bugs:{a,b}'), 'ml/team');
    expect(storedResources(task)).toBe('ml/team|cpus:8;mem:30000;gpus:1;bugs:{a,b}');
    expect(resourcesFromStored(storedResources(task))).toEqual(task);
    expect(storedResources(task).length).toBeLessThan(JSON.stringify(task).length / 5);
  });

  it('reads back exactly what it stored, whatever the resources, and JSON stored before', () => {
    const any = fc.oneof(resourcesIn(DOMAIN_A), resourcesIn(DOMAIN_B));
    fc.assert(
      fc.property(any, fc.option(fc.constantFrom('*', 'ml', 'a|b', 'x;y'), { nil: undefined }), (list, role) => {
        const resources = role === undefined ? list : allocate(list, role);
        const stored = storedResources(resources);
        expect(JSON.stringify(resourcesFromStored(stored))).toBe(JSON.stringify(resources));
        expect(resourcesFromStored(JSON.stringify(resources))).toEqual(resources);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps as JSON what the text cannot say: reservations, volumes, mixed allocations, odd names', () => {
    const reserved = text('cpus(ml):2;mem:64');
    expect(storedResources(reserved)).toBe(JSON.stringify(reserved));
    const mixed = [...allocate(text('cpus:1'), 'a'), ...allocate(text('mem:2'), 'b')];
    expect(storedResources(mixed)).toBe(JSON.stringify(mixed));
    const odd: Resource[] = [{ name: 'x;y', type: 'SCALAR', scalar: { value: 1 } }];
    expect(storedResources(odd)).toBe(JSON.stringify(odd));
    expect(storedResources([])).toBe('[]');
  });

  it('conditions on either form, so that items written as JSON still match', () => {
    const x = new Expression();
    const task = allocate(text('cpus:8'), '*');
    expect(holdsResources(x, '#r', task)).toBe('#r IN (:v0, :v1)');
    expect(Object.values(x.values)).toEqual(['*|cpus:8', JSON.stringify(task)]);
    const reserved = text('cpus(ml):2');
    expect(holdsResources(new Expression(), '#r', reserved)).toBe('#r = :v0');
  });
});

describe("an agent's item", () => {
  const details = validateRegistration({ hostname: 'h', resources: text('cpus:48;mem:190000;ports:[31000-32000]') });
  if (!details.ok) throw new Error(details.error.message);
  const task = {
    frameworkId: 'fw-1',
    taskId: 't-1',
    role: '*',
    resources: allocate(text('cpus:8;mem:30000'), '*'),
    launchId: 'launch-1',
    launchedAt: 1,
  };
  const offer = {
    offerId: 'o-1',
    agentId: 'a-1',
    frameworkId: 'fw-1',
    role: '*',
    resources: allocate(text('cpus:40'), '*'),
    createdAt: 2,
  };

  it("keeps a task's ids in its key only, and reads the item as written", () => {
    const item = {
      ...admittedItem('a-1', details.value, 0),
      tasks: { 'fw-1/t-1': storedTask(task) },
      offers: { 'o-1': storedOffer(offer) },
    };
    expect(storedTask(task)).toEqual({
      role: '*',
      resources: '*|cpus:8;mem:30000',
      launch_id: 'launch-1',
      launched_at: 1,
    });
    const agent = agentFromItem(item);
    expect(agent.tasks['fw-1/t-1']).toEqual(task);
    expect(agent.offers['o-1']).toEqual(offer);
    expect(agent.total).toEqual(details.value.total);
  });

  it('reads one written before (JSON resources, ids in each task entry) as the same agent', () => {
    const item = {
      ...admittedItem('a-1', details.value, 0),
      total: JSON.stringify(details.value.total),
      tasks: {
        'fw-1/t-1': {
          ...storedTask(task),
          framework_id: 'fw-1',
          task_id: 't-1',
          resources: JSON.stringify(task.resources),
        },
      },
      offers: { 'o-1': { ...storedOffer(offer), resources: JSON.stringify(offer.resources) } },
    };
    const agent = agentFromItem(item);
    expect(agent.tasks['fw-1/t-1']).toEqual(task);
    expect(agent.offers['o-1']).toEqual(offer);
    expect(agent.total).toEqual(details.value.total);
  });
});
