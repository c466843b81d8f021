import assert from 'node:assert/strict';
import { S3Client } from '@aws-sdk/client-s3';
import type { HandlerEnv } from '../../contracts';
import { s3ClientConfig } from '../../functions/adapters/dependencies';
import { S3EvidenceStore } from '../../functions/adapters/s3-evidence-store';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { diagnosticsToShow, exitCodeOf } from '../../cli/main';
import { bookkeepingFailed } from '../../functions/core/run/record-failure';
import { verifyEvidence } from '../../functions/core/verify';
import { LocalRuntime } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { readVerifiedBundle } from '../support/evidence';
import { countingJob } from '../support/jobs';
import { testStack, withTestJobs } from '../support/local';

/**
 * Bookkeeping that fails after the job's effect (issue 10): Finalize meets an evidence write it
 * cannot retry (a 403 on the manifest), the real ASL catches it into RecordFailure, which finishes
 * the run from the job's own result. The run is recorded as succeeded and, through the RecordedAs
 * Choice, so is the execution: `opsrail run` would exit 0, not 1 (docs/crash-safety.md).
 */
describe('a run whose bookkeeping failed after its effect ends the execution as succeeded', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  const job = countingJob('bookkeeping_after_effect');
  const refused: string[] = [];

  beforeAll(async () => {
    stack = await testStack({
      policyDir: withTestJobs([{ jobId: 'bookkeeping_after_effect', idempotent: false }]),
    });
    // The evidence store's client, watched: the first manifest write of each run is refused, as a
    // bucket policy change or a KMS hiccup would (403: PermissionError, which no Retry lists).
    const client = new S3Client(s3ClientConfig(stack.env as HandlerEnv));
    runtime = new LocalRuntime(stack.env, [job], {
      evidence: new S3EvidenceStore(client, stack.env.EVIDENCE_BUCKET_NAME),
    });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const key = (args.input as { Key?: string }).Key ?? '';
        if (
          context.commandName === 'PutObjectCommand' &&
          key.includes('/manifest/') &&
          !refused.includes(key)
        ) {
          refused.push(key);
          throw Object.assign(new Error('Access Denied'), {
            name: 'AccessDenied',
            $metadata: { httpStatusCode: 403 },
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'testRefuseManifestOnce' },
    );
  });
  afterAll(async () => stack.stop());

  test('recorded as succeeded with a bookkeeping_failed diagnostic; the execution succeeds; exit 0; evidence verifies', async () => {
    const outcome = await runtime.run(
      {
        jobId: 'bookkeeping_after_effect',
        scheduledTime: '2026-08-01T00:00:00Z',
        trigger: 'manual',
      },
      { retryPauseMs: 10 },
    );

    assert.equal(refused.length, 1, 'Finalize met the refused manifest write');
    assert.equal(
      outcome.kind,
      'completed',
      `the execution succeeded (${outcome.kind === 'failed' ? outcome.error : ''})`,
    );
    assert.ok(outcome.kind === 'completed');
    assert.deepEqual(
      [outcome.summary.status, outcome.summary.quality, outcome.summary.error],
      ['ok', 'OK', null],
    );
    assert.equal(
      exitCodeOf(outcome),
      0,
      'opsrail run exits 0 for a run the evidence records as succeeded',
    );
    assert.deepEqual(
      job.effects,
      ['bookkeeping_after_effect/2026-08-01T00:00:00Z'],
      'one effect, not re-run',
    );

    // Finalize sealed the outcome before its manifest write failed (the bundle stays byte-exact),
    // so the execution's caught error is what the CLI shows.
    assert.equal(outcome.recoveredFrom?.Error, 'PermissionError');
    const item = await runtime.deps.state.getRun(outcome.jobRunId);
    assert.equal(item?.phase, 'finalized');
    const shown = diagnosticsToShow(outcome, item?.sealed?.diagnostics ?? [], (caught) =>
      bookkeepingFailed(runtime.deps.redactor, caught),
    );
    assert.deepEqual(
      shown.map((d) => [d.level, d.code]),
      [['warning', 'bookkeeping_failed']],
    );
    assert.match(shown[0]!.message, /PermissionError: .*Access Denied/);
    assert.equal(
      (await runtime.deps.state.getJobState('bookkeeping_after_effect'))?.consecutiveFailures,
      0,
      'not counted as a failure',
    );
    await readVerifiedBundle(runtime.deps.evidence, outcome.summary.manifestKey as string);
    assert.deepEqual(
      (await verifyEvidence(runtime.deps, { jobRunId: outcome.jobRunId })).problems,
      [],
    );
  });

  test('a failure RecordFailure records as an error still ends the execution as failed (exit 1)', async () => {
    const failing = new LocalRuntime(stack.env, [
      {
        jobId: 'bookkeeping_after_effect',
        run: async () => {
          throw new TypeError('a bug in the job');
        },
      },
    ]);
    const outcome = await failing.run(
      {
        jobId: 'bookkeeping_after_effect',
        scheduledTime: '2026-08-01T01:00:00Z',
        trigger: 'manual',
      },
      { retryPauseMs: 10 },
    );
    assert.equal(outcome.kind, 'failed');
    assert.equal(exitCodeOf(outcome), 1);
    assert.equal(outcome.kind === 'failed' && outcome.summary?.status, 'error');
  });
});
