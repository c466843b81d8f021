import type { Stage } from '../../contracts';
import { evidencePrefix } from './ids';
import type { EvidenceReader } from './ports';

const DAY_MS = 86_400_000;

/**
 * The rows of one evidence table of a job (docs/evidence.md: one JSON object a line, under
 * `<job's prefix for the day>/<table>/`), for every UTC day from `from`'s up to, not including,
 * `to`. Rows come in key order; the caller filters and deduplicates.
 */
export async function evidenceTableRows<T>(
  evidence: EvidenceReader,
  stage: Stage,
  jobId: string,
  table: string,
  from: Date,
  to: Date,
): Promise<T[]> {
  const out: T[] = [];
  const first = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
  for (let day = first; day < to.getTime(); day += DAY_MS)
    for (const key of await evidence.list(
      `${evidencePrefix(stage, jobId, new Date(day))}${table}/`,
    )) {
      const text = new TextDecoder().decode((await evidence.getObject(key)) ?? new Uint8Array());
      for (const line of text.split('\n')) if (line.trim()) out.push(JSON.parse(line) as T);
    }
  return out;
}
