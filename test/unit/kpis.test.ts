import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, test } from 'vitest';
import type { AuditEvent, RunContext } from '../../contracts';
import { MemoryStateStore } from '../../functions/adapters/memory-state-store';
import { jobKpiRows, runRecordRows } from '../../functions/core/exports';
import { computeKpis, type KpiRow, type KpiRun } from '../../functions/core/kpis';
import type { SealedOutcome } from '../../functions/core/ports';

const policySnapshot: RunContext['policySnapshot'] = { stage: 'local', sha256: 'a'.repeat(64) };

/** A run context of `jobId` ticked at `scheduledTime`. */
function context(jobId: string, scheduledTime: string): RunContext {
  const jobRunId = `${jobId}/${scheduledTime}`;
  return {
    stage: 'local',
    jobId,
    jobVersion: '1.0.0',
    jobRunId,
    scheduledTime,
    trigger: 'schedule',
    executionId: `exec-${jobRunId}`,
    window: { start: scheduledTime, end: scheduledTime },
    evidencePrefix: `stage=local/dt=${scheduledTime.slice(0, 10)}/job_id=${jobId}/`,
    policySnapshot,
    jobConfigSha256: 'b'.repeat(64),
    datasetRefs: [],
    outputDatasetId: `opsrail.outputs.${jobId}`,
    requestedBy: 'scheduler',
    params: {},
    approvalRequired: false,
    jobFunction: `fn-${jobId}`,
    claimedAt: scheduledTime,
  };
}

interface Outcome {
  status: SealedOutcome['status'];
  quality?: SealedOutcome['quality'];
  attempts: number;
  ms: number;
}

/** Claims and seals a run in the in-memory state table, as the run's steps do. */
async function seal(state: MemoryStateStore, jobId: string, at: string, outcome: Outcome) {
  const run = context(jobId, at);
  await state.claimRun(run, { type: 'job.run.start' } as AuditEvent, '2026-12-31T00:00:00Z');
  const endedAt = new Date(Date.parse(at) + 60_000).toISOString();
  await state.sealOutcome(run.jobRunId, {
    status: outcome.status,
    quality: outcome.quality ?? (outcome.status === 'error' ? 'UNKNOWN' : 'OK'),
    startedAt: new Date(Date.parse(endedAt) - outcome.ms).toISOString(),
    endedAt,
    attempts: outcome.attempts,
    diagnostics: [],
    error:
      outcome.status === 'error'
        ? { kind: 'dependency', name: 'DependencyError', message: 'x' }
        : null,
    integrityReport: null,
    events: [],
    effect: { kind: 'neutral' },
  });
}

/**
 * Tokyo is UTC+9: a_job's 15:30Z tick on Nov 30 is Dec 1 there. The week of Monday Nov 30 holds
 * a_job's four runs and b_job's refused one; b_job's dry run is on Monday Dec 7 in Tokyo. Left
 * out: a run still open, and one scheduled after `to`.
 */
async function fixture() {
  const state = new MemoryStateStore();
  await seal(state, 'a_job', '2026-11-30T14:30:00Z', { status: 'ok', attempts: 1, ms: 1000 });
  await seal(state, 'a_job', '2026-11-30T15:30:00Z', { status: 'ok', attempts: 3, ms: 3000 });
  await seal(state, 'a_job', '2026-12-01T01:00:00Z', { status: 'error', attempts: 3, ms: 2000 });
  await seal(state, 'a_job', '2026-12-01T02:00:00Z', {
    status: 'ok',
    quality: 'DEGRADED',
    attempts: 1,
    ms: 4000,
  });
  await seal(state, 'b_job', '2026-12-01T03:00:00Z', { status: 'skipped', attempts: 0, ms: 0 });
  await seal(state, 'b_job', '2026-12-06T15:30:00Z', { status: 'dry_run', attempts: 1, ms: 500 });
  await seal(state, 'a_job', '2026-12-08T00:00:00Z', { status: 'ok', attempts: 1, ms: 9 });
  await state.claimRun(
    context('c_job', '2026-12-01T04:00:00Z'),
    { type: 'job.run.start' } as AuditEvent,
    '2026-12-31T00:00:00Z',
  );
  return state.listRuns({});
}

const RANGE = { zone: 'Asia/Tokyo', from: '2026-11-30T00:00:00Z', to: '2026-12-08T00:00:00Z' };

const row = (
  granularity: KpiRow['granularity'],
  period_start: string,
  job_id: string | null,
  figures: Omit<KpiRow, 'granularity' | 'period_start' | 'job_id' | 'scope'>,
): KpiRow => ({ granularity, scope: job_id ? 'job' : 'stage', job_id, period_start, ...figures });

describe('computeKpis on a fixture of runs', () => {
  test('per day in Tokyo: every figure of every job and of the stage', async () => {
    // Prepare
    const runs = await fixture();
    // Act
    const rows = computeKpis(runs, { ...RANGE, granularity: 'day' });
    // Assess
    const one = { runs: 1, successes: 1, failures: 0, refused: 0, retries: 0 };
    const aNov30 = {
      ...one,
      success_rate: 1,
      mean_retries: 0,
      mean_attempts: 1,
      p50_duration_ms: 1000,
      p95_duration_ms: 1000,
    };
    const bDec7 = { ...aNov30, p50_duration_ms: 500, p95_duration_ms: 500 };
    assert.deepEqual(rows, [
      row('day', '2026-11-30', 'a_job', aNov30),
      row('day', '2026-11-30', null, aNov30),
      // ok (3 attempts, 3000 ms), error (3, 2000), ok but DEGRADED (1, 4000): one success.
      row('day', '2026-12-01', 'a_job', {
        runs: 3,
        successes: 1,
        failures: 1,
        refused: 0,
        retries: 4,
        success_rate: 1 / 3,
        mean_retries: 4 / 3,
        mean_attempts: 7 / 3,
        p50_duration_ms: 3000,
        p95_duration_ms: 4000,
      }),
      row('day', '2026-12-01', 'b_job', {
        runs: 1,
        successes: 0,
        failures: 0,
        refused: 1,
        retries: 0,
        success_rate: 0,
        mean_retries: 0,
        mean_attempts: 0,
        p50_duration_ms: 0,
        p95_duration_ms: 0,
      }),
      // Durations 0, 2000, 3000, 4000: rank ceil(0.5 × 4) = 2, ceil(0.95 × 4) = 4.
      row('day', '2026-12-01', null, {
        runs: 4,
        successes: 1,
        failures: 1,
        refused: 1,
        retries: 4,
        success_rate: 0.25,
        mean_retries: 1,
        mean_attempts: 7 / 4,
        p50_duration_ms: 2000,
        p95_duration_ms: 4000,
      }),
      row('day', '2026-12-07', 'b_job', bDec7),
      row('day', '2026-12-07', null, bDec7),
    ]);
  });

  test('per ISO week in Tokyo (weeks start on Monday)', async () => {
    // Prepare
    const runs = await fixture();
    // Act
    const rows = computeKpis(runs, { ...RANGE, granularity: 'week' });
    // Assess
    const b = {
      runs: 1,
      successes: 0,
      failures: 0,
      refused: 1,
      retries: 0,
      success_rate: 0,
      mean_retries: 0,
      mean_attempts: 0,
      p50_duration_ms: 0,
      p95_duration_ms: 0,
    };
    const bDec7 = {
      runs: 1,
      successes: 1,
      failures: 0,
      refused: 0,
      retries: 0,
      success_rate: 1,
      mean_retries: 0,
      mean_attempts: 1,
      p50_duration_ms: 500,
      p95_duration_ms: 500,
    };
    assert.deepEqual(rows, [
      row('week', '2026-11-30', 'a_job', {
        runs: 4,
        successes: 2,
        failures: 1,
        refused: 0,
        retries: 4,
        success_rate: 0.5,
        mean_retries: 1,
        mean_attempts: 2,
        p50_duration_ms: 2000,
        p95_duration_ms: 4000,
      }),
      row('week', '2026-11-30', 'b_job', b),
      // Durations 0, 1000, 2000, 3000, 4000: rank ceil(2.5) = 3, ceil(4.75) = 5.
      row('week', '2026-11-30', null, {
        runs: 5,
        successes: 2,
        failures: 1,
        refused: 1,
        retries: 4,
        success_rate: 0.4,
        mean_retries: 0.8,
        mean_attempts: 1.6,
        p50_duration_ms: 2000,
        p95_duration_ms: 4000,
      }),
      row('week', '2026-12-07', 'b_job', bDec7),
      row('week', '2026-12-07', null, bDec7),
    ]);
  });

  test('the zone decides the day: in UTC both of Nov 30 14:30Z and 15:30Z are Nov 30', async () => {
    // Prepare
    const runs = await fixture();
    // Act
    const rows = computeKpis(runs, { ...RANGE, zone: 'UTC', granularity: 'day' });
    // Assess
    const nov30 = rows.find((r) => r.period_start === '2026-11-30' && r.job_id === 'a_job');
    assert.equal(nov30?.runs, 2);
    assert.equal(nov30?.retries, 2);
    assert.equal(rows.find((r) => r.period_start === '2026-12-06')?.runs, 1);
  });

  test('bad options name their field', () => {
    // Prepare, Act, Assess: an unknown zone, a from that is not a time.
    assert.throws(
      () => computeKpis([], { ...RANGE, zone: 'Mars/Olympus', granularity: 'day' }),
      /^RangeError: zone: /,
    );
    assert.throws(
      () => computeKpis([], { ...RANGE, from: 'yesterday', granularity: 'day' }),
      /^RangeError: from: /,
    );
  });

  test('the job_kpis export is the same KPIs, rounded', async () => {
    // Prepare
    const runs = await fixture();
    const week = { start: '2026-11-29T15:00:00Z', end: '2026-12-06T15:00:00Z' };
    // Act
    const exported = jobKpiRows(runRecordRows(runs, week, '2026-12-31T00:00:00Z'), week);
    const kpis = computeKpis(runs, { ...RANGE, granularity: 'week' }).filter(
      (r) => r.period_start === '2026-11-30' && r.scope === 'job',
    );
    // Assess
    assert.deepEqual(
      exported.map((e) => [e.jobId, e.runs, e.succeeded, e.failed, e.skipped, e.success_rate]),
      kpis.map((k) => [k.job_id, k.runs, k.successes, k.failures, k.refused, k.success_rate]),
    );
    assert.deepEqual(
      exported.map((e) => [e.mean_attempts, e.p50_duration_ms, e.p95_duration_ms]),
      [
        [2, 2000, 4000],
        [0, 0, 0],
      ],
    );
  });
});

const arbitraryRun: fc.Arbitrary<KpiRun> = fc.record({
  jobId: fc.constantFrom('a_job', 'b_job', 'c_job'),
  scheduledTime: fc
    .integer({ min: Date.parse('2026-01-01T00:00:00Z'), max: Date.parse('2026-03-01T00:00:00Z') })
    .map((ms) => new Date(ms).toISOString()),
  status: fc.constantFrom('ok', 'error', 'skipped', 'dry_run'),
  quality: fc.constantFrom('OK', 'DEGRADED', 'UNKNOWN'),
  duration_ms: fc.nat({ max: 600_000 }),
  attempts: fc.nat({ max: 5 }),
});

describe('computeKpis properties', () => {
  test('rates in [0, 1], p50 ≤ p95, and job rows add up to the stage row', () => {
    // Prepare: up to 60 runs of three jobs over two months, in three zones.
    fc.assert(
      fc.property(
        fc.array(arbitraryRun, { maxLength: 60 }),
        fc.constantFrom('day', 'week') as fc.Arbitrary<'day' | 'week'>,
        fc.constantFrom('UTC', 'Asia/Tokyo', 'America/New_York'),
        (runs, granularity, zone) => {
          // Act
          const rows = computeKpis(runs, {
            zone,
            granularity,
            from: '2026-01-01T00:00:00Z',
            to: '2026-03-02T00:00:00Z',
          });
          // Assess
          const stages = rows.filter((r) => r.scope === 'stage');
          assert.equal(
            stages.reduce((n, r) => n + r.runs, 0),
            runs.length,
          );
          for (const r of rows) {
            assert.ok(r.success_rate >= 0 && r.success_rate <= 1);
            assert.ok(r.p50_duration_ms <= r.p95_duration_ms);
            assert.ok(r.successes + r.failures + r.refused <= r.runs);
            assert.equal(r.mean_retries, r.retries / r.runs);
          }
          for (const s of stages) {
            const jobs = rows.filter((r) => r.scope === 'job' && r.period_start === s.period_start);
            for (const k of ['runs', 'successes', 'failures', 'refused', 'retries'] as const)
              assert.equal(
                jobs.reduce((n, r) => n + r[k], 0),
                s[k],
              );
            const max = Math.max(...jobs.map((r) => r.p95_duration_ms));
            assert.ok(s.p95_duration_ms <= max);
          }
        },
      ),
    );
  });
});
