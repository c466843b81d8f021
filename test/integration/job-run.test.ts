import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { AuditEvent, IntegrityReport, Lineage, RunRecord } from '../../contracts';
import { ValidationError } from '../../functions/core/errors';
import { createPreflightHandler } from '../../functions/preflight/handler';
import { LocalRuntime } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { listKeys, readVerifiedBundle } from '../support/evidence';
import { countingJob, failingJob, flakyJob } from '../support/jobs';
import { testStack, withTestJobs } from '../support/local';

const auditOf = (jsonl: string) =>
  jsonl
    .trim()
    .split('\n')
    .map((line) => AuditEvent.parse(JSON.parse(line)));

describe('job-run state machine: real ASL, real handlers, DynamoDB Local, local S3', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  const counter = countingJob('test_counter', 150);
  const failing = failingJob('test_failing');
  const flaky = flakyJob('test_flaky', 2);
  const bulky = {
    jobId: 'test_bulky',
    run: async () => ({
      quality: 'OK' as const,
      outputs: [{ name: 'big.txt', contentType: 'text/plain', body: 'x'.repeat(300 * 1024) }],
      integrityReport: null,
      diagnostics: [],
    }),
  };

  beforeAll(async () => {
    stack = await testStack({
      policyDir: withTestJobs([
        { jobId: 'test_counter' },
        { jobId: 'test_failing' },
        { jobId: 'test_flaky' },
        { jobId: 'test_bulky' },
      ]),
    });
    runtime = new LocalRuntime(stack.env, [counter, failing, flaky, bulky]);
  });
  afterAll(async () => stack.stop());

  test('a run succeeds, leaves a bundle that verifies, and updates the job state', async () => {
    const outcome = await runtime.run({
      jobId: 'test_counter',
      scheduledTime: '2026-02-01T10:00:00Z',
      trigger: 'manual',
    });

    assert.equal(outcome.kind, 'completed');
    assert.ok(outcome.kind === 'completed');
    assert.equal(outcome.summary.jobRunId, 'test_counter/2026-02-01T10:00:00Z');
    assert.deepEqual([outcome.summary.status, outcome.summary.quality], ['ok', 'OK']);
    assert.equal(outcome.summary.evidencePrefix, 'stage=local/dt=2026-02-01/job_id=test_counter/');
    assert.equal(
      outcome.summary.manifestKey,
      'stage=local/dt=2026-02-01/job_id=test_counter/manifest/run=20260201T100000Z.json',
    );
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      outcome.summary.manifestKey as string,
    );
    assert.deepEqual(bundle.manifest.objects.map((o) => o.name).sort(), [
      'audit/run=20260201T100000Z.jsonl',
      'integrity_report/run=20260201T100000Z.json',
      'lineage/run=20260201T100000Z.json',
      'outputs/run=20260201T100000Z/effect.txt',
      'replay_pointers/run=20260201T100000Z.json',
      'run_record/run=20260201T100000Z.json',
    ]);
    const lineage = Lineage.parse(JSON.parse(bundle.objects['lineage.json'] as string));
    assert.deepEqual(
      [
        lineage.transformId,
        lineage.transformVersion,
        lineage.outputDatasetId,
        lineage.replayPointersRef,
      ],
      [
        'test_counter',
        '0.1.0',
        'opsrail.outputs.test_counter',
        'stage=local/dt=2026-02-01/job_id=test_counter/replay_pointers/run=20260201T100000Z.json',
      ],
    );
    assert.equal(bundle.manifest.sequence, 1);
    assert.equal(bundle.manifest.previousManifest, null);
    assert.deepEqual(
      auditOf(bundle.objects['audit.jsonl'] as string).map((e) => e.type),
      ['job.run.start', 'job.run.end'],
    );
    const record = RunRecord.parse(JSON.parse(bundle.objects['run_record.json'] as string));
    assert.equal(record.attempts, 1);
    assert.equal(record.artefacts[0]?.name, 'outputs/run=20260201T100000Z/effect.txt');
    const state = await runtime.deps.state.getJobState('test_counter');
    assert.equal(state?.runCount, 1);
    assert.equal(state?.lastStatus, 'ok');
    assert.equal(state?.consecutiveFailures, 0);
    assert.equal(state?.chainHead?.manifestSha256, bundle.manifestSha256);
  });

  test('the next run of a job links its manifest to the previous one (hash chain), and the integrity check verifies it', async () => {
    const first = await runtime.deps.state.getJobState('test_counter');
    const outcome = await runtime.run({
      jobId: 'test_counter',
      scheduledTime: '2026-02-01T11:00:00Z',
      trigger: 'manual',
    });
    assert.ok(outcome.kind === 'completed');
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      outcome.summary.manifestKey as string,
    );
    assert.equal(bundle.manifest.sequence, 2);
    assert.deepEqual(bundle.manifest.previousManifest, {
      key: first?.chainHead?.manifestKey,
      sha256: first?.chainHead?.manifestSha256,
      sequence: 1,
    });

    const check = await runtime.run({
      jobId: 'evidence_integrity_check',
      scheduledTime: '2026-02-01T12:00:00Z',
      trigger: 'manual',
    });

    assert.ok(check.kind === 'completed');
    assert.equal(check.summary.quality, 'OK');
    const checkBundle = await readVerifiedBundle(
      runtime.deps.evidence,
      check.summary.manifestKey as string,
    );
    const report = IntegrityReport.parse(
      JSON.parse(checkBundle.objects['integrity_report.json'] as string),
    );
    assert.equal(report.status, 'OK');
    assert.ok(
      report.bundles.some(
        (b) => b.jobId === 'test_counter' && b.sequence === 2 && b.status === 'OK',
      ),
    );
    assert.ok(
      report.bundles.some(
        (b) => b.jobId === 'test_counter' && b.sequence === 1 && b.status === 'OK',
      ),
    );
    assert.deepEqual(report.findings, []);
    assert.deepEqual(
      auditOf(checkBundle.objects['audit.jsonl'] as string).map((e) => e.type),
      ['job.run.start', 'integrity.record', 'job.run.end'],
    );
  });

  test('the same tick delivered twice gives one effect, one bundle and one duplicate_suppressed', async () => {
    const input = {
      jobId: 'test_counter',
      scheduledTime: '2026-02-02T10:00:00Z',
      trigger: 'schedule',
    } as const;
    const first = await runtime.run(input);
    assert.ok(first.kind === 'completed');
    const keysBefore = await listKeys(stack.env, first.summary.evidencePrefix as string);
    assert.ok(keysBefore.length >= 7);
    const manifestBefore = await runtime.deps.evidence.getObject(
      first.summary.manifestKey as string,
    );

    const second = await runtime.run({ ...input, scheduledTime: '2026-02-02T10:00:30Z' });

    assert.equal(second.kind, 'duplicate_suppressed');
    assert.equal(
      counter.effects.filter((id) => id === 'test_counter/2026-02-02T10:00:00Z').length,
      1,
    );
    assert.deepEqual(await listKeys(stack.env, first.summary.evidencePrefix as string), keysBefore);
    assert.deepEqual(
      await runtime.deps.evidence.getObject(first.summary.manifestKey as string),
      manifestBefore,
    );
    const duplicates = await runtime.deps.state.listDuplicates('test_counter/2026-02-02T10:00:00Z');
    assert.equal(duplicates.length, 1);
    assert.equal(duplicates[0]?.type, 'job.run.duplicate_suppressed');
    assert.equal((await runtime.deps.state.getJobState('test_counter'))?.runCount, 3);
  });

  test('the same tick delivered twice concurrently gives one effect, one bundle and one duplicate_suppressed', async () => {
    const input = {
      jobId: 'test_counter',
      scheduledTime: '2026-02-03T10:00:00Z',
      trigger: 'schedule',
    } as const;

    const outcomes = await Promise.all([
      runtime.run(input),
      runtime.run(input),
      runtime.run(input),
    ]);

    assert.deepEqual(outcomes.map((o) => o.kind).sort(), [
      'completed',
      'duplicate_suppressed',
      'duplicate_suppressed',
    ]);
    assert.equal(
      counter.effects.filter((id) => id === 'test_counter/2026-02-03T10:00:00Z').length,
      1,
    );
    assert.equal(
      (await runtime.deps.state.listDuplicates('test_counter/2026-02-03T10:00:00Z')).length,
      2,
    );
    const keys = await listKeys(stack.env, 'stage=local/dt=2026-02-03/job_id=test_counter/');
    assert.equal(keys.filter((k) => k.includes('/manifest/')).length, 1);
  });

  test('a failing job ends in Fail with job.run.fail, is not retried, and consecutiveFailures grows by one per run', async () => {
    const first = await runtime.run({
      jobId: 'test_failing',
      scheduledTime: '2026-02-04T10:00:00Z',
      trigger: 'schedule',
    });

    assert.equal(first.kind, 'failed');
    assert.ok(first.kind === 'failed');
    assert.match(first.error, /JobRunFailed/);
    assert.equal(first.summary?.status, 'error');
    assert.equal(first.summary?.error?.kind, 'validation');
    assert.equal(first.summary?.error?.name, 'ValidationError');
    assert.equal(failing.calls, 1, 'a validation failure is not retried');
    assert.equal((await runtime.deps.state.getJobState('test_failing'))?.consecutiveFailures, 1);
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      first.summary?.manifestKey as string,
    );
    const fail = auditOf(bundle.objects['audit.jsonl'] as string).find(
      (e) => e.type === 'job.run.fail',
    );
    assert.equal(fail?.error?.kind, 'validation');
    assert.match(fail?.error?.message ?? '', /422/);
    assert.equal(
      RunRecord.parse(JSON.parse(bundle.objects['run_record.json'] as string)).status,
      'error',
    );

    const second = await runtime.run({
      jobId: 'test_failing',
      scheduledTime: '2026-02-04T11:00:00Z',
      trigger: 'schedule',
    });

    assert.equal(second.kind, 'failed');
    const state = await runtime.deps.state.getJobState('test_failing');
    assert.equal(state?.consecutiveFailures, 2);
    assert.equal(state?.lastStatus, 'error');
    assert.equal(state?.runCount, 2);
  });

  test('a result too large for a Step Functions state fails the run cleanly, naming the field, instead of the execution', async () => {
    const outcome = await runtime.run({
      jobId: 'test_bulky',
      scheduledTime: '2026-02-06T10:00:00Z',
      trigger: 'schedule',
    });

    assert.equal(outcome.kind, 'failed');
    assert.ok(outcome.kind === 'failed');
    assert.equal(outcome.summary?.error?.kind, 'validation');
    assert.match(outcome.summary?.error?.message ?? '', /outputs: \d+ bytes, more than the 204800/);
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      outcome.summary?.manifestKey as string,
    );
    assert.ok(
      !Object.keys(bundle.objects).some((name) => name.includes('big.txt')),
      'a failed run carries no outputs',
    );
  });

  test('a retryable dependency error is retried by the ASL and the run completes with one effect', async () => {
    const outcome = await runtime.run(
      { jobId: 'test_flaky', scheduledTime: '2026-02-05T10:00:00Z', trigger: 'schedule' },
      { retryPauseMs: 5 },
    );

    assert.equal(outcome.kind, 'completed');
    assert.equal(flaky.calls, 3);
    const item = await runtime.deps.state.getRun('test_flaky/2026-02-05T10:00:00Z');
    assert.equal(item?.attempts, 3);
    assert.equal(item?.summary?.status, 'ok');
  });

  test('evidence objects are write-once: a second write of a key is refused and the first body stays', async () => {
    const key =
      'stage=local/dt=2026-02-06/job_id=test_counter/outputs/run=20260206T000000Z/probe.txt';
    assert.equal(
      await runtime.deps.evidence.putObject(key, new TextEncoder().encode('first'), 'text/plain'),
      'written',
    );

    // Different bytes under a write-once key are an integrity finding (issue 10), never a silent
    // success.
    await assert.rejects(
      runtime.deps.evidence.putObject(key, new TextEncoder().encode('second'), 'text/plain'),
      (e: Error) => e.name === 'EvidenceIntegrityError',
    );
    const second = await runtime.deps.evidence.putObject(
      key,
      new TextEncoder().encode('first'),
      'text/plain',
    );

    assert.equal(second, 'already_exists');
    assert.equal(new TextDecoder().decode(await runtime.deps.evidence.getObject(key)), 'first');
  });

  test('a malformed Preflight event is refused naming the field, and nothing is claimed', async () => {
    const preflight = createPreflightHandler(runtime.deps);

    await assert.rejects(
      preflight(
        { executionId: 'x', request: { jobId: 'test_counter', scheduledTime: 'yesterday' } },
        {} as never,
      ),
      (error: unknown) =>
        error instanceof ValidationError && /request\.scheduledTime/.test(error.message),
    );
    await assert.rejects(
      preflight(
        {
          executionId: 'x',
          request: { jobId: 'no_such_job', scheduledTime: '2026-02-07T00:00:00Z' },
        },
        {} as never,
      ),
      /not in the catalog/,
    );
    assert.equal(await runtime.deps.state.getRun('test_counter/2026-02-07T00:00:00Z'), undefined);
  });
});
