import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface NamedQuery {
  name: string;
  description: string;
  /** Athena (Trino) SQL, exactly as in named-queries.sql. */
  sql: string;
}

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
    queries.push({
      name: nameLine.trim(),
      description: descriptionLine.slice('-- description: '.length).trim(),
      sql,
    });
  }
  return queries;
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
    .replace(/\bapprox_percentile\(/g, 'quantile_disc(');
}
