import type { Stage } from '../../contracts';
import { evidencePrefix } from './ids';
import type { EvidenceReader } from './ports';

const DAY_MS = 86_400_000;

/**
 * The UTC days a time range [fromMs, toMs) touches, each as its midnight: evidence is
 * partitioned by UTC day (`dt=`), so this is where a range's evidence lies.
 */
export function utcDays(fromMs: number, toMs: number): Date[] {
  const from = new Date(fromMs);
  const days: Date[] = [];
  const first = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
  for (let day = first; day < toMs; day += DAY_MS) days.push(new Date(day));
  return days;
}

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
  for (const day of utcDays(from.getTime(), to.getTime()))
    for (const key of await evidence.list(`${evidencePrefix(stage, jobId, day)}${table}/`)) {
      const text = new TextDecoder().decode((await evidence.getObject(key)) ?? new Uint8Array());
      for (const line of text.split('\n')) if (line.trim()) out.push(JSON.parse(line) as T);
    }
  return out;
}
