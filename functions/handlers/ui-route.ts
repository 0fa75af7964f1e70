/**
 * The web UI's static files (ui/, built by vite into ui/dist; in AWS bundled beside the API's Lambda),
 * served by the master's own app: `/` and every `/ui/...` page answer index.html (the single-page app
 * routes in the browser), `/assets/...` the content-hashed scripts and styles. The files are read once,
 * when the app is built, so a request costs no disk read.
 *
 * Caching: hashed assets never change under their name (a year, immutable); index.html is revalidated
 * on every load (no-cache with an ETag), so a new build is picked up at once. The page's CSP allows its
 * own origin only.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { Context, Hono } from 'hono';
import type { MasterEnv } from './scheduler-route.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';
const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

interface Asset {
  readonly body: Uint8Array;
  readonly type: string;
  readonly etag: string;
  readonly cache: string;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

export type UiAssets = ReadonlyMap<string, Asset>;

/** The built UI in memory, by URL path (`/index.html`, `/assets/index-3f2a.js`); undefined when not built. */
export function loadUiAssets(dir: string): UiAssets | undefined {
  if (!existsSync(join(dir, 'index.html'))) return undefined;
  const assets = new Map<string, Asset>();
  for (const file of filesUnder(dir)) {
    const path = `/${relative(dir, file).split(sep).join('/')}`;
    const body = readFileSync(file);
    assets.set(path, {
      body,
      type: TYPES[extname(file)] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      cache: path.startsWith('/assets/') ? IMMUTABLE : REVALIDATE,
    });
  }
  return assets;
}

function answer(c: Context<MasterEnv>, asset: Asset, extra: Record<string, string> = {}): Response {
  const headers = { 'Content-Type': asset.type, 'Cache-Control': asset.cache, ETag: asset.etag, ...extra };
  if (c.req.header('If-None-Match') === asset.etag) return new Response(null, { status: 304, headers });
  return new Response(c.req.method === 'HEAD' ? null : asset.body, { status: 200, headers });
}

/** Mounts the UI's routes; a path under /assets that the build does not have is a 404. */
export function mountUi(app: Hono<MasterEnv>, assets: UiAssets): void {
  const index = assets.get('/index.html');
  if (!index) return;
  const page = (c: Context<MasterEnv>) => answer(c, index, PAGE_HEADERS);
  app.get('/', page);
  app.get('/ui', page);
  app.get('/ui/*', page);
  for (const [path, asset] of assets) {
    if (path !== '/index.html') app.get(path, (c) => answer(c, asset));
  }
}
