import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  DEFAULT_POLICY_DIR,
  localNames,
  startLocalStack,
  type LocalStack,
} from '../../local/stack';
import { startDynamoDbLocal } from '../../local/dynamodb-local';

/**
 * A local stack for one test file: the test run's DynamoDB Local (OPSRAIL_TEST_DYNAMODB_ENDPOINT,
 * started once per run by test/support/dynamodb-global-setup.ts) with tables of its own, and its
 * own local S3 endpoint and home.
 */
export async function testStack(options: { policyDir?: string } = {}): Promise<LocalStack> {
  let endpoint = process.env.OPSRAIL_TEST_DYNAMODB_ENDPOINT;
  let stopDynamo = async () => {};
  if (!endpoint) {
    // Outside vitest's integration project (a file run by hand with tsx): bring a DynamoDB Local of
    // its own.
    const own = await startDynamoDbLocal({ dbPath: null });
    endpoint = own.endpoint;
    stopDynamo = own.stop;
  }
  const stack = await startLocalStack({
    home: mkdtempSync(join(tmpdir(), 'opsrail-test-')),
    names: localNames(`t${randomBytes(4).toString('hex')}`),
    dynamodbEndpoint: endpoint,
    policyDir: options.policyDir ?? DEFAULT_POLICY_DIR,
    attach: false,
  });
  return {
    ...stack,
    stop: async () => {
      await stack.stop();
      await stopDynamo();
    },
  };
}

/** A copy of policy/ with `edit` applied to the named files (parsed JSON in, JSON out). */
export function policyFixture(edits: Record<string, (json: any) => unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'opsrail-policy-'));
  cpSync(DEFAULT_POLICY_DIR, dir, { recursive: true });
  for (const [file, edit] of Object.entries(edits)) {
    const path = join(dir, file);
    writeFileSync(
      path,
      `${JSON.stringify(edit(JSON.parse(readFileSync(path, 'utf8'))), null, 2)}\n`,
    );
  }
  return dir;
}

/** Adds test jobs to a catalog and enables them in the local stage. */
export function withTestJobs(
  jobs: ({ jobId: string; jobClass?: string } & Record<string, unknown>)[],
  policyEdit: (policy: any) => any = (p) => p,
): string {
  return policyFixture({
    'catalog.json': (catalog) => ({
      ...catalog,
      jobs: [
        ...catalog.jobs,
        ...jobs.map((j) => ({
          jobVersion: '0.1.0',
          jobClass: 'MAINTENANCE',
          owner: 'tests',
          description: `test job ${j.jobId}`,
          schedule: { expression: 'rate(1 hour)' },
          // Enabled user jobs must say whether a re-run is safe (docs/crash-safety.md).
          idempotent: true,
          ...j,
        })),
      ],
    }),
    'local.json': (policy) =>
      policyEdit({
        ...policy,
        jobs: {
          ...policy.jobs,
          ...Object.fromEntries(jobs.map((j) => [j.jobId, { enabled: true }])),
        },
      }),
  });
}

/**
 * A jobs directory (OPSRAIL_JOBS_DIR) with a module for each test job, for a CLI process that loads
 * a policy declaring jobs whose code lives in the test process: every catalog job needs an
 * implementation where jobs run (docs/writing-a-job.md). The CLI in these tests runs other jobs;
 * these refuse to run there.
 */
export function jobModulesDir(jobIds: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'opsrail-jobs-'));
  const defineJob = JSON.stringify(join(import.meta.dirname, '../../functions/jobs/define-job.ts'));
  const errors = JSON.stringify(join(import.meta.dirname, '../../functions/core/errors.ts'));
  for (const jobId of jobIds) {
    writeFileSync(
      join(dir, `${jobId}.ts`),
      `import { defineJob } from ${defineJob};\nimport { ConfigurationError } from ${errors};\n` +
        `export default defineJob({ jobId: '${jobId}', async run() { throw new ConfigurationError('${jobId} runs in the test process, not in this CLI'); } });\n`,
    );
  }
  return dir;
}
