/**
 * The web UI for the local cluster: `npm start` (and the browser tests' global setup) build it with vite
 * when ui/dist is missing or older than its sources, which takes a few seconds, so a fresh clone needs
 * no separate build step. The cluster then serves what is built.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadUiAssets, type UiAssets } from '../functions/handlers/ui-route.js';

export const UI_ROOT = join(import.meta.dirname, '..', 'ui');
export const UI_DIST = join(UI_ROOT, 'dist');
const SOURCES = ['src', 'public', 'index.html', 'vite.config.ts'];

function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/** Whether ui/dist is missing or older than a file it is built from. */
export function uiIsStale(): boolean {
  const built = join(UI_DIST, 'index.html');
  if (!existsSync(built)) return true;
  const builtAt = statSync(built).mtimeMs;
  return SOURCES.some((source) => newest(join(UI_ROOT, source)) > builtAt);
}

/** Builds the UI when stale; vite is a development dependency, loaded only then. */
export async function ensureUiBuilt(log: (line: string) => void = () => undefined): Promise<void> {
  if (!uiIsStale()) return;
  const started = Date.now();
  const { build } = await import('vite');
  await build({ configFile: join(UI_ROOT, 'vite.config.ts'), logLevel: 'warn' });
  log(`  web ui           built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** What the local master serves at `/`: the build, if there is one. */
export function localUiAssets(): UiAssets | undefined {
  return loadUiAssets(UI_DIST);
}
