import assert from 'node:assert/strict';
import { test } from 'vitest';
import {
  athenaToDuckDb,
  loadNamedQueries,
  parseNamedQueries,
  withTimeZone,
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
  assert.equal(
    athenaToDuckDb("CAST(from_iso8601_timestamp(scheduledtime) AT TIME ZONE 'UTC' AS date)"),
    "CAST(CAST(scheduledtime AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS date)",
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
 * The rest of the SELECT whose FROM ends at `from`: up to the parenthesis that closes it (a WITH's
 * query, a subquery) or the next UNION, or the end.
 */
function selectScope(sql: string, from: number): string {
  let depth = 0;
  for (let i = from; i < sql.length; i++) {
    if (sql[i] === '(') depth++;
    else if (sql[i] === ')' && depth-- === 0) return sql.slice(from, i);
    else if (depth === 0 && /^\bUNION\b/i.test(sql.slice(i, i + 6)) && /\W/.test(sql[i - 1] ?? ' '))
      return sql.slice(from, i);
  }
  return sql.slice(from);
}

/**
 * The tables a query reads (FROM and JOIN, with their aliases) that are not filtered on their `dt`
 * partition by the query's window: what would make Athena list every partition. A name the query
 * defines itself (`WITH name AS (…)`) is not a table; the tables it reads are checked where it
 * reads them.
 */
function unprunedTables(sql: string, windowDays: number): string[] {
  const keywords = new Set([
    'WHERE',
    'ON',
    'LEFT',
    'RIGHT',
    'INNER',
    'JOIN',
    'GROUP',
    'ORDER',
    'UNION',
  ]);
  const defined = new Set([...sql.matchAll(/(?:\bWITH|,)\s+(\w+)\s+AS\s*\(/gi)].map((m) => m[1]));
  const tables = [...sql.matchAll(/\b(?:FROM|JOIN)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?/gi)]
    .filter((m) => !defined.has(m[1]))
    .map((m) => ({
      table: m[1] as string,
      alias: m[2] && !keywords.has(m[2].toUpperCase()) ? m[2] : undefined,
      scope: selectScope(sql, (m.index ?? 0) + m[0].length),
    }));
  const bound = `date_format(date_add('day', -${windowDays}, current_date), '%Y-%m-%d')`;
  return tables
    .filter(({ alias, scope }) =>
      alias
        ? !sql.includes(`${alias}.dt >= ${bound}`)
        : !new RegExp(`(^|[^.\\w])dt >= ${bound.replace(/[()%,.'-]/g, '\\$&')}`).test(scope),
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
  // … and a WITH whose table is unfiltered, though the outer query filters another.
  const [cte] = parseNamedQueries(
    "-- name: c\n-- description: a WITH over an unfiltered table\nWITH runs AS (SELECT * FROM run_records) SELECT 1 FROM runs UNION ALL SELECT 1 FROM audit_events WHERE dt >= date_format(date_add('day', -7, current_date), '%Y-%m-%d')",
  );
  assert.deepEqual(unprunedTables(cte!.sql, cte!.windowDays), ['run_records']);
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

test('withTimeZone sets the zone of job_kpis, refuses what is not an IANA zone, leaves others', () => {
  // Prepare
  const queries = loadNamedQueries();
  const kpis = queries.find((q) => q.name === 'job_kpis')!;
  // Act
  const tokyo = withTimeZone(kpis.sql, 'Asia/Tokyo');
  // Assess
  assert.match(kpis.sql, /AT TIME ZONE 'UTC'/);
  assert.equal(tokyo, kpis.sql.replace("AT TIME ZONE 'UTC'", "AT TIME ZONE 'Asia/Tokyo'"));
  assert.throws(() => withTimeZone(kpis.sql, 'Mars/Olympus'), /^RangeError: zone: /);
  assert.throws(() => withTimeZone(kpis.sql, "UTC' OR '1"), /^RangeError: zone: /);
  const failures = queries.find((q) => q.name === 'failures_by_job')!;
  assert.equal(withTimeZone(failures.sql, 'Asia/Tokyo'), failures.sql);
});
