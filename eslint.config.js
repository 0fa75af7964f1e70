import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/*
 * The rooms' boundaries (docs/architecture.md "What each room may import"). The pure core decides and
 * does no I/O: the allocator, the resource model, the task state machine, the protocol, and the plans
 * and ledger changes that the master's I/O code carries out. It may import no AWS SDK, no Lambda, HTTP
 * or Docker library, no file, process or network module, and no store or adapter of ours. Type-only
 * imports of the registrar's record types are allowed: they vanish at runtime.
 */
const PURE_CORE = [
  'functions/allocator/**/*.ts',
  'shared/resources/**/*.ts',
  'shared/tasks/**/*.ts',
  'shared/protocol/**/*.ts',
  'shared/{result,ids,collections,roles,acl}.ts',
  'functions/scheduler/{accept-plan,accept-feedback,executor-charges,operations,task-authorization,task-validation,validation,responses}.ts',
  'functions/registrar/{accept-changes,agent-changes,agent-conversion,agent-readmission,agent-records,expression,ledger,errors,stored-resources}.ts',
  'functions/operator/conversion-plan.ts',
  'functions/master/{status-plan,statuses}.ts',
  'functions/fleet/{sweep-plan,instance-id,hooks}.ts',
  'frameworks/jobs/{model,lifecycle,schedule,placement}.ts',
  'frameworks/services/{model,plan,placement,constraints,task-info,views}.ts',
  'functions/maintenance/{schedule,inverse-offers}.ts',
];

const PURE_SCHEDULER =
  '(accept-plan|accept-feedback|executor-charges|operations|task-authorization|task-validation|validation|responses)';
const PURE_REGISTRAR =
  '(accept-changes|agent-changes|agent-conversion|agent-readmission|agent-records|expression|ledger|errors|stored-resources)';

const noIo = (message) => ({
  group: [
    '@aws-sdk/*',
    '@aws-lambda-powertools/*',
    '@middy/*',
    '@hono/*',
    'aws-lambda',
    'hono',
    'hono/*',
    'dockerode',
    'aws-cdk-lib',
    'aws-cdk-lib/*',
    'constructs',
    'node:fs',
    'node:fs/*',
    'node:child_process',
    'node:net',
    'node:http',
    'node:https',
    'node:dgram',
  ],
  message,
});

const PURE_CORE_RULE = [
  'error',
  {
    patterns: [
      noIo('The pure core does no I/O: decide here, and let the I/O code around it do (docs/architecture.md).'),
      {
        regex: String.raw`(^|/)(agent|local|cli|sdk|infra|bench|handlers|allocation)/|(^|/|#)shared/(aws|queues)/|(^|/|#)shared/(log|metrics)\.js$`,
        message: 'The pure core imports no adapter, entry point or I/O helper.',
      },
      {
        regex: String.raw`(^|/)master/(?!(status-plan|statuses)\.js$)|(^|/)fleet/(?!(sweep-plan|instance-id|hooks)\.js$)`,
        message: "The master's context and the fleet's I/O are not for the pure core.",
      },
      {
        regex: String.raw`(^|/)scheduler/(?!${PURE_SCHEDULER}\.js$)`,
        message: 'Only the pure scheduler modules (plans, validation) are for the pure core.',
      },
      {
        regex: String.raw`(^|/)registrar/(?!${PURE_REGISTRAR}\.js$)`,
        allowTypeImports: true,
        message: "The registrar's stores do I/O: import its record types only (import type), or its pure modules.",
      },
    ],
  },
];

/** Sibling imports of the pure modules that share a folder with I/O modules. */
const pureSiblings = (files, pure) => ({
  files,
  rules: {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        patterns: [
          ...PURE_CORE_RULE[1].patterns,
          {
            regex: String.raw`^\./(?!${pure}\.js$)`,
            allowTypeImports: true,
            message: 'A pure module imports only the pure modules beside it (and their types).',
          },
        ],
      },
    ],
  },
});

/*
 * Size: small functions, read in one screen, and small files, in every source folder. The Mesos schema
 * catalogue (shared/protocol/mesos.ts) is one file on purpose.
 */
const SIZE_CHECKED = [
  'functions/**/*.ts',
  'frameworks/**/*.ts',
  'shared/**/*.ts',
  'infra/**/*.ts',
  'bench/**/*.ts',
  'agent/**/*.ts',
  'cli/**/*.ts',
  'local/**/*.ts',
  'sdk/**/*.ts',
  'examples/**/*.ts',
  'ui/**/*.{ts,tsx}',
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'ui/dist/', 'cdk.out/', 'coverage/', '.scratch/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Async mistakes are the costly ones in a control plane: every promise is awaited or handled.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  { files: PURE_CORE, rules: { '@typescript-eslint/no-restricted-imports': PURE_CORE_RULE } },
  pureSiblings(
    [
      'functions/scheduler/{accept-plan,accept-feedback,executor-charges,operations,task-authorization,task-validation,validation,responses}.ts',
    ],
    PURE_SCHEDULER,
  ),
  pureSiblings(
    [
      'functions/registrar/{accept-changes,agent-changes,agent-conversion,agent-readmission,agent-records,expression,ledger,errors,stored-resources}.ts',
    ],
    PURE_REGISTRAR,
  ),
  pureSiblings(['functions/master/{status-plan,statuses}.ts'], '(status-plan|statuses)'),
  pureSiblings(['functions/fleet/{sweep-plan,instance-id,hooks}.ts'], '(sweep-plan|instance-id|hooks)'),
  pureSiblings(['frameworks/jobs/{model,lifecycle,schedule,placement}.ts'], '(model|lifecycle|schedule|placement)'),
  pureSiblings(
    ['frameworks/services/{model,plan,placement,constraints,task-info,views}.ts'],
    '(model|plan|placement|constraints|task-info|views)',
  ),
  pureSiblings(['functions/maintenance/{schedule,inverse-offers}.ts'], '(schedule|inverse-offers)'),
  {
    files: SIZE_CHECKED,
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
      'max-lines': ['error', { max: 500 }],
    },
  },
  { files: ['shared/protocol/mesos.ts'], rules: { 'max-lines': 'off' } },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', console: 'readonly' },
    },
  },
);
