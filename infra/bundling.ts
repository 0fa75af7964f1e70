/**
 * How the stack's code is built: local esbuild (no Docker), Node 22, ESM, minified, with source maps,
 * every dependency bundled in (the AWS SDK too, so the bundle runs the versions the lock file pins,
 * not the runtime's). The Lambdas go through NodejsFunction; the agent daemon is one more bundle,
 * uploaded as an asset that the instances download. The bundle test builds with these same options.
 */
import { buildSync, type BuildOptions } from 'esbuild';
import { LogLevel, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { join } from 'node:path';

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

/** Builds the agent daemon into `outputDir/index.mjs` (with its source map). */
export function buildAgentBundle(outputDir: string): void {
  buildSync(esbuildOptions('agent/main.ts', join(outputDir, 'index.mjs')));
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
