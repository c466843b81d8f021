import assert from 'node:assert/strict';
import { test } from 'vitest';
import {
  athenaToDuckDb,
  loadNamedQueries,
  parseNamedQueries,
  withWindowDays,
} from '../../contracts/named-queries';
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

/**
 * The tables a query reads (FROM and JOIN, with their aliases) that are not filtered on their `dt`
 * partition by the query's window: what would make Athena list every partition.
 */
function unprunedTables(sql: string, windowDays: number): string[] {
  const keywords = new Set(['WHERE', 'ON', 'LEFT', 'RIGHT', 'INNER', 'JOIN', 'GROUP', 'ORDER']);
  const tables = [...sql.matchAll(/\b(?:FROM|JOIN)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?/gi)].map((m) => ({
    table: m[1] as string,
    alias: m[2] && !keywords.has(m[2].toUpperCase()) ? m[2] : undefined,
  }));
  const bound = `date_format(date_add('day', -${windowDays}, current_date), '%Y-%m-%d')`;
  return tables
    .filter(({ alias }) =>
      alias
        ? !sql.includes(`${alias}.dt >= ${bound}`)
        : !new RegExp(`(^|[^.\\w])dt >= ${bound.replace(/[()%,.'-]/g, '\\$&')}`).test(sql),
    )
    .map(({ table, alias }) => (alias ? `${table} ${alias}` : table));
}

test('every named query filters every table it reads on dt by its window (partition pruning)', () => {
  // Prepare
  const queries = loadNamedQueries();

  // Act / Assess: the file's queries, each table filtered.
  assert.ok(queries.length >= 6);
  for (const q of queries) assert.deepEqual(unprunedTables(q.sql, q.windowDays), [], q.name);
  // The check can fail: a join whose right side has no dt filter, a query with none.
  const [joined] = parseNamedQueries(
    "-- name: j\n-- description: a join, one side unfiltered\nSELECT 1 FROM expected_ticks e LEFT JOIN run_records r ON r.jobrunid = e.jobrunid WHERE e.dt >= date_format(date_add('day', -30, current_date), '%Y-%m-%d')",
  );
  assert.deepEqual(unprunedTables(joined!.sql, joined!.windowDays), ['run_records r']);
  assert.throws(
    () =>
      parseNamedQueries(
        "-- name: n\n-- description: no window at all\nSELECT 1 FROM audit_events WHERE type = 'x'",
      ),
    /needs one window.*found none/,
  );
  assert.throws(
    () =>
      parseNamedQueries(
        "-- name: two\n-- description: two windows\nSELECT 1 FROM a WHERE dt >= date_format(date_add('day', -7, current_date), '%Y-%m-%d') AND dt >= date_format(date_add('day', -8, current_date), '%Y-%m-%d')",
      ),
    /found 7, 8/,
  );
});

test('--days sets every window of a query, within 1..36500 whole days', () => {
  const missed = loadNamedQueries().find((q) => q.name === 'missed_ticks')!;
  assert.equal(missed.windowDays, 30);
  const wider = withWindowDays(missed, 120);
  assert.equal(
    parseNamedQueries(`-- name: w\n-- description: wider window\n${wider}`)[0]!.windowDays,
    120,
  );
  assert.equal(wider.match(/-120, current_date/g)?.length, 3);
  assert.throws(() => withWindowDays(missed, 0), RangeError);
  assert.throws(() => withWindowDays(missed, 1.5), RangeError);
});
