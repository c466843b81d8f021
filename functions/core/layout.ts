/**
 * Where each object of a run's bundle lives. Under the run's Hive partition prefix
 * (stage=…/dt=…/job_id=…/) every kind has a folder of its own, one object per run, so each kind is
 * an Athena table (partition projection over stage, dt and job_id) and a DuckDB glob, with nothing
 * else mixed in. Every JSON object is written on one line: Athena's JSON SerDe reads a record per
 * line.
 */
export const EVIDENCE_KINDS = [
  'manifest',
  'audit',
  'replay_pointers',
  'integrity_report',
  'run_record',
  'lineage',
  'gate_results',
  'notifications',
  // A failed run's audit ticket and its Markdown (docs/evidence.md#tickets): two folders, so the
  // ticket table reads JSON only.
  'ticket',
  'ticket_md',
] as const;
export type EvidenceKind = (typeof EVIDENCE_KINDS)[number];

/**
 * Tables a job may write rows to, besides its plain outputs (e.g. the schedule ledger's expected
 * ticks).
 */
export const OUTPUT_TABLES = [
  'expected_ticks',
  'latency_samples',
  'latency_rollups',
  'latency_alerts',
] as const;
export type OutputTable = (typeof OUTPUT_TABLES)[number];

const compact = (iso: string): string => iso.replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');

/** `run=20260101T000000Z`: the run's window start. */
export const runStamp = (windowStart: string): string => `run=${compact(windowStart)}`;

export function objectName(kind: EvidenceKind, windowStart: string): string {
  const extension = kind === 'audit' ? 'jsonl' : kind === 'ticket_md' ? 'md' : 'json';
  return `${kind}/${runStamp(windowStart)}.${extension}`;
}

export function outputName(windowStart: string, name: string, table?: OutputTable): string {
  return table
    ? `${table}/${runStamp(windowStart)}.jsonl`
    : `outputs/${runStamp(windowStart)}/${name}`;
}
