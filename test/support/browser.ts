/**
 * A real browser for the UI tests: Debian's Chromium (`apt-get install chromium`, as .ci/setup does),
 * driven by playwright-core, which downloads no browser of its own. MANTLE_CHROMIUM points elsewhere.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.MANTLE_CHROMIUM ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The UI tests need Chromium at ${CHROMIUM} (sudo apt-get install -y chromium, or .ci/setup); ` +
        'MANTLE_CHROMIUM names another path.',
    );
  }
  // --no-sandbox: the tests run as root in CI containers, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/** A page that collects the app's uncaught errors and console errors, for the test to check. */
export async function openPage(browser: Browser, errors: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    // Chromium logs every 4xx and 5xx answer. A 404 is an answer the app handles (no output yet), and so is any
    // answer to its probe for Mantle Services (503 where the cluster runs no Services).
    const handled = /status of 404/.test(message.text()) || message.location().url.endsWith('/v2/info');
    if (message.type() === 'error' && !handled) errors.push(`console: ${message.text()}`);
  });
  page.on('dialog', (dialog) => void dialog.accept());
  return page;
}
