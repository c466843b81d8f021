import assert from 'node:assert/strict';
import { test } from 'vitest';
import { athenaToDuckDb, loadNamedQueries, parseNamedQueries } from '../../contracts/named-queries';
import { duckType, EVIDENCE_TABLES, glueType } from '../../contracts/query-tables';

test('the Athena→DuckDB translation changes only the functions the dialects spell differently', () => {
  assert.equal(
    athenaToDuckDb("dt >= date_format(date_add('day', -7, current_date), '%Y-%m-%d')"),
    "dt >= strftime((current_date + INTERVAL (-7) DAY), '%Y-%m-%d')",
  );
  assert.equal(
    athenaToDuckDb('approx_percentile(duration_ms, 0.95)'),
    'quantile_disc(duration_ms, 0.95)',
  );
  const plain = "SELECT job_id, count(*) FROM run_records WHERE status = 'error' GROUP BY job_id";
  assert.equal(athenaToDuckDb(plain), plain);
});

test('named-queries.sql parses into named, described queries without trailing semicolons', () => {
  const queries = loadNamedQueries();
  assert.equal(new Set(queries.map((q) => q.name)).size, queries.length);
  for (const q of queries) {
    assert.ok(q.description.length > 10, q.name);
    assert.ok(!q.sql.endsWith(';') && !q.sql.includes('-- '), q.name);
  }
  assert.throws(() => parseNamedQueries('-- name: x\nSELECT 1;'), /description/);
});

test('table columns render as Glue and DuckDB types from the one definition', () => {
  const audit = EVIDENCE_TABLES.find((t) => t.name === 'audit_events')!;
  const actor = audit.columns.find((c) => c.name === 'actor')!;
  assert.equal(glueType(actor.type), 'struct<kind:string,id:string>');
  assert.equal(duckType(actor.type), 'STRUCT("kind" VARCHAR, "id" VARCHAR)');
  const manifests = EVIDENCE_TABLES.find((t) => t.name === 'manifests')!;
  assert.equal(
    glueType(manifests.columns.find((c) => c.name === 'objects')!.type),
    'array<struct<name:string,sha256:string,size:bigint,contenttype:string>>',
  );
});
