/**
 * Global setup of the end-to-end tests: the web UI is built (vite, a few seconds) when ui/dist is missing
 * or older than its sources, once before the suites start, so every local cluster they start serves it.
 */
import { ensureUiBuilt } from '../../local/ui.js';

export async function setup(): Promise<void> {
  await ensureUiBuilt();
}
