import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { ObservabilityReport } from '../../contracts';
import { kpiRowsOfQuery } from '../../functions/core/kpis';
import { mirrorEvidence, runNamedQuery } from '../../local/query';
import {
  bundleObjects,
  type ComparedKpis,
  type Issue13Stack,
  ISSUE13_JOBS,
  kpisOfQueryDay,
  kpisOfReport,
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
  let fromQuery: ComparedKpis;

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
    fromQuery = kpisOfQueryDay(rows, fixture.day);
  }, 300_000);
  afterAll(async () => fixture?.stop());

  test('every job: runs, failures, success and failure rate, retries, p50 and p95 are the query’s day row', () => {
    // Prepare
    const of = (jobId: string) => fromQuery.jobs.find((r) => r.job_id === jobId)!;
    // Act
    const fromReport = kpisOfReport(report);
    // Assess
    assert.equal(report.period.label, fixture.day);
    assert.deepEqual(fromReport.jobs, fromQuery.jobs);
    // The day reaches every KPI: each job of the fixture, failures, a refusal, retries, and
    // durations that differ between jobs.
    assert.deepEqual(
      fromQuery.jobs.map((r) => r.job_id),
      Object.keys(ISSUE13_JOBS).sort(),
    );
    assert.deepEqual(
      [of('i13_forbidden').runs, of('i13_forbidden').failures, of('i13_forbidden').refused],
      [3, 2, 1],
    );
    assert.deepEqual([of('i13_flaky').successes, of('i13_flaky').retries], [1, 1]);
    assert.equal(of('i13_unavailable').failures, 1);
    assert.ok(of('i13_unavailable').retries >= 1, 'the 503 was retried');
    // The slow job's endpoint answers after 300 ms: a floor under every one of its durations.
    assert.ok((of('i13_slow').p50_duration_ms ?? 0) >= 300, JSON.stringify(of('i13_slow')));
  });

  test('the stage: runs, failures, success and failure rate, retries, p50 and p95 of the totals are the query’s stage row', () => {
    // Prepare
    const { stage } = fromQuery;
    // Act
    const fromReport = kpisOfReport(report).stage;
    // Assess
    assert.deepEqual(fromReport, stage);
    assert.deepEqual([stage.runs, stage.successes, stage.failures, stage.refused], [10, 6, 3, 1]);
    assert.equal(
      stage.retries,
      fromQuery.jobs.reduce((n, j) => n + j.retries, 0),
    );
    // The stage's percentiles are over every run of the day: with ten runs its p95 is the longest
    // run, and so is each job's p95 with at most three.
    const p95s = fromQuery.jobs.map((j) => j.p95_duration_ms ?? 0);
    assert.equal(stage.p95_duration_ms, Math.max(...p95s));
    assert.ok((stage.p50_duration_ms ?? 0) <= (stage.p95_duration_ms ?? 0));
  });
});
