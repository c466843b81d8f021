import assert from 'node:assert/strict';
import { afterAll, beforeAll, beforeEach, describe, test } from 'vitest';
import { AuditEvent, ReplayPointers, RunRecord, IntegrityReport } from '../../contracts';
import { directoryPolicySource } from '../../functions/adapters/policy-sources';
import type { Clock } from '../../functions/core/clock';
import {
  engageKillSwitch,
  releaseKillSwitch,
  releaseQuarantine,
  setSafetyMode,
  statusReport,
} from '../../functions/core/controls';
import { DangerousOpRequiresApprovalError, ValidationError } from '../../functions/core/errors';
import { loadPolicy } from '../../functions/core/policy';
import { createExecuteHandler } from '../../functions/execute/handler';
import { createPreflightHandler } from '../../functions/preflight/handler';
import { exitCodeOf } from '../../cli/main';
import { LocalRuntime, type ExecutionOutcome } from '../../local/runtime';
import { LocalScheduler } from '../../local/scheduler';
import { readVerifiedBundle } from '../support/evidence';
import { blindJob, countingJob, failingJob, scriptedHttpJob, waitingJob } from '../support/jobs';
import { policyFixture, withTestJobs } from '../support/local';
import { memoryStack } from '../support/memory';

const auditOf = (jsonl: string) =>
  jsonl
    .trim()
    .split('\n')
    .map((line) => AuditEvent.parse(JSON.parse(line)));
const change = { reason: 'test', changedBy: 'tester', changedAt: '2026-01-01T00:00:00Z' };
const counting = {
  validation: countingJob('safe_validation'),
  recovery: countingJob('safe_recovery'),
  dangerous: countingJob('safe_dangerous'),
  calendar: countingJob('safe_calendar'),
  unpinned: countingJob('safe_unpinned'),
  repair: countingJob('safe_repair'),
  consumer: countingJob('safe_consumer'),
  lease: countingJob('safe_lease'),
};
const failing = failingJob('safe_failing');
const racing = failingJob('safe_racing');
const http403 = scriptedHttpJob('safe_http403', [{ status: 403 }]);
const http503 = scriptedHttpJob('safe_http503', [{ status: 503 }]);
const http429 = scriptedHttpJob('safe_http429', [{ status: 429, retryAfter: '1' }, 'ok']);
const waiting = waitingJob('safe_waiting');

async function bundleOf(runtime: LocalRuntime, outcome: ExecutionOutcome) {
  assert.ok('summary' in outcome && outcome.summary?.manifestKey, `no bundle for ${outcome.kind}`);
  return readVerifiedBundle(runtime.deps.evidence, outcome.summary.manifestKey as string);
}

describe('run safety (docs/safety-rules.md): real ASL, real handlers, the in-memory ports', () => {
  let stack: ReturnType<typeof memoryStack>;
  let runtime: LocalRuntime;
  let policyDir: string;

  beforeAll(async () => {
    policyDir = withTestJobs(
      [
        { jobId: 'safe_validation', jobClass: 'VALIDATION' },
        { jobId: 'safe_recovery', jobClass: 'RECOVERY' },
        {
          jobId: 'safe_dangerous',
          jobClass: 'MAINTENANCE',
          dangerous: { value: true, opKind: 'retention' },
        },
        {
          jobId: 'safe_calendar',
          jobClass: 'REPORTING',
          window: { kind: 'calendar', unit: 'day', offset: -1 },
          schedule: { expression: 'cron(0 9 * * ? *)' },
          capabilities: { datasets: ['test.metrics'] },
        },
        {
          jobId: 'safe_unpinned',
          jobClass: 'REPORTING',
          capabilities: { datasets: ['not.in.catalog'] },
        },
        {
          jobId: 'safe_repair',
          jobClass: 'MAINTENANCE',
          capabilities: { datasets: ['test.broken'], repairs: ['test.broken'] },
        },
        {
          jobId: 'safe_consumer',
          jobClass: 'REPORTING',
          capabilities: { datasets: ['test.broken'] },
        },
        { jobId: 'safe_lease' },
        { jobId: 'safe_failing' },
        // Three windows failing at once (docs/scheduling.md#overlap).
        { jobId: 'safe_racing', overlap: 'allow' },
        { jobId: 'safe_http403' },
        { jobId: 'safe_http503' },
        { jobId: 'safe_http429' },
        { jobId: 'safe_blind', jobClass: 'REPORTING' },
        { jobId: 'safe_waiting' },
      ],
      (policy) => ({
        ...policy,
        retry: { maxAttempts: 2, intervalSeconds: 1, backoffRate: 2, maxDelaySeconds: 5 },
        thresholds: {
          quarantineAfterConsecutiveFailures: 3,
          runLeaseSeconds: 60,
          deadManGraceMinutes: 30,
        },
        approvals: {
          ...policy.approvals,
          timeoutSeconds: 5,
          approversByOpKind: { retention: ['bob'] },
        },
        datasets: [
          ...policy.datasets,
          { datasetId: 'test.metrics', description: 'm' },
          { datasetId: 'test.broken', description: 'b' },
        ],
      }),
    );
    // Core rules over the in-memory ports (their contract suites prove them equal to DynamoDB and
    // S3).
    stack = memoryStack({ policyDir });
    runtime = new LocalRuntime(
      stack.env,
      [
        ...Object.values(counting),
        failing,
        racing,
        http403,
        http503,
        http429,
        blindJob('safe_blind'),
        waiting,
      ],
      { ports: stack.ports, killSwitchPollMs: 100 },
    );
    await runtime.deps.state.setDatasetIntegrity({
      schemaVersion: 1,
      datasetId: 'test.metrics',
      status: 'OK',
      recordedBy: 'test',
      recordedAt: change.changedAt,
    });
    await runtime.deps.state.setDatasetIntegrity({
      schemaVersion: 1,
      datasetId: 'test.broken',
      status: 'FAIL',
      recordedBy: 'test',
      recordedAt: change.changedAt,
    });
  });
  afterAll(async () => stack.stop());
  beforeEach(async () =>
    runtime.deps.state.setSafetyState({ schemaVersion: 1, mode: 'NORMAL', ...change }),
  );

  const run = (jobId: string, scheduledTime: string, options = {}) =>
    runtime.run({ jobId, scheduledTime, trigger: 'schedule' }, options);

  test('job_id is unique and every run is audited with its job id, version, window and inputs', async () => {
    const duplicateIds = policyFixture({
      'catalog.json': (c) => ({ ...c, jobs: [c.jobs[0], { ...c.jobs[0], jobVersion: '2.0.0' }] }),
    });
    assert.throws(
      () => loadPolicy(directoryPolicySource(duplicateIds), 'local'),
      (e: unknown) => e instanceof ValidationError && /already declared/.test(e.message),
    );

    const outcome = await run('safe_validation', '2026-06-01T00:00:00Z');

    assert.equal(outcome.kind, 'completed');
    const [start, end] = auditOf(
      (await bundleOf(runtime, outcome)).objects['audit.jsonl'] as string,
    );
    assert.deepEqual(
      [start?.type, start?.jobId, start?.jobVersion, start?.window?.start],
      ['job.run.start', 'safe_validation', '0.1.0', '2026-06-01T00:00:00Z'],
    );
    assert.equal(start?.inputsRefs?.policySnapshot.sha256, runtime.deps.policy.snapshot.sha256);
    assert.deepEqual([end?.type, end?.status, end?.quality], ['job.run.end', 'ok', 'OK']);
  });

  test('running twice never has two effects: redelivered, concurrent, and after completion', async () => {
    const input = '2026-06-02T00:00:00Z';
    const outcomes = await Promise.all([
      run('safe_validation', input),
      run('safe_validation', input),
    ]);
    const later = await run('safe_validation', '2026-06-02T00:00:59Z');

    assert.deepEqual([...outcomes.map((o) => o.kind), later.kind].sort(), [
      'completed',
      'duplicate_suppressed',
      'duplicate_suppressed',
    ]);
    assert.equal(
      counting.validation.effects.filter((id) => id === 'safe_validation/2026-06-02T00:00:00Z')
        .length,
      1,
    );
  });

  test('inputs are pinned to a window and dataset refs; what cannot be pinned is refused, never run on a guess', async () => {
    // A calendar-day window: two ticks of the same Tokyo day are one run
    // (docs/scheduling.md#windows).
    const first = await run('safe_calendar', '2026-05-10T09:00:00Z');
    const sameDay = await run('safe_calendar', '2026-05-10T01:00:00Z');
    assert.equal(first.kind, 'completed');
    assert.equal(sameDay.kind, 'duplicate_suppressed');
    assert.equal(first.jobRunId, 'safe_calendar/2026-05-08T15:00:00Z');
    const pointers = ReplayPointers.parse(
      JSON.parse((await bundleOf(runtime, first)).objects['replay_pointers.json'] as string),
    );
    assert.deepEqual(pointers.window, {
      start: '2026-05-08T15:00:00Z',
      end: '2026-05-09T15:00:00Z',
    });
    assert.deepEqual(pointers.datasetRefs, ['test.metrics']);
    assert.equal(pointers.policySnapshot.sha256, runtime.deps.policy.snapshot.sha256);
    assert.match(pointers.jobConfigSha256, /^[a-f0-9]{64}$/);
    assert.match(pointers.codeVersion, /\d+\.\d+\.\d+/);

    const unknownDataset = await run('safe_unpinned', '2026-06-03T00:00:00Z');
    const futureWindow = await run(
      'safe_calendar',
      new Date(Date.now() + 3 * 86_400_000).toISOString(),
    );

    for (const refused of [unknownDataset, futureWindow]) {
      assert.equal(refused.kind, 'refused');
      assert.ok(refused.kind === 'refused');
      assert.equal(refused.summary.status, 'skipped');
      assert.equal(refused.summary.error?.kind, 'inputs_unpinned');
      assert.equal(exitCodeOf(refused), 3);
    }
    const fail = auditOf(
      (await bundleOf(runtime, unknownDataset)).objects['audit.jsonl'] as string,
    ).find((e) => e.type === 'job.run.fail');
    assert.equal(fail?.error?.kind, 'inputs_unpinned');
    // A future tick is refused before anything is claimed (its real tick must still run): no run,
    // no bundle.
    assert.equal(await runtime.deps.state.getRun(futureWindow.jobRunId), undefined);
    assert.equal(futureWindow.kind === 'refused' && futureWindow.summary.manifestKey, null);
    assert.equal(counting.unpinned.effects.length, 0);
    assert.equal(counting.calendar.effects.length, 1);
  });

  test('a dangerous job cannot run without challenge/confirm', async () => {
    // Nobody confirms: the gate asks (challenge), waits its policy timeout, and the job never runs.
    const outcome = await run('safe_dangerous', '2026-06-04T00:00:00Z');

    assert.equal(outcome.kind, 'refused');
    assert.ok(outcome.kind === 'refused');
    assert.equal(outcome.summary.error?.kind, 'approval_timed_out');
    assert.equal(counting.dangerous.effects.length, 0);
    const audit = auditOf((await bundleOf(runtime, outcome)).objects['audit.jsonl'] as string).map(
      (e) => e.type,
    );
    assert.ok(
      audit.includes('job.dangerous_op.challenge') &&
        audit.includes('job.dangerous_op.reject') &&
        !audit.includes('job.run.end'),
    );
  });

  test('consecutive failures quarantine the job, a quarantined job is refused, and release is a dangerous op', async () => {
    const outcomes = [];
    for (const hour of ['00', '01', '02'])
      outcomes.push(await run('safe_failing', `2026-06-05T${hour}:00:00Z`));
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['failed', 'failed', 'failed'],
    );
    const third = auditOf((await bundleOf(runtime, outcomes[2]!)).objects['audit.jsonl'] as string);
    const enter = third.find((e) => e.type === 'job.run.quarantine.enter');
    assert.equal(enter?.details?.consecutiveFailures, 3);
    assert.equal(
      (await runtime.deps.state.getJobState('safe_failing'))?.quarantine?.jobRunId,
      'safe_failing/2026-06-05T02:00:00Z',
    );

    const refused = await run('safe_failing', '2026-06-05T03:00:00Z');

    assert.equal(refused.kind, 'refused');
    assert.ok(refused.kind === 'refused');
    assert.equal(refused.summary.error?.kind, 'refused_quarantine');
    assert.equal(failing.calls, 3, 'a quarantined job does not run');
    assert.equal(
      (await runtime.deps.state.getJobState('safe_failing'))?.consecutiveFailures,
      3,
      'a refusal is not a failure',
    );
    await assert.rejects(
      releaseQuarantine(runtime.deps, 'safe_failing', { by: 'bob', reason: 'fixed' }),
      DangerousOpRequiresApprovalError,
    );
    const status = await statusReport(runtime.deps);
    assert.deepEqual(
      status.quarantined.map((q) => q.jobId),
      ['safe_failing'],
    );
  });

  test('a run is evidenced by audit events, replay pointers and an integrity report that all verify', async () => {
    const outcome = await run('safe_validation', '2026-06-06T00:00:00Z');

    const bundle = await bundleOf(runtime, outcome);
    for (const name of [
      'audit.jsonl',
      'replay_pointers.json',
      'integrity_report.json',
      'run_record.json',
      'outputs/effect.txt',
    ])
      assert.ok(name in bundle.objects, name);
    auditOf(bundle.objects['audit.jsonl'] as string);
    ReplayPointers.parse(JSON.parse(bundle.objects['replay_pointers.json'] as string));
    IntegrityReport.parse(JSON.parse(bundle.objects['integrity_report.json'] as string));
    assert.equal(
      RunRecord.parse(JSON.parse(bundle.objects['run_record.json'] as string)).jobRunId,
      'safe_validation/2026-06-06T00:00:00Z',
    );
  });

  test('missing observability is UNKNOWN and never counted as success', async () => {
    const outcome = await run('safe_blind', '2026-06-07T00:00:00Z');

    assert.equal(outcome.kind, 'completed');
    assert.ok(outcome.kind === 'completed');
    assert.equal(outcome.summary.quality, 'UNKNOWN');
    assert.equal(exitCodeOf(outcome), 4);
    const bundle = await bundleOf(runtime, outcome);
    assert.equal(
      RunRecord.parse(JSON.parse(bundle.objects['run_record.json'] as string)).quality,
      'UNKNOWN',
    );
    assert.equal(
      auditOf(bundle.objects['audit.jsonl'] as string).find((e) => e.type === 'job.run.end')
        ?.quality,
      'UNKNOWN',
    );
    const state = await runtime.deps.state.getJobState('safe_blind');
    assert.equal(state?.lastQuality, 'UNKNOWN');
    assert.equal(state?.lastSuccessAt, undefined, 'UNKNOWN is not a success');
  });

  test('SAFE refuses a dangerous job and lets the others run', async () => {
    await setSafetyMode(runtime.deps, 'SAFE', { by: 'alice', reason: 'incident' });

    const dangerous = await run('safe_dangerous', '2026-06-08T00:00:00Z');
    const ordinary = await run('safe_recovery', '2026-06-08T00:00:00Z');

    assert.ok(dangerous.kind === 'refused');
    assert.match(dangerous.summary.error?.message ?? '', /SAFE/);
    assert.equal(ordinary.kind, 'completed');
    assert.equal(counting.dangerous.effects.length, 0);
  });

  test('EMERGENCY_STOP lets a VALIDATION job run and refuses a RECOVERY job; relaxing it is a dangerous op', async () => {
    await setSafetyMode(runtime.deps, 'EMERGENCY_STOP', {
      by: 'alice',
      reason: 'data loss suspected',
    });

    const validation = await run('safe_validation', '2026-06-09T00:00:00Z');
    const recovery = await run('safe_recovery', '2026-06-09T00:00:00Z');

    assert.equal(validation.kind, 'completed');
    assert.ok(recovery.kind === 'refused');
    assert.equal(recovery.summary.error?.kind, 'refused_safety');
    assert.match(recovery.summary.error?.message ?? '', /EMERGENCY_STOP/);
    assert.ok(!counting.recovery.effects.includes('safe_recovery/2026-06-09T00:00:00Z'));
    await assert.rejects(
      setSafetyMode(runtime.deps, 'NORMAL', { by: 'alice', reason: 'over' }),
      DangerousOpRequiresApprovalError,
    );
    await assert.rejects(
      setSafetyMode(runtime.deps, 'SAFE', { by: 'alice', reason: 'step down' }),
      DangerousOpRequiresApprovalError,
    );
    assert.equal((await runtime.deps.state.getControls()).safety?.mode, 'EMERGENCY_STOP');
  });

  test('integrity FAIL of a dataset stops the jobs that consume it, but not its repair', async () => {
    const consumer = await run('safe_consumer', '2026-06-10T00:00:00Z');
    const repair = await run('safe_repair', '2026-06-10T00:00:00Z');

    assert.ok(consumer.kind === 'refused');
    assert.equal(consumer.summary.error?.kind, 'refused_integrity');
    assert.equal(repair.kind, 'completed');
    assert.equal(counting.consumer.effects.length, 0);
  });

  test('a 403 is not retried', async () => {
    const outcome = await run('safe_http403', '2026-06-11T00:00:00Z', { retryPauseMs: 1 });

    assert.equal(outcome.kind, 'failed');
    assert.ok(outcome.kind === 'failed');
    assert.equal(outcome.summary?.error?.kind, 'permission');
    assert.equal(http403.callTimes.length, 1);
  });

  test('a 503 is retried up to the policy limit, with full jitter, and every retry is audited', async () => {
    const retry = (runtime.substitutedDefinition.States as any).Execute.Retry[0];
    assert.deepEqual(
      [
        retry.MaxAttempts,
        retry.IntervalSeconds,
        retry.BackoffRate,
        retry.MaxDelaySeconds,
        retry.JitterStrategy,
      ],
      [2, 1, 2, 5, 'FULL'],
    );
    assert.ok(
      retry.ErrorEquals.includes('DependencyError') &&
        !retry.ErrorEquals.includes('PermissionError'),
    );

    const outcome = await run('safe_http503', '2026-06-12T00:00:00Z', { retryPauseMs: 1 });

    assert.equal(outcome.kind, 'failed');
    assert.equal(http503.callTimes.length, 3, 'one attempt and maxAttempts (2) retries');
    const audit = auditOf((await bundleOf(runtime, outcome)).objects['audit.jsonl'] as string);
    const retries = audit.filter((e) => e.type === 'job.run.retry');
    assert.deepEqual(
      retries.map((e) => e.retry?.count),
      [1, 2],
    );
    assert.match(retries[0]?.retry?.reason ?? '', /DependencyError: HTTP 503/);
    assert.equal(audit.find((e) => e.type === 'job.run.fail')?.error?.kind, 'dependency');
  });

  test('failures finishing at the same time each count, and the one at the threshold enters quarantine once', async () => {
    const outcomes = await Promise.all(
      ['00', '01', '02'].map((hour) => run('safe_racing', `2026-06-06T${hour}:00:00Z`)),
    );

    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['failed', 'failed', 'failed'],
    );
    const audits = await Promise.all(
      outcomes.map(async (o) =>
        auditOf((await bundleOf(runtime, o)).objects['audit.jsonl'] as string),
      ),
    );
    const entered = audits.flatMap((events) =>
      events.filter((e) => e.type === 'job.run.quarantine.enter'),
    );
    assert.equal(entered.length, 1);
    assert.equal(entered[0]?.details?.consecutiveFailures, 3);
    const state = await runtime.deps.state.getJobState('safe_racing');
    assert.equal(state?.consecutiveFailures, 3);
    assert.equal(state?.quarantine?.jobRunId, entered[0]?.jobRunId);
  });

  test('Retry-After from a dependency is honoured: the next attempt comes no sooner', async () => {
    const outcome = await run('safe_http429', '2026-06-13T00:00:00Z', { retryPauseMs: 1 });

    assert.equal(outcome.kind, 'completed');
    assert.equal(http429.callTimes.length, 2);
    assert.ok(
      http429.callTimes[1]! - http429.callTimes[0]! >= 1000,
      `retried after ${http429.callTimes[1]! - http429.callTimes[0]!} ms`,
    );
    const retry = auditOf((await bundleOf(runtime, outcome)).objects['audit.jsonl'] as string).find(
      (e) => e.type === 'job.run.retry',
    );
    assert.match(retry?.retry?.reason ?? '', /ThrottlingError: HTTP 429/);
  });

  test('kill-switch engaged while a run waits: that run stops, no new run starts, and release is a dangerous op', async () => {
    const running = run('safe_waiting', '2026-06-14T00:00:00Z');
    await waiting.started;
    // Engaged from "another process": the runtime's watchdog sees the switch and aborts its
    // execution.
    const result = await engageKillSwitch(
      {
        ...runtime.deps,
        executions: { stopRunning: async () => [] },
        schedules: { disable: async () => [] },
      },
      'safe_waiting',
      { by: 'carol', reason: 'runaway job' },
    );
    assert.equal(result.killSwitch.engaged, true);

    const stopped = await running;

    assert.equal(stopped.kind, 'stopped');
    assert.ok(stopped.kind === 'stopped');
    assert.equal(stopped.summary?.error?.kind, 'stopped');
    assert.equal(waiting.finished, false);
    waiting.release(); // lets the abandoned task settle, as a Lambda's invocation would end on its own
    const fail = auditOf((await bundleOf(runtime, stopped)).objects['audit.jsonl'] as string).find(
      (e) => e.type === 'job.run.fail',
    );
    assert.equal(fail?.error?.kind, 'stopped');
    assert.equal(
      (await runtime.deps.state.getJobState('safe_waiting'))?.consecutiveFailures,
      0,
      'a stop is not a failure of the job',
    );

    const next = await run('safe_waiting', '2026-06-14T01:00:00Z');
    assert.ok(next.kind === 'refused');
    assert.equal(next.summary.error?.kind, 'refused_kill_switch');
    assert.match(next.summary.error?.message ?? '', /carol/);
    const scheduler = new LocalScheduler(runtime, runtime.deps.policy, runtime.deps.state, {
      now: () => new Date('2026-06-14T03:00:00Z'),
    });
    await runtime.deps.state.setSchedulerCursor('safe_waiting', '2026-06-14T01:00:00Z');
    const dispatched = await scheduler.tick();
    assert.ok(
      !dispatched.some((d) => d.jobId === 'safe_waiting'),
      'the schedule of a killed job is disabled',
    );
    await assert.rejects(
      releaseKillSwitch(runtime.deps, 'safe_waiting', { by: 'carol', reason: 'done' }),
      DangerousOpRequiresApprovalError,
    );
    // Who, why and when (docs/safety-rules.md#kill-switch), as write-once evidence beside the day's
    // runs. Control events are dated by when they happened (the real clock): list every day, so
    // midnight can't split them.
    const keys = (await stack.ports.evidence.list('stage=local/')).filter((k) =>
      k.includes('/control/'),
    );
    const events = await Promise.all(
      keys.map(async (k) =>
        AuditEvent.parse(
          JSON.parse(new TextDecoder().decode(await runtime.deps.evidence.getObject(k))),
        ),
      ),
    );
    const engage = events.find(
      (e) => e.type === 'kill_switch.engage' && e.jobId === 'safe_waiting',
    );
    assert.equal(engage?.actor.id, 'carol');
    assert.equal(engage?.details?.reason, 'runaway job');
    assert.ok(
      events.some(
        (e) =>
          e.type === 'safety.mode.change' &&
          e.details?.to === 'EMERGENCY_STOP' &&
          e.actor.id === 'alice',
      ),
    );
  });

  test('a claim whose holder died is taken over after its lease, with one effect in total', async () => {
    const deliver = {
      jobId: 'safe_lease',
      scheduledTime: '2026-06-15T00:00:00Z',
      trigger: 'schedule' as const,
    };
    // Holder A claims and runs the job's logic, then dies before Finalize.
    const run = await createPreflightHandler(runtime.deps)(
      { executionId: 'exec-A', request: deliver },
      {} as never,
    );
    await createExecuteHandler(runtime.deps)({ run }, {
      getRemainingTimeInMillis: () => 60_000,
    } as never);
    assert.equal(counting.lease.effects.length, 1);
    // Within the lease a redelivery is a duplicate.
    assert.equal((await runtime.run(deliver)).kind, 'duplicate_suppressed');

    const afterLease: Clock = { now: () => new Date(Date.now() + 61_000) };
    // The stack restarts after the lease: its scheduler finds the open run and delivers it again.
    const restarted = new LocalRuntime(
      stack.env,
      [
        ...Object.values(counting),
        failing,
        racing,
        http403,
        http503,
        http429,
        blindJob('safe_blind'),
        waiting,
      ],
      { ports: stack.ports, clock: afterLease },
    );
    const outcomes: ExecutionOutcome[] = [];
    const scheduler = new LocalScheduler(
      restarted,
      restarted.deps.policy,
      restarted.deps.state,
      afterLease,
      { onOutcome: (_d, o) => outcomes.push(o) },
    );
    const resumed = await scheduler.resumeOpenRuns();
    await scheduler.drain();
    assert.deepEqual(resumed, [{ jobId: 'safe_lease', scheduledTime: '2026-06-15T00:00:00Z' }]);
    const [outcome] = outcomes as [ExecutionOutcome];

    assert.equal(outcome.kind, 'completed');
    assert.equal(
      counting.lease.effects.length,
      1,
      'Execute replayed its stored result instead of running again',
    );
    const audit = auditOf((await bundleOf(restarted, outcome)).objects['audit.jsonl'] as string);
    assert.match(
      audit.find((e) => e.type === 'job.run.retry')?.retry?.reason ?? '',
      /lease of execution exec-A expired/,
    );
    assert.ok(
      !(await restarted.deps.state.listOpenRuns()).some(
        (o) => o.jobRunId === 'safe_lease/2026-06-15T00:00:00Z',
      ),
      'never left claimed',
    );
  });

  test('a run whose holder died after sealing a failure is finished from that outcome, without running the job again', async () => {
    const deliver = {
      jobId: 'safe_failing',
      scheduledTime: '2026-06-16T00:00:00Z',
      trigger: 'manual' as const,
    };
    await runtime.deps.state.releaseQuarantine('safe_failing');
    const run = await createPreflightHandler(runtime.deps)(
      { executionId: 'exec-B', request: deliver },
      {} as never,
    );
    const calls = failing.calls;
    // Holder B decided the run failed (sealed), then died before writing the bundle.
    await runtime.deps.state.sealOutcome(run.jobRunId, {
      status: 'error',
      quality: 'UNKNOWN',
      startedAt: run.claimedAt,
      endedAt: run.claimedAt,
      attempts: 1,
      diagnostics: [],
      error: { kind: 'validation', name: 'ValidationError', message: 'sealed by the dead holder' },
      integrityReport: null,
      events: [],
      effect: { kind: 'failure', quarantine: null },
    });

    const afterLease: Clock = { now: () => new Date(Date.now() + 61_000) };
    const restarted = new LocalRuntime(
      stack.env,
      [
        ...Object.values(counting),
        failing,
        racing,
        http403,
        http503,
        http429,
        blindJob('safe_blind'),
        waiting,
      ],
      { ports: stack.ports, clock: afterLease },
    );
    const outcome = await restarted.run(deliver);

    assert.equal(outcome.kind, 'failed');
    assert.ok(outcome.kind === 'failed');
    assert.equal(
      outcome.summary?.error?.message,
      'sealed by the dead holder',
      'the sealed outcome, not a new one',
    );
    assert.equal(failing.calls, calls, 'the job did not run again');
    assert.ok(
      !(await restarted.deps.state.listOpenRuns()).some((o) => o.jobRunId === run.jobRunId),
      'never left claimed',
    );
    await readVerifiedBundle(restarted.deps.evidence, outcome.summary?.manifestKey as string);
  });
});
