import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { ObservabilityReport } from '../../contracts';
import { type KpiRow, kpiRowsOfQuery } from '../../functions/core/kpis';
import { mirrorEvidence, runNamedQuery } from '../../local/query';
import {
  bundleObjects,
  type Issue13Stack,
  ISSUE13_JOBS,
  runIssue13Fixture,
} from '../support/issue13';

/**
 * The KPI query's numbers equal the report's (issue 13): on one local stack, jobs run on one day
 * of the stage's zone (successes, failures, a retried run, a refusal), the real
 * daily_observability_report reports that day, and the `job_kpis` named query, run locally over
 * the run records the same runs wrote to the evidence (as `opsrail query --named job_kpis` does, in
 * the stage's zone), has a day row per job and one for the stage whose numbers are the report's.
 */
describe('the job_kpis query = the daily observability report, on the local stack', () => {
  let fixture: Issue13Stack;
  let report: ObservabilityReport;
  let dayRows: KpiRow[];

  beforeAll(async () => {
    fixture = await runIssue13Fixture();
    const { runtime, dailyTick, zone } = fixture;
    const outcome = await runtime.run({
      jobId: 'daily_observability_report',
      scheduledTime: dailyTick,
      trigger: 'schedule',
    });
    assert.equal(outcome.kind, 'completed', JSON.stringify(outcome));
    const objects = await bundleObjects(runtime, outcome);
    report = ObservabilityReport.parse(
      JSON.parse(objects['outputs/observability_report.json'] as string),
    );
    const root = await mirrorEvidence(runtime.deps.evidence, runtime.deps.policy.stage);
    const rows = kpiRowsOfQuery(await runNamedQuery(root, 'job_kpis', undefined, zone));
    dayRows = rows.filter((r) => r.granularity === 'day' && r.period_start === fixture.day);
  }, 300_000);
  afterAll(async () => fixture?.stop());

  test('every job: runs, failures, success and failure rate, retries, p50 and p95 are the query’s day row', () => {
    // Prepare
    const jobRows = dayRows.filter((r) => r.scope === 'job');
    // Act
    const fromReport = report.per_job.map((j) => ({
      job_id: j.job_id,
      runs: j.runs,
      successes: j.succeeded,
      failures: j.failed,
      refused: j.refused,
      success_rate: j.success_rate,
      failure_rate: j.failure_rate,
      retries: j.retries,
      mean_retries: j.mean_retries,
      p50_duration_ms: j.p50_duration_ms,
      p95_duration_ms: j.p95_duration_ms,
    }));
    const fromQuery = jobRows.map((r) => ({
      job_id: r.job_id,
      runs: r.runs,
      successes: r.successes,
      failures: r.failures,
      refused: r.refused,
      success_rate: r.success_rate,
      failure_rate: r.failures / r.runs,
      retries: r.retries,
      mean_retries: r.mean_retries,
      p50_duration_ms: r.p50_duration_ms,
      p95_duration_ms: r.p95_duration_ms,
    }));
    // Assess
    assert.equal(report.period.label, fixture.day);
    assert.deepEqual(fromReport, fromQuery);
    // The day reaches every KPI: each job of the fixture, a failure, a refusal, retries, and
    // durations that differ between jobs.
    assert.deepEqual(
      fromQuery.map((r) => r.job_id),
      Object.keys(ISSUE13_JOBS).sort(),
    );
    const of = (jobId: string) => fromQuery.find((r) => r.job_id === jobId)!;
    assert.deepEqual(
      [of('i13_forbidden').runs, of('i13_forbidden').failures, of('i13_forbidden').refused],
      [3, 2, 1],
    );
    assert.equal(of('i13_flaky').retries, 1);
    assert.equal(of('i13_flaky').successes, 1);
    assert.equal(of('i13_unavailable').failures, 1);
    // The slow job's endpoint answers after 300 ms: a floor under every one of its durations.
    assert.ok(of('i13_slow').p50_duration_ms >= 300, JSON.stringify(of('i13_slow')));
    assert.ok(fromQuery.every((r) => r.p50_duration_ms <= r.p95_duration_ms));
  });

  test('the stage: runs, outcomes, success rate and retries of the totals are the query’s stage row', () => {
    // Prepare
    const stage = dayRows.filter((r) => r.scope === 'stage');
    assert.equal(stage.length, 1, 'one stage row for the day');
    const row = stage[0]!;
    // Act
    const fromQuery = {
      runs: row.runs,
      succeeded: row.successes,
      failed: row.failures,
      refused: row.refused,
      success_rate: row.success_rate,
      retries: row.retries,
    };
    const { degraded: _, ...totals } = report.totals;
    // Assess
    assert.deepEqual(totals, fromQuery);
    assert.deepEqual([row.runs, row.failures, row.refused], [10, 3, 1]);
  });
});
