import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { IntegrityReport } from '../../contracts';
import { createPreflightHandler } from '../../functions/preflight/handler';
import { manifestKeyOf } from '../../functions/core/verify';
import { MemoryPersistenceLayer } from '../../functions/adapters/memory-idempotency-store';
import { LocalRuntime, type ExecutionOutcome } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { readVerifiedBundle } from '../support/evidence';
import { countingJob } from '../support/jobs';
import { testStack, withTestJobs } from '../support/local';

/**
 * Finalize reserves a run's link in its job's hash chain first and writes the manifest last, so for
 * a moment the chain head names a manifest that is not stored yet. The integrity check must not
 * call that evidence missing while the run is in flight, and must once the run's lease has run out.
 */
describe('evidence_integrity_check and a run being finalized', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  const finalizing = 'busy_job/2026-10-01T01:00:00Z';
  const jobs = [countingJob('busy_job'), countingJob('late_job')];

  beforeAll(async () => {
    stack = await testStack({
      policyDir: withTestJobs([{ jobId: 'busy_job' }, { jobId: 'late_job' }]),
    });
    runtime = new LocalRuntime(stack.env, jobs);
    assert.equal(
      (
        await runtime.run({
          jobId: 'busy_job',
          scheduledTime: '2026-10-01T00:00:00Z',
          trigger: 'schedule',
        })
      ).kind,
      'completed',
    );
    // Arrange the moment inside Finalize: the run is claimed and linked as the head, its manifest
    // not yet written.
    await createPreflightHandler(runtime.deps)(
      {
        executionId: 'exec-finalizing',
        request: { jobId: 'busy_job', scheduledTime: '2026-10-01T01:00:00Z', trigger: 'schedule' },
      },
      {} as never,
    );
    const head = (await runtime.deps.state.getJobState('busy_job'))?.chainHead;
    assert.ok(head);
    const link = {
      sequence: 2,
      previous: { key: head.manifestKey, sha256: head.manifestSha256, sequence: 1 },
      manifestKey: manifestKeyOf('local', finalizing) as string,
      manifestSha256: 'f'.repeat(64),
    };
    assert.equal(await runtime.deps.state.linkChain('busy_job', finalizing, 1, link), 'linked');
  });
  afterAll(async () => stack.stop());

  const reportOf = async (outcome: ExecutionOutcome) => {
    assert.ok(outcome.kind === 'completed', outcome.kind);
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      outcome.summary.manifestKey as string,
    );
    return IntegrityReport.parse(JSON.parse(bundle.objects['integrity_report.json'] as string));
  };

  test('while the run is in flight, the check starts from the link before it and finds nothing wrong', async () => {
    const outcome = await runtime.run({
      jobId: 'evidence_integrity_check',
      scheduledTime: '2026-10-01T02:00:00Z',
      trigger: 'manual',
    });

    const report = await reportOf(outcome);
    assert.equal(report.status, 'OK', JSON.stringify(report.findings));
    assert.deepEqual(
      report.bundles.filter((b) => b.jobId === 'busy_job').map((b) => b.sequence),
      [1],
    );
  });

  test('a run claimed and linked after the check listed the open runs is not a finding either', async () => {
    // Prepare: while the check walks, just before it reads late_job's head, a run of late_job is
    // claimed and links itself as the head without its manifest yet (catch-up runs in parallel).
    const late = 'late_job/2026-10-01T01:00:00Z';
    const real = runtime.deps.state;
    let arranged = false;
    const state = new Proxy(real, {
      get(target, name, receiver) {
        if (name !== 'getJobState') return Reflect.get(target, name, receiver);
        return async (jobId: string) => {
          if (jobId === 'late_job' && !arranged) {
            arranged = true;
            await createPreflightHandler(runtime.deps)(
              {
                executionId: 'exec-late',
                request: {
                  jobId: 'late_job',
                  scheduledTime: '2026-10-01T01:00:00Z',
                  trigger: 'schedule',
                },
              },
              {} as never,
            );
            const link = {
              sequence: 1,
              previous: null,
              manifestKey: manifestKeyOf('local', late) as string,
              manifestSha256: 'e'.repeat(64),
            };
            assert.equal(await real.linkChain('late_job', late, 0, link), 'linked');
          }
          return real.getJobState(jobId);
        };
      },
    });
    const walking = new LocalRuntime(stack.env, jobs, {
      ports: {
        state,
        approvals: runtime.deps.approvals,
        evidence: runtime.deps.evidence,
        idempotencyPersistence: () => new MemoryPersistenceLayer(new Map()),
      },
    });

    // Act
    const outcome = await walking.run({
      jobId: 'evidence_integrity_check',
      scheduledTime: '2026-10-01T02:30:00Z',
      trigger: 'manual',
    });

    // Assess
    assert.ok(arranged, 'the late run was linked during the walk');
    const report = await reportOf(outcome);
    assert.equal(report.status, 'OK', JSON.stringify(report.findings));
  });

  test('once its lease has run out, the missing manifest is a finding and the evidence is DEGRADED', async () => {
    const later = new LocalRuntime(stack.env, jobs, {
      clock: { now: () => new Date(Date.now() + 3 * 3600_000) },
    });

    const outcome = await later.run({
      jobId: 'evidence_integrity_check',
      scheduledTime: '2026-10-01T03:00:00Z',
      trigger: 'manual',
    });

    const report = await reportOf(outcome);
    assert.equal(report.status, 'DEGRADED');
    assert.deepEqual(
      report.findings.map((f) => [f.kind, f.key]).sort(),
      [
        ['missing_object', manifestKeyOf('local', finalizing)],
        ['missing_object', manifestKeyOf('local', 'late_job/2026-10-01T01:00:00Z')],
      ].sort(),
    );
  });
});
