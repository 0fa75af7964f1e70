/**
 * The web UI's build: Preact with the automatic JSX runtime, emitted into ui/dist with content-hashed
 * file names under assets/ (the master serves those immutable and index.html uncached).
 */
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The master serves every file itself; no inlined data: URLs (the page's CSP allows 'self' only).
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
  logLevel: 'warn',
});
