import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { JobId } from '../contracts';
import { ValidationError } from '../functions/core/errors';
import { jobsDirFor } from '../functions/jobs/modules';

export const NEW_JOB_KINDS = ['module', 'lambda', 'http'] as const;
export type NewJobKind = (typeof NEW_JOB_KINDS)[number];

const moduleSource = (jobId: string) => `import * as z from 'zod';
import { defineJob } from 'opsrail';

/**
 * ${jobId}: what it does, and why it is safe to run twice with the same run id (docs: Writing a
 * job).
 */
export default defineJob({
  jobId: '${jobId}',
  // The catalog's params (and a stage's on top), checked when the policy loads.
  params: z.strictObject({ greeting: z.string().min(1).default('hello') }),
  async run({ params, run, log }) {
    // Compute from the pinned window, never from the wall clock; do the effect once per
    // run.jobRunId.
    log('running', { window: run.window });
    return {
      quality: 'OK',
      outputs: [{ name: 'result.json', contentType: 'application/json', body: JSON.stringify({ greeting: params.greeting, window: run.window }) + '\\n' }],
    };
  },
});
`;

const moduleTest = (jobId: string, file: string) => `import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jobTestContext } from 'opsrail';
import job from './${file}';

test('${jobId} reports its window', async () => {
  const result = await job.run(jobTestContext({ jobId: '${jobId}', params: { greeting: 'hi' } }));
  assert.equal(result.quality, 'OK');
  assert.deepEqual(JSON.parse(result.outputs[0]!.body), { greeting: 'hi', window: { start: '2026-01-01T00:00:00Z', end: '2026-01-01T01:00:00Z' } });
});
`;

const standInSource = (
  jobId: string,
) => `import type { LambdaJobAnswer, LambdaJobRequest } from 'opsrail';

/**
 * The local stand-in for ${jobId}'s function: the same contract (lambda_job_request in,
 * lambda_job_answer out).
 */
export async function handler(event: LambdaJobRequest): Promise<LambdaJobAnswer> {
  return {
    quality: 'OK',
    outputs: [{ name: 'answer.json', contentType: 'application/json', body: JSON.stringify({ key: event.idempotencyKey, window: event.run.window }) + '\\n' }],
    diagnostics: [],
  };
}
`;

const standInTest = (jobId: string, file: string) => `import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LambdaJobAnswerSchema, jobTestContext } from 'opsrail';
import { handler } from './${file}';

test('${jobId}: the stand-in answers the published contract', async () => {
  const { run } = jobTestContext({ jobId: '${jobId}' });
  const answer = LambdaJobAnswerSchema.parse(await handler({ contractVersion: 1, idempotencyKey: run.jobRunId, run }));
  assert.equal(answer.quality, 'OK');
});
`;

function catalogEntry(jobId: string, kind: NewJobKind): Record<string, unknown> {
  const implementation =
    kind === 'module'
      ? { kind: 'module' }
      : kind === 'lambda'
        ? {
            kind: 'lambda',
            functionArn: `arn:aws:lambda:us-east-1:123456789012:function:${jobId.replace(/_/g, '-')}`,
          }
        : {
            kind: 'http',
            method: 'POST',
            url: `http://127.0.0.1:8080/${jobId}`,
            headers: { 'Content-Type': 'application/json' },
            body: '{"run":"{{jobRunId}}"}',
          };
  return {
    jobId,
    jobVersion: '0.1.0',
    jobClass: 'MAINTENANCE',
    owner: 'change-me',
    description: `${jobId}: describe what it does`,
    schedule: { expression: 'rate(1 hour)' },
    idempotent: true,
    implementation,
    capabilities: { reads: [], writes: [] },
    ...(kind === 'module' ? { params: { greeting: 'hello' } } : {}),
  };
}

/**
 * \`opsrail new-job\`: the module (or stand-in) with a test, and a disabled catalog entry. Refuses
 * to overwrite anything: an existing job id or file is an error naming it, and nothing is written.
 */
export function newJob(
  policyDir: string,
  jobId: string,
  kind: NewJobKind,
): { written: string[]; instructions: string } {
  const id = JobId.safeParse(jobId);
  if (!id.success)
    throw new ValidationError('jobId', [
      { path: '', message: id.error.issues[0]?.message ?? 'invalid' },
    ]);
  const catalogPath = join(policyDir, 'catalog.json');
  if (!existsSync(catalogPath))
    throw new ValidationError(catalogPath, [
      { path: '', message: 'file not found (set OPSRAIL_POLICY_DIR to your policy directory)' },
    ]);
  const catalog = JSON.parse(readFileSync(catalogPath, 'utf8')) as { jobs: { jobId: string }[] };
  const index = catalog.jobs.findIndex((j) => j.jobId === jobId);
  if (index >= 0)
    throw new ValidationError(catalogPath, [
      {
        path: `jobs.${index}.jobId`,
        message: `'${jobId}' is already declared: job ids are never reused`,
      },
    ]);
  const jobsDir = jobsDirFor(policyDir);
  const files: [string, string][] =
    kind === 'module'
      ? [
          [join(jobsDir, `${jobId}.ts`), moduleSource(jobId)],
          [join(jobsDir, `${jobId}.test.ts`), moduleTest(jobId, `${jobId}.ts`)],
        ]
      : kind === 'lambda'
        ? [
            [join(dirname(policyDir), 'stand-ins', `${jobId}.ts`), standInSource(jobId)],
            [
              join(dirname(policyDir), 'stand-ins', `${jobId}.test.ts`),
              standInTest(jobId, `${jobId}.ts`),
            ],
          ]
        : [];
  for (const [path] of files)
    if (existsSync(path))
      throw new ValidationError(path, [{ path: '', message: 'already exists: not overwritten' }]);
  // The modules are ES modules: where the project's package.json says otherwise (npm init's
  // default is commonjs), their folder gets a package.json of its own that says so.
  const scopes = [...new Set(files.map(([p]) => dirname(p)))]
    .filter((dir) => !insideEsmPackage(dir) && !existsSync(join(dir, 'package.json')))
    .map((dir): [string, string] => [join(dir, 'package.json'), '{ "type": "module" }\n']);
  for (const [path, text] of [...files, ...scopes]) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  catalog.jobs.push(catalogEntry(jobId, kind) as { jobId: string });
  writeFileSync(catalogPath, `${JSON.stringify(catalog, null, 2)}\n`);
  const rel = (p: string) => relative(process.cwd(), p) || '.';
  const localSwitch =
    kind === 'lambda'
      ? `"${jobId}": { "enabled": true, "standIn": { "module": "${relative(policyDir, files[0]![0])}" } }`
      : `"${jobId}": { "enabled": true }`;
  const instructions = [
    `added ${jobId} (${kind}) to ${rel(catalogPath)}, disabled in every stage`,
    ...files.map(([p]) => `wrote ${rel(p)}`),
    ...scopes.map(([p]) => `wrote ${rel(p)} (its modules are ES modules)`),
    '',
    'next:',
    ...(files.length > 1
      ? [`  test it:    node --test ${rel(files[1]![0])}`]
      : [`  point implementation.url in ${rel(catalogPath)} at the service`]),
    `  enable it:  in ${rel(join(policyDir, 'local.json'))}, "jobs": { ${localSwitch} }`,
    `  run it:     npx opsrail run ${jobId}`,
  ].join('\n');
  return { written: [...[...files, ...scopes].map(([p]) => p), catalogPath], instructions };
}

/** Whether the package.json nearest to `dir` (itself or a parent) says `"type": "module"`. */
function insideEsmPackage(dir: string): boolean {
  for (let at = dir; ; at = dirname(at)) {
    const manifest = join(at, 'package.json');
    if (existsSync(manifest)) {
      try {
        return (JSON.parse(readFileSync(manifest, 'utf8')) as { type?: string }).type === 'module';
      } catch {
        return false;
      }
    }
    if (dirname(at) === at) return false;
  }
}
