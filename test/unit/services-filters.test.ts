import { describe, expect, it } from 'vitest';
import { appMatches, parseLabelQuery, taskStatusMatches } from '../../frameworks/services/filters.js';

const app = (labels: Record<string, string>, cmd?: string) => ({ id: '/shop/Web-api', cmd, labels });

function selects(query: string, labels: Record<string, string>): boolean {
  const selectors = parseLabelQuery(query);
  if (selectors === undefined) throw new Error(`not a selector: ${query}`);
  return appMatches(app(labels), { labels: selectors });
}

describe("Marathon's label selector (GET /v2/apps?label=)", () => {
  it('matches existence, ==, !=, in and notin, each needing the label', () => {
    expect(selects('team', { team: 'shop' })).toBe(true);
    expect(selects('team', { owner: 'shop' })).toBe(false);
    expect(selects('team==shop', { team: 'shop' })).toBe(true);
    expect(selects('team == shop', { team: 'ops' })).toBe(false);
    expect(selects('team!=shop', { team: 'ops' })).toBe(true);
    expect(selects('team!=shop', {})).toBe(false);
    expect(selects('tier in (web, api)', { tier: 'api' })).toBe(true);
    expect(selects('tier in (web, api)', { tier: 'db' })).toBe(false);
    expect(selects('tier notin (web,api)', { tier: 'db' })).toBe(true);
    expect(selects('tier notin (web,api)', {})).toBe(false);
  });

  it('needs every selector of a comma-separated query, and honours backslash escapes', () => {
    expect(selects('team==shop,tier in (web,api)', { team: 'shop', tier: 'web' })).toBe(true);
    expect(selects('team==shop,tier in (web,api)', { team: 'shop', tier: 'db' })).toBe(false);
    expect(selects('note==a\\,b', { note: 'a,b' })).toBe(true);
  });

  it('refuses what is not a selector', () => {
    expect(parseLabelQuery('team==shop,')).toBeUndefined();
    expect(parseLabelQuery('tier in web')).toBeUndefined();
    expect(parseLabelQuery('')).toBeUndefined();
  });
});

describe('the id, cmd and status filters', () => {
  it('keep apps whose id or cmd contains the text, case-insensitively', () => {
    expect(appMatches(app({}, 'exec httpd'), { id: 'web-API', cmd: 'HTTPD' })).toBe(true);
    expect(appMatches(app({}, 'exec httpd'), { id: 'db' })).toBe(false);
    expect(appMatches(app({}), { cmd: 'httpd' })).toBe(false);
  });

  it("keep tasks in Marathon's named states", () => {
    expect(taskStatusMatches('TASK_RUNNING', ['running'])).toBe(true);
    expect(taskStatusMatches('TASK_STAGING', ['running'])).toBe(false);
    expect(taskStatusMatches('TASK_STAGING', ['running', 'staging'])).toBe(true);
    expect(taskStatusMatches('TASK_KILLING', undefined)).toBe(true);
  });
});
