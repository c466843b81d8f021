import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { AuditEvent, RunRecord, type ExecuteResult, type RunContext } from '../../contracts';
import type { Clock } from '../../functions/core/clock';
import type { EvidenceStore } from '../../functions/core/ports';
import { finalizeRun } from '../../functions/core/run/finalize';
import { verifyEvidence } from '../../functions/core/verify';
import { createExecuteHandler } from '../../functions/execute/handler';
import { createPreflightHandler } from '../../functions/preflight/handler';
import type { JobImplementation } from '../../functions/jobs/types';
import { LocalRuntime } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { readVerifiedBundle } from '../support/evidence';
import { countingJob } from '../support/jobs';
import { testStack, withTestJobs } from '../support/local';

const LEASE_SECONDS = 5;
const auditOf = (jsonl: string) =>
  jsonl
    .trim()
    .split('\n')
    .map((line) => AuditEvent.parse(JSON.parse(line)));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A Lambda context with Execute's 900 s: only the lease may bound the in-progress record. */
const lambda900 = { getRemainingTimeInMillis: () => 900_000 } as never;

/** Its first run has its effect and then hangs for ever, as if its process was killed there. */
function dyingOnceJob(jobId: string): JobImplementation & { effects: string[] } {
  const effects: string[] = [];
  return {
    jobId,
    effects,
    async run({ run }) {
      effects.push(run.jobRunId);
      if (effects.length === 1) await new Promise(() => undefined);
      return {
        quality: 'OK',
        outputs: [
          { name: 'effect.txt', contentType: 'text/plain', body: `effect ${effects.length}\n` },
        ],
        integrityReport: null,
        diagnostics: [],
      };
    },
  };
}

/**
 * An evidence store that lets `allowed` puts through and then fails, as a process killed
 * mid-bundle.
 */
function dyingEvidence(inner: EvidenceStore, allowed: number): EvidenceStore {
  let puts = 0;
  return {
    getObject: (key) => inner.getObject(key),
    list: (prefix) => inner.list(prefix),
    putObject: async (key, body, contentType) => {
      if (++puts > allowed) throw new Error('killed');
      return inner.putObject(key, body, contentType);
    },
  };
}

describe('crash safety (issue 10): takeover, unknown outcomes, the lease', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  const linked = countingJob('crash_linked');
  const unsafe = dyingOnceJob('crash_unsafe');
  const safe = dyingOnceJob('crash_safe');

  beforeAll(async () => {
    const policyDir = withTestJobs(
      [
        { jobId: 'crash_linked' },
        { jobId: 'crash_unsafe', idempotent: false },
        { jobId: 'crash_safe', idempotent: true },
      ],
      (policy) => ({
        ...policy,
        retry: { maxAttempts: 1, intervalSeconds: 1, backoffRate: 2, maxDelaySeconds: 2 },
        thresholds: {
          ...policy.thresholds,
          quarantineAfterConsecutiveFailures: 1,
          runLeaseSeconds: LEASE_SECONDS,
        },
      }),
    );
    stack = await testStack({ policyDir });
    runtime = new LocalRuntime(stack.env, [linked, unsafe, safe]);
  });
  afterAll(async () => stack.stop());

  test('a run killed between reserving its chain link and writing its manifest is taken over byte-exact: its bundle and chain verify', async () => {
    const deliver = {
      jobId: 'crash_linked',
      scheduledTime: '2026-07-01T00:00:00Z',
      trigger: 'schedule' as const,
    };
    const run = await createPreflightHandler(runtime.deps)(
      { executionId: 'exec-A', request: deliver },
      {} as never,
    );
    const result = (await createExecuteHandler(runtime.deps)({ run }, lambda900)) as ExecuteResult;
    // Holder A seals, links and writes two objects, then dies before the rest and the manifest.
    await assert.rejects(
      finalizeRun(
        { ...runtime.deps, evidence: dyingEvidence(runtime.deps.evidence, 2) },
        run,
        result,
      ),
      /killed/,
    );
    const before = await runtime.deps.state.getRun(run.jobRunId);
    assert.ok(before?.chain && !before.summary, 'linked, not finished');

    const afterLease: Clock = { now: () => new Date(Date.now() + (LEASE_SECONDS + 1) * 1000) };
    const restarted = new LocalRuntime(stack.env, [linked, unsafe, safe], { clock: afterLease });
    const outcome = await restarted.run(deliver);

    assert.equal(
      outcome.kind,
      'completed',
      JSON.stringify(await restarted.deps.state.getRun(run.jobRunId)),
    );
    assert.ok(outcome.kind === 'completed');
    assert.equal(outcome.summary.manifestKey, before.chain.manifestKey);
    const bundle = await readVerifiedBundle(restarted.deps.evidence, before.chain.manifestKey);
    assert.equal(
      bundle.manifestSha256,
      before.chain.manifestSha256,
      'the manifest is the one the link promised',
    );
    // The bundle is the one the link froze: holder A's execution; the takeover is on the run's
    // audit.
    assert.equal(
      RunRecord.parse(JSON.parse(bundle.objects['run_record.json'] as string)).executionId,
      'exec-A',
    );
    assert.ok(
      (await restarted.deps.state.getRun(run.jobRunId))?.audit.some(
        (e) => e.type === 'job.run.retry' && /taken over/.test(e.retry?.reason ?? ''),
      ),
    );
    assert.equal(linked.effects.length, 1);
    const report = await verifyEvidence(restarted.deps, { jobId: 'crash_linked' });
    assert.deepEqual(report.problems, []);
    assert.equal(report.ok, true);
  });

  test('a run claimed by an earlier release (no jobFunction in its claim) is taken over under today’s function name and completes', async () => {
    // Prepare: holder A claims the run as a release before per-job functions stored it, then dies.
    const deliver = {
      jobId: 'crash_linked',
      scheduledTime: '2026-07-02T00:00:00Z',
      trigger: 'schedule' as const,
    };
    const state = runtime.deps.state;
    const olderRelease = new Proxy(state, {
      get: (target, name) =>
        name === 'claimRun'
          ? (run: RunContext, start: AuditEvent, lease: string) => {
              const { jobFunction: _, ...claimed } = run;
              return target.claimRun(claimed as RunContext, start, lease);
            }
          : (Reflect.get(target, name) as unknown),
    });
    const run = await createPreflightHandler({ ...runtime.deps, state: olderRelease })(
      { executionId: 'exec-old', request: deliver },
      {} as never,
    );
    assert.equal((await state.getRun(run.jobRunId))?.jobFunction, undefined, 'stored without it');
    const effectsBefore = linked.effects.length;

    // Act: after the lease, the next delivery takes it over.
    const afterLease: Clock = { now: () => new Date(Date.now() + (LEASE_SECONDS + 1) * 1000) };
    const restarted = new LocalRuntime(stack.env, [linked, unsafe, safe], { clock: afterLease });
    const outcome = await restarted.run(deliver);

    // Assess
    assert.equal(outcome.kind, 'completed', JSON.stringify(await state.getRun(run.jobRunId)));
    assert.equal(linked.effects.length, effectsBefore + 1);
  });

  test('a non-idempotent job whose Execute holder died is not run again: UNKNOWN, unknown_outcome, not counted', async () => {
    const deliver = {
      jobId: 'crash_unsafe',
      scheduledTime: '2026-07-02T00:00:00Z',
      trigger: 'schedule' as const,
    };
    const run = await createPreflightHandler(runtime.deps)(
      { executionId: 'exec-B', request: deliver },
      {} as never,
    );
    // Holder B's Execute has its effect and never returns (killed); its Lambda would have had 900
    // s.
    void createExecuteHandler(runtime.deps)({ run }, lambda900);
    while (unsafe.effects.length === 0) await sleep(20);
    // Real time: Powertools' in-progress record must have expired with the lease, not after 900 s.
    await sleep((LEASE_SECONDS + 0.5) * 1000);

    const outcome = await runtime.run(deliver);

    assert.equal(outcome.kind, 'failed');
    assert.ok(outcome.kind === 'failed' && outcome.summary);
    assert.deepEqual(
      [outcome.summary.status, outcome.summary.quality, outcome.summary.error?.kind],
      ['error', 'UNKNOWN', 'unknown_outcome'],
    );
    assert.match(outcome.summary.error?.message ?? '', /not idempotent/);
    assert.equal(unsafe.effects.length, 1, 'not run again');
    const state = await runtime.deps.state.getJobState('crash_unsafe');
    assert.equal(state?.consecutiveFailures ?? 0, 0, 'not counted as a job failure');
    assert.equal(state?.quarantine, undefined, 'no quarantine at threshold 1');
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      outcome.summary.manifestKey as string,
    );
    const fail = auditOf(bundle.objects['audit.jsonl'] as string).find(
      (e) => e.type === 'job.run.fail',
    );
    assert.equal(fail?.error?.kind, 'unknown_outcome');
    assert.ok(
      !(await runtime.deps.state.listOpenRuns()).some((o) => o.jobRunId === run.jobRunId),
      'never left claimed',
    );
  });

  test('an idempotent job whose Execute holder died is run again with the same key, and the retry says why', async () => {
    const deliver = {
      jobId: 'crash_safe',
      scheduledTime: '2026-07-03T00:00:00Z',
      trigger: 'schedule' as const,
    };
    const run = await createPreflightHandler(runtime.deps)(
      { executionId: 'exec-C', request: deliver },
      {} as never,
    );
    void createExecuteHandler(runtime.deps)({ run }, lambda900);
    while (safe.effects.length === 0) await sleep(20);
    await sleep((LEASE_SECONDS + 0.5) * 1000);

    const outcome = await runtime.run(deliver);

    assert.equal(outcome.kind, 'completed');
    assert.ok(outcome.kind === 'completed');
    assert.deepEqual([outcome.summary.status, outcome.summary.quality], ['ok', 'OK']);
    assert.deepEqual(safe.effects, [run.jobRunId, run.jobRunId], 'run again under the same run id');
    const audit = auditOf(
      (await readVerifiedBundle(runtime.deps.evidence, outcome.summary.manifestKey as string))
        .objects['audit.jsonl'] as string,
    );
    assert.match(
      audit.find((e) => e.type === 'job.run.retry' && /idempotent/.test(e.retry?.reason ?? ''))
        ?.retry?.reason ?? '',
      /ended without an outcome/,
    );
  });

  test('an enabled user job that does not say whether it is idempotent fails the policy load, naming the field', async () => {
    const { loadPolicy } = await import('../../functions/core/policy');
    const { directoryPolicySource } = await import('../../functions/adapters/policy-sources');
    const silent = withTestJobs([{ jobId: 'crash_silent', idempotent: undefined }]);
    assert.throws(
      () => loadPolicy(directoryPolicySource(silent), 'local'),
      (e: Error) =>
        e.name === 'ValidationError' &&
        /catalog\.json/.test(e.message) &&
        /idempotent/.test(e.message),
    );
    // opsrail's own jobs are idempotent without saying so.
    assert.equal(
      runtime.deps.policy.jobs.find((j) => j.jobId === 'evidence_integrity_check')?.idempotent,
      true,
    );
  });
});
