/**
 * The KPIs on the local stack, for a reader to see: `npx tsx test/support/demo-kpis.ts`. Starts
 * the local stack pieces test/integration/kpis-query.test.ts uses (its own DynamoDB Local and
 * local S3 endpoint), runs five jobs over the last eight days (some fail, one is refused, one
 * retries, one completes DEGRADED), runs the `job_kpis` named query locally in Tokyo time, prints
 * its output as a table, and says whether it equals computeKpis over the same runs
 * (docs/observability.md#kpis).
 */
import { isDeepStrictEqual } from 'node:util';
import { computeKpis, kpiRowsOfQuery } from '../../functions/core/kpis';
import { runNamedQuery } from '../../local/query';
import { runKpiFixture } from './kpi-runs';

const ZONE = 'Asia/Tokyo';
const fixture = await runKpiFixture();
try {
  const output = await runNamedQuery(fixture.root, 'job_kpis', undefined, ZONE);
  const round = (v: unknown) =>
    typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(4)) : v;
  console.log(`opsrail query --named job_kpis (local, DuckDB; days and weeks in ${ZONE}):`);
  const rows = kpiRowsOfQuery(output);
  console.table(
    rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v)]))),
  );
  const expected = [
    ...computeKpis(fixture.runs, { zone: ZONE, granularity: 'day', ...fixture.range }),
    ...computeKpis(fixture.runs, { zone: ZONE, granularity: 'week', ...fixture.range }),
  ];
  const equal = isDeepStrictEqual(rows, expected);
  console.log(
    `${rows.length} rows (rates rounded to 4 places here); equal to computeKpis over the same ${fixture.runs.length} runs: ${equal}`,
  );
  process.exitCode = equal ? 0 : 1;
} finally {
  await fixture.stack.stop();
}
