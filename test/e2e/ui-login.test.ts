/**
 * The web UI with authentication on, in Debian's Chromium: the page asks for an operator login, refuses
 * a wrong secret, keeps the credential in sessionStorage (never in the URL) and sends it in the
 * Authorization header; a framework principal signs in but the operator API refuses it (403), shown.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openPage } from '../support/browser.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';

let cluster: TestCluster;
let browser: Browser;
const OPS = { principal: 'ops', secret: 'ops-secret-0123456789ab' };
const TEAM = { principal: 'team', secret: 'team-secret-0123456789a' };

beforeAll(async () => {
  [cluster, browser] = await Promise.all([
    startTestCluster({ master: { authenticate: true, acls: 'permissive' } }),
    launchBrowser(),
  ]);
  for (const [who, kind] of [
    [OPS, 'operator'],
    [TEAM, 'framework'],
  ] as const) {
    const created = await cluster.master.registrar.principals.create({ ...who, kind, roles: ['*'] });
    if (!created.ok) throw new Error(created.error.message);
  }
}, 150_000);

afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
}, 60_000);

async function signIn(page: Page, who: { principal: string; secret: string }): Promise<void> {
  await page.getByRole('heading', { name: 'Sign in to Mantle' }).waitFor();
  await page.getByLabel('Principal').fill(who.principal);
  await page.getByLabel('Secret or token').fill(who.secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('the web UI with authentication on', () => {
  it("answers a page's script a 401 without the Basic challenge (no browser prompt); other clients get it", async () => {
    const call = (headers: Record<string, string>) =>
      fetch(`${cluster.url}/api/v1`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
        body: '{"type":"GET_HEALTH"}',
      });
    const script = await call({ 'X-Requested-With': 'XMLHttpRequest' });
    expect(script.status).toBe(401);
    expect(script.headers.get('www-authenticate')).toBeNull();
    const tool = await call({});
    expect(tool.status).toBe(401);
    expect(tool.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
  });

  it('asks for an operator login, refuses a wrong secret, and signs in with the right one', async () => {
    const errors: string[] = [];
    const page = await openPage(browser, errors);
    const sent: Array<{ url: string; authorization?: string }> = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/api/v1') {
        sent.push({ url: request.url(), authorization: request.headers().authorization });
      }
    });
    await page.goto(`${cluster.url}/`);
    await signIn(page, { principal: OPS.principal, secret: 'not-the-secret-0123456' });
    await page.getByRole('alert').filter({ hasText: 'The master refused these credentials.' }).waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);

    await signIn(page, OPS);
    await page.locator('.live.on').waitFor({ timeout: 10_000 });
    await page.locator('[data-testid=agent-count]', { hasText: /^1$/ }).waitFor({ timeout: 10_000 });
    const basic = `Basic ${Buffer.from(`${OPS.principal}:${OPS.secret}`).toString('base64')}`;
    expect(sent.at(-1)?.authorization).toBe(basic);
    expect(sent.every((request) => !request.url.includes(OPS.secret) && !request.url.includes('secret'))).toBe(true);
    expect(page.url()).not.toContain(OPS.secret);
    // Kept for this tab only.
    expect(await page.evaluate("sessionStorage.getItem('mantle.credential')")).toBe(basic);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Mantle' }).waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expect(errors.filter((error) => !/status of 401/.test(error))).toEqual([]);
    await page.close();
  });

  it("shows the operator API's refusal to a framework principal", async () => {
    const page = await openPage(browser, []);
    await page.goto(`${cluster.url}/ui/agents`);
    await signIn(page, TEAM);
    await page
      .getByRole('status')
      .filter({ hasText: /disconnected: 403/ })
      .waitFor({ timeout: 10_000 });
    expect(await page.locator('[data-testid=agent-state]').count()).toBe(0);
    await page.close();
  });
});
