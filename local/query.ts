import { DuckDBInstance } from '@duckdb/node-api';
import { globSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { duckType, EVIDENCE_TABLES, type EvidenceTable } from '../contracts/query-tables';
import {
  athenaToDuckDb,
  loadNamedQueries,
  withTimeZone,
  withWindowDays,
} from '../contracts/named-queries';
import type { EvidenceReader } from '../functions/core/ports';
import { ValidationError } from '../functions/core/errors';

export type Row = Record<string, unknown>;

/**
 * Copies the stage's queryable evidence (not the raw outputs) out of the local S3 endpoint into a
 * folder.
 */
export async function mirrorEvidence(
  evidence: EvidenceReader,
  stage: string,
  into = mkdtempSync(join(tmpdir(), 'opsrail-query-')),
): Promise<string> {
  const folders = new Set(EVIDENCE_TABLES.map((t) => t.folder));
  for (const key of await evidence.list(`stage=${stage}/`)) {
    const folder = key.split('/').at(-2) ?? '';
    if (!folders.has(folder)) continue;
    const body = await evidence.getObject(key);
    if (!body) continue;
    mkdirSync(dirname(join(into, key)), { recursive: true });
    writeFileSync(join(into, key), body);
  }
  return into;
}

function tableSql(root: string, table: EvidenceTable): string {
  const pattern =
    table.partitions === 'job'
      ? `stage=*/dt=*/job_id=*/${table.folder}/*.${table.extension}`
      : `stage=*/dt=*/${table.folder}/*.${table.extension}`;
  const partitionColumns = table.partitions === 'job' ? ['stage', 'dt', 'job_id'] : ['stage', 'dt'];
  const select = [
    ...table.columns.map((c) =>
      c.json === 'details' ? `CAST("details" AS VARCHAR) AS details` : `"${c.json}" AS "${c.name}"`,
    ),
    ...partitionColumns,
  ].join(', ');
  if (globSync(pattern, { cwd: root }).length === 0) {
    // No evidence of this kind yet: an empty table with the same columns.
    const columns = [
      ...table.columns.map((c) => `"${c.name}" ${duckType(c.type)}`),
      ...partitionColumns.map((p) => `${p} VARCHAR`),
    ].join(', ');
    return `CREATE TABLE ${table.name} (${columns})`;
  }
  const jsonColumns = table.columns
    .map((c) => `"${c.json}": '${c.json === 'details' ? 'JSON' : duckType(c.type)}'`)
    .join(', ');
  const hiveTypes = partitionColumns.map((p) => `'${p}': 'VARCHAR'`).join(', ');
  return `CREATE VIEW ${table.name} AS SELECT ${select} FROM read_json('${join(root, pattern).replace(/'/g, "''")}', format = 'newline_delimited', columns = {${jsonColumns}}, hive_partitioning = true, hive_types = {${hiveTypes}})`;
}

/**
 * The same tables, columns and named queries as Athena, over a folder laid out like the evidence
 * bucket, with DuckDB. `sql` is DuckDB SQL; named queries are translated from their Athena text.
 */
export async function queryEvidence(root: string, sql: string): Promise<Row[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    for (const table of EVIDENCE_TABLES) await connection.run(tableSql(root, table));
    const reader = await connection.runAndReadAll(sql).catch((error: unknown) => {
      throw sqlError(error);
    });
    return reader.getRowObjectsJson() as Row[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/**
 * DuckDB's answer to SQL that cannot run as written (syntax, names, types) is bad input, not a
 * failure.
 */
const SQL_INPUT_ERROR =
  /^(?:Failed to extract statements: )?((?:Parser|Binder|Catalog|Conversion|Not implemented) Error: [^\n]*)/;

function sqlError(error: unknown): unknown {
  const match = SQL_INPUT_ERROR.exec((error as Error)?.message ?? '');
  return match
    ? new ValidationError('query', [{ path: 'sql', message: match[1] as string }], { cause: error })
    : error;
}

/**
 * Parses `sql` without running it (no tables needed), so SQL that cannot parse is refused before
 * the stack starts.
 */
export async function checkSqlSyntax(sql: string): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.extractStatements(sql).catch((error: unknown) => {
      throw sqlError(error);
    });
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/**
 * A named query over the folder: over `days` instead of its default window, and with its days and
 * weeks in `zone` instead of UTC (job_kpis; withTimeZone).
 */
export async function runNamedQuery(
  root: string,
  name: string,
  days?: number,
  zone?: string,
): Promise<Row[]> {
  const query = loadNamedQueries().find((q) => q.name === name);
  if (!query)
    throw new Error(
      `no named query '${name}'; known: ${loadNamedQueries()
        .map((q) => q.name)
        .join(', ')}`,
    );
  const sql = days === undefined ? query.sql : withWindowDays(query, days);
  return queryEvidence(root, athenaToDuckDb(zone === undefined ? sql : withTimeZone(sql, zone)));
}
