import assert from 'node:assert/strict';
import { test } from 'vitest';
import { App } from 'aws-cdk-lib';
import type { HandlerEnv } from '../../contracts';
import { buildDependencies } from '../../functions/adapters/dependencies';
import { directoryPolicySource } from '../../functions/adapters/policy-sources';
import { ValidationError } from '../../functions/core/errors';
import { loadPolicy } from '../../functions/core/policy';
import { plannedJobs } from '../../functions/jobs/control-jobs';
import { builtinJobs, jobRegistry } from '../../functions/jobs/registry';
import { buildApp } from '../../infra/app';
import { DEFAULT_POLICY_DIR } from '../../local/stack';
import { countingJob } from '../support/jobs';
import { policyFixture, withTestJobs } from '../support/local';

/**
 * A job a stage enables must have an implementation: a policy error at load names it
 * (docs/handlers.md).
 */

const namesGhost = (stageFile: RegExp) => (error: unknown) => {
  assert.ok(error instanceof ValidationError, `expected a ValidationError, got ${String(error)}`);
  assert.match(error.source, stageFile);
  assert.deepEqual(
    error.issues.map((i) => i.path),
    ['jobs.ghost_job.enabled'],
  );
  assert.match(error.message, /enables job 'ghost_job', which has no implementation/);
  assert.equal(error.retryable, false);
  return true;
};

const env = (policyDir: string): HandlerEnv => ({
  OPSRAIL_STAGE: 'local',
  STATE_TABLE_NAME: 'unused-state',
  IDEMPOTENCY_TABLE_NAME: 'unused-idempotency',
  EVIDENCE_BUCKET_NAME: 'unused-evidence',
  AWS_REGION: 'us-east-1',
  OPSRAIL_CODE_VERSION: 'test',
  POWERTOOLS_SERVICE_NAME: 'opsrail',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  OPSRAIL_POLICY_DIR: policyDir,
  OPSRAIL_S3_FORCE_PATH_STYLE: 'true',
  OPSRAIL_METRICS: 'off',
});

test('loadPolicy with the jobs registry: a catalog job without implementation is an error naming it, enabled or not', () => {
  const dir = withTestJobs([{ jobId: 'ghost_job' }]);
  assert.throws(
    () => loadPolicy(directoryPolicySource(dir), 'local', jobRegistry()),
    namesGhost(/local\.json$/),
  );
  // Implemented (a user's own job), it loads; declared but disabled, it is still a catalog error
  // (docs/writing-a-job.md).
  assert.ok(
    loadPolicy(
      directoryPolicySource(dir),
      'local',
      jobRegistry([countingJob('ghost_job')]),
    ).jobs.some((j) => j.jobId === 'ghost_job' && j.enabled),
  );
  const disabled = policyFixture({
    'catalog.json': (c) => ({ ...c, jobs: [...c.jobs, { ...c.jobs[0], jobId: 'ghost_job' }] }),
  });
  assert.throws(
    () => loadPolicy(directoryPolicySource(disabled), 'local', jobRegistry()),
    (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.match(error.source, /catalog\.json$/);
      assert.match(
        error.message,
        /jobs\.\d+\.implementation: job 'ghost_job' has no implementation/,
      );
      return true;
    },
  );
  // Commands that run no job load it.
  assert.equal(
    loadPolicy(directoryPolicySource(disabled), 'local').jobs.find((j) => j.jobId === 'ghost_job')
      ?.enabled,
    false,
  );
  for (const stage of ['local', 'dev', 'stage', 'prod'] as const)
    loadPolicy(directoryPolicySource(DEFAULT_POLICY_DIR), stage, jobRegistry());
});

test('the handlers and the local runtime load policy through buildDependencies, which refuses it at cold start', () => {
  const dir = withTestJobs([{ jobId: 'ghost_job' }]);
  assert.throws(() => buildDependencies(env(dir)), namesGhost(/local\.json$/));
  assert.equal(buildDependencies(env(dir), [countingJob('ghost_job')]).jobs.has('ghost_job'), true);
});

test('a function that runs no job counts the built-in jobs implemented without loading them; one given them has them', () => {
  // Prepare: the shipped local policy enables built-in jobs
  const policyDir = env(DEFAULT_POLICY_DIR);
  // Act
  const withoutJobs = buildDependencies(policyDir);
  const withJobs = buildDependencies(policyDir, [], { builtinJobs });
  // Assess
  const enabledBuiltins = withJobs.policy.jobs.filter(
    (j) => j.enabled && builtinJobs.some((b) => b.jobId === j.jobId),
  );
  assert.ok(enabledBuiltins.length > 0);
  for (const { jobId } of enabledBuiltins) {
    assert.equal(withoutJobs.jobs.has(jobId), false, jobId);
    assert.equal(
      withJobs.jobs.get(jobId),
      builtinJobs.find((b) => b.jobId === jobId),
    );
  }
});

test('the built-in jobs RequestApproval is given are exactly those with a plan of their own', () => {
  // Act
  const withPlan = builtinJobs.filter((j) => j.plan !== undefined).map((j) => j.jobId);
  // Assess
  assert.ok(withPlan.length > 0);
  assert.deepEqual(plannedJobs.map((j) => j.jobId).sort(), withPlan.sort());
});

test('cdk synth refuses a stage that enables a job nothing implements, before anything is built', () => {
  const dir = policyFixture({
    'catalog.json': (c) => ({
      ...c,
      jobs: [...c.jobs, { ...c.jobs[0], jobId: 'ghost_job', idempotent: true }],
    }),
    'dev.json': (p) => ({ ...p, jobs: { ...p.jobs, ghost_job: { enabled: true } } }),
  });
  assert.throws(
    () => buildApp(new App({ context: { stage: 'dev' } }), { policyDir: dir }),
    namesGhost(/dev\.json$/),
  );
});
