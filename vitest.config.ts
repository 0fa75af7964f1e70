import { defineConfig } from 'vitest/config';

// The SDK warns once per process that its 2027 releases need Node 22; Lambda runs Node 22 and the
// versions here are pinned, so the warning is noise in test output.
const env = {
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  // Structured logs are silent in tests unless asked for (MANTLE_TEST_LOGS=INFO npm test).
  POWERTOOLS_LOG_LEVEL: process.env.MANTLE_TEST_LOGS ?? 'SILENT',
};

export default defineConfig({
  test: {
    env,
    projects: [
      {
        test: {
          name: 'unit',
          env,
          include: ['test/unit/**/*.test.ts', 'test/property/**/*.test.ts', 'ui/test/**/*.test.ts'],
          // Synthesising the CDK stack takes seconds on a loaded 2-core machine; vitest's 5 s default is too tight.
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'contract',
          env,
          include: ['test/contract/**/*.test.ts'],
          // A Docker engine and the base image (built when missing); one DynamoDB Local and one SQS
          // stand-in for the whole run, each suite using its own tables.
          globalSetup: ['test/support/base-image.ts', 'test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          env,
          // Each suite starts a whole local cluster (its own stand-ins) as `npm start` does.
          // The browser tests (test/e2e/ui*.test.ts) drive Debian's Chromium; the UI is built first.
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/base-image.ts', 'test/support/ui-build.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
