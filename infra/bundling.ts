/**
 * How the stack's code is built: local esbuild (no Docker), Node 22, ESM, minified, with source maps,
 * every dependency bundled in (the AWS SDK too, so the bundle runs the versions the lock file pins,
 * not the runtime's). The Lambdas go through NodejsFunction; the agent daemon is one more bundle,
 * uploaded as an asset that the instances download. The bundle test builds with these same options.
 */
import { buildSync, type BuildOptions } from 'esbuild';
import { LogLevel, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEVICE_FILTER_BINARY } from '../agent/isolation/device-filter.js';

/** The repository root (cdk.json's folder): entry points are relative to it. */
export const PROJECT_ROOT = join(import.meta.dirname, '..');

/**
 * CommonJS dependencies inside an ESM bundle still call `require` and read `__dirname`; ESM has
 * neither, so the bundle defines them first.
 */
export const ESM_BANNER =
  "import { createRequire as __mantleRequire } from 'node:module';" +
  "import { fileURLToPath as __mantleFileUrl } from 'node:url';" +
  "import { dirname as __mantleDirname } from 'node:path';" +
  'const require = __mantleRequire(import.meta.url);' +
  'const __filename = __mantleFileUrl(import.meta.url);' +
  'const __dirname = __mantleDirname(__filename);';

export const NODE_TARGET = 'node22';

/** NodejsFunction's bundling: local esbuild only (Docker bundling would pull a public image). */
export const LAMBDA_BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  target: NODE_TARGET,
  minify: true,
  sourceMap: true,
  banner: ESM_BANNER,
  mainFields: ['module', 'main'],
  bundleAwsSDK: true,
  externalModules: [],
  forceDockerBundling: false,
  logLevel: LogLevel.WARNING,
};

/**
 * The API's functions also carry the web UI (functions/handlers/ui-route.ts serves it from `ui/` beside
 * the bundle): vite builds it straight into the bundle's folder, so a deploy never ships a stale build.
 */
export const UI_BUNDLING: BundlingOptions = {
  ...LAMBDA_BUNDLING,
  commandHooks: {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (inputDir, outputDir) => [
      `"${inputDir}/node_modules/.bin/vite" build --config "${inputDir}/ui/vite.config.ts" --outDir "${outputDir}/ui" --emptyOutDir --logLevel warn`,
    ],
  },
};

/** The functions that answer HTTP and so serve the UI. */
export const UI_FUNCTIONS: readonly LambdaName[] = ['api', 'scheduler'];

/** The same build through esbuild's API (the agent bundle, and the tests that check the Lambdas'). */
export function esbuildOptions(entry: string, outfile: string): BuildOptions {
  return {
    entryPoints: [join(PROJECT_ROOT, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: NODE_TARGET,
    minify: true,
    sourcemap: true,
    banner: { js: ESM_BANNER },
    mainFields: ['module', 'main'],
    // dockerode's ssh2 loads these native helpers only if present, inside try/catch.
    external: ['cpu-features', '*.node'],
    logLevel: 'error',
  };
}

/** The source of the cgroup2 GPU device filter's loader, shipped in the agent bundle. */
export const DEVICE_FILTER_SOURCE = 'device-filter.c';

/**
 * The loader as a static binary for the fleet's x86_64 instances, where this machine can make one
 * (Linux x86_64 with `cc` and a static libc); true when it did. Where it cannot, the instance builds
 * it from the shipped source at boot (user-data.ts).
 */
export function compileDeviceFilter(source: string, output: string): boolean {
  if (process.platform !== 'linux' || process.arch !== 'x64') return false;
  return spawnSync('cc', ['-O2', '-static', '-o', output, source], { stdio: 'ignore' }).status === 0;
}

/**
 * Builds the agent daemon into `outputDir/index.mjs` (with its source map), and beside it the GPU
 * device filter's source and, where `compile` can, its loader (where the agent looks for it).
 */
export function buildAgentBundle(outputDir: string, compile = compileDeviceFilter): boolean {
  buildSync(esbuildOptions('agent/main.ts', join(outputDir, 'index.mjs')));
  const source = join(outputDir, DEVICE_FILTER_SOURCE);
  copyFileSync(join(PROJECT_ROOT, 'agent', 'isolation', DEVICE_FILTER_SOURCE), source);
  return compile(source, join(outputDir, DEVICE_FILTER_BINARY));
}

/** The Lambda entry points and their handlers, by function. */
export const LAMBDA_ENTRIES = {
  api: { entry: 'functions/handlers/api.ts', handler: 'handler' },
  scheduler: { entry: 'functions/handlers/api.ts', handler: 'streamingHandler' },
  status: { entry: 'functions/handlers/status-handler.ts', handler: 'handler' },
  heartbeats: { entry: 'functions/handlers/heartbeats-handler.ts', handler: 'handler' },
  allocator: { entry: 'functions/handlers/allocator.ts', handler: 'handler' },
  sweeper: { entry: 'functions/handlers/sweeper.ts', handler: 'handler' },
  fleet: { entry: 'functions/handlers/fleet.ts', handler: 'handler' },
  lifecycle: { entry: 'functions/handlers/lifecycle.ts', handler: 'handler' },
  authorizer: { entry: 'functions/handlers/authorizer.ts', handler: 'handler' },
  jobs: { entry: 'functions/handlers/jobs.ts', handler: 'jobsEventsHandler' },
  jobsTicker: { entry: 'functions/handlers/jobs.ts', handler: 'jobsTickerHandler' },
  services: { entry: 'functions/handlers/services.ts', handler: 'servicesEventsHandler' },
  servicesTicker: { entry: 'functions/handlers/services.ts', handler: 'servicesTickerHandler' },
} as const;
export type LambdaName = keyof typeof LAMBDA_ENTRIES;
