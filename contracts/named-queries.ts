import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface NamedQuery {
  name: string;
  description: string;
  /** Athena (Trino) SQL, exactly as in named-queries.sql. */
  sql: string;
  /** The window every table is filtered by, in days back from today (the SQL's default). */
  windowDays: number;
}

/** How the SQL writes its window's start: `date_add('day', -N, current_date)`. */
const WINDOW = /date_add\('day',\s*-(\d+),\s*current_date\)/g;

export const NAMED_QUERIES_PATH = join(import.meta.dirname, 'named-queries.sql');

export function parseNamedQueries(text: string): NamedQuery[] {
  const queries: NamedQuery[] = [];
  for (const chunk of text.split(/^-- name: /m).slice(1)) {
    const [nameLine, ...rest] = chunk.split('\n');
    const descriptionLine = rest.find((l) => l.startsWith('-- description: '));
    if (!nameLine || !descriptionLine)
      throw new Error(`named query '${nameLine ?? '?'}' needs a "-- description:" line`);
    const sql = rest
      .filter((l) => !l.startsWith('--'))
      .join('\n')
      .trim()
      .replace(/;\s*$/, '');
    const name = nameLine.trim();
    const windows = new Set([...sql.matchAll(WINDOW)].map((m) => Number(m[1])));
    if (windows.size !== 1)
      throw new Error(
        `named query '${name}' needs one window, date_add('day', -N, current_date) with the same N wherever it filters dt (found ${[...windows].join(', ') || 'none'})`,
      );
    queries.push({
      name,
      description: descriptionLine.slice('-- description: '.length).trim(),
      sql,
      windowDays: [...windows][0] as number,
    });
  }
  return queries;
}

/** The query's SQL over another window (`opsrail query --named <name> --days N`). */
export function withWindowDays(query: NamedQuery, days: number): string {
  if (!Number.isInteger(days) || days < 1 || days > 36500)
    throw new RangeError(`--days must be a whole number of days from 1 to 36500 (got ${days})`);
  return query.sql.replace(WINDOW, `date_add('day', -${days}, current_date)`);
}

/** How the SQL writes the zone its days and weeks are taken in: `AT TIME ZONE 'UTC'`. */
const ZONE = /AT TIME ZONE '[^']*'/g;

/**
 * The query's SQL with its days and weeks in another IANA time zone (the stage's, for job_kpis);
 * a query without a zone is unchanged.
 */
export function withTimeZone(sql: string, zone: string): string {
  let known = /^[A-Za-z0-9_+\-/]+$/.test(zone);
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
  } catch {
    known = false;
  }
  if (!known) throw new RangeError(`zone: not an IANA time zone: '${zone}'`);
  return sql.replace(ZONE, `AT TIME ZONE '${zone}'`);
}

export const loadNamedQueries = (): NamedQuery[] =>
  parseNamedQueries(readFileSync(NAMED_QUERIES_PATH, 'utf8'));

/**
 * Athena (Trino) to DuckDB: the few functions the named queries use that the two dialects spell
 * differently. Kept small on purpose, and tested; anything else is written the same in both.
 */
export function athenaToDuckDb(sql: string): string {
  return sql
    .replace(/date_add\('day',\s*(-?\d+),\s*current_date\)/g, '(current_date + INTERVAL ($1) DAY)')
    .replace(/\bdate_format\(/g, 'strftime(')
    .replace(/\bapprox_percentile\(/g, 'quantile_disc(')
    .replace(/\bfrom_iso8601_timestamp\((\w+)\)/g, 'CAST($1 AS TIMESTAMPTZ)');
}
