import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The test suite (npm test = vitest run): three projects, one DynamoDB Local per run (started by
 * the integration project's global setup, only when integration files run), at most 2 test files at
 * a time, each in its own forked process. See docs/testing.md.
 */
const shared = {
  pool: 'forks',
  // 2 cores: more workers only make the DynamoDB-, synth- and process-heavy files slower.
  maxWorkers: 2,
  // Product logs off (the canary corpus test turns them back on for the processes it starts).
  env: { OPSRAIL_LOG_LEVEL: 'SILENT' },
} as const;

// The package's own name, as tsconfig.json's `paths` map it (tsx honours them, vite does not): a
// user project's job module imports `opsrail`, which must be this source, not a dist/ that a fresh
// clone has not built.
const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const alias = [
  { find: /^opsrail\/cdk$/, replacement: source('./infra/index.ts') },
  { find: /^opsrail$/, replacement: source('./functions/jobs/api.ts') },
];

export default defineConfig({
  resolve: { alias },
  test: {
    ...shared,
    projects: [
      {
        // error-names bundles a function with esbuild (20 s under load): two minutes is plenty.
        test: {
          ...shared,
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          ...shared,
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Whole local stacks, real ASL executions and spawned CLIs: seconds to a minute a test on
          // an idle machine, several times that on a loaded one (node's runner had no timeout at
          // all).
          testTimeout: 600_000,
          hookTimeout: 600_000,
          globalSetup: ['test/support/dynamodb-global-setup.ts'],
          setupFiles: ['test/support/dynamodb-env.ts'],
        },
      },
      {
        // CDK synth and esbuild bundling of every function: up to a minute each, more under load.
        test: {
          ...shared,
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
    coverage: {
      provider: 'v8',
      reporter: ['text-summary', 'text', 'html'],
      reportsDirectory: 'coverage',
      include: [
        'cli/**',
        'contracts/**',
        'functions/**',
        'infra/**',
        'local/**',
        'statemachines/**',
      ],
    },
  },
});
