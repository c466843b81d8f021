import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { computeKpis, kpiRowsOfQuery, type KpiRow } from '../../functions/core/kpis';
import { runNamedQuery } from '../../local/query';
import { type KpiRuns, runKpiFixture } from '../support/kpi-runs';

/**
 * The KPI query's numbers equal the report's: the `job_kpis` named query, run locally (DuckDB,
 * translated from its Athena text) over the run records real runs wrote to the evidence, returns
 * exactly the rows computeKpis (functions/core/kpis.ts, what the reports use) computes from the
 * same runs in the state table, per day and per week, per job and for the stage.
 */
describe('job_kpis named query = computeKpis over the same runs', () => {
  let fixture: KpiRuns;
  beforeAll(async () => {
    fixture = await runKpiFixture();
  }, 120_000);
  afterAll(async () => fixture?.stack.stop());

  const kpis = (zone: string): KpiRow[] => [
    ...computeKpis(fixture.runs, { zone, granularity: 'day', ...fixture.range }),
    ...computeKpis(fixture.runs, { zone, granularity: 'week', ...fixture.range }),
  ];

  test('in Tokyo (the zone set with withTimeZone): every row, every number', async () => {
    // Prepare
    const expected = kpis('Asia/Tokyo');
    // Act
    const rows = kpiRowsOfQuery(
      await runNamedQuery(fixture.root, 'job_kpis', undefined, 'Asia/Tokyo'),
    );
    // Assess
    assert.deepEqual(rows, expected);
    // The fixture reaches every KPI: a retry, a failure, a refusal, a DEGRADED run, several days.
    const stageWeeks = expected.filter((r) => r.scope === 'stage' && r.granularity === 'week');
    assert.equal(
      stageWeeks.reduce((n, r) => n + r.runs, 0),
      13,
    );
    const jobWeeks = (jobId: string) =>
      expected.filter((r) => r.job_id === jobId && r.granularity === 'week');
    assert.equal(
      jobWeeks('k_fail').reduce((n, r) => n + r.failures, 0),
      3,
    );
    assert.equal(
      jobWeeks('k_fail').reduce((n, r) => n + r.refused, 0),
      1,
    );
    assert.equal(
      jobWeeks('k_flaky').reduce((n, r) => n + r.retries, 0),
      1,
    );
    assert.deepEqual(
      jobWeeks('k_degraded').map((r) => [r.runs, r.successes, r.failures, r.success_rate]),
      [[1, 0, 0, 0]],
    );
    assert.ok(expected.every((r) => r.p50_duration_ms <= r.p95_duration_ms));
  });

  test('in UTC (the query as written): 03:00 in Tokyo is the day before', async () => {
    // Prepare
    const expected = kpis('UTC');
    // Act
    const rows = kpiRowsOfQuery(await runNamedQuery(fixture.root, 'job_kpis'));
    // Assess
    assert.deepEqual(rows, expected);
    const days = (zone: string) =>
      kpis(zone)
        .filter((r) => r.job_id === 'k_ok' && r.granularity === 'day')
        .map((r) => r.runs);
    assert.deepEqual(days('Asia/Tokyo'), [1, 1, 2]);
    assert.deepEqual(days('UTC'), [1, 1, 1, 1]);
  });
});
