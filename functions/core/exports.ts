import type { ExportDataset, Stage } from '../../contracts';
import { kpiFigures, runDurationMs } from './kpis';
import type { RunItem } from './ports';

/**
 * Where `dataset_export` writes (docs/exports.md#layout): under the stage, beside the run bundles and
 * never inside one, so every export's key follows from its dataset and sequence alone.
 */
export const exportsPrefix = (stage: Stage): string => `stage=${stage}/exports/`;
export const datasetPrefix = (stage: Stage, dataset: ExportDataset): string =>
  `${exportsPrefix(stage)}dataset=${dataset}/`;

const seq = (sequence: number): string => `seq=${String(sequence).padStart(8, '0')}`;

export const exportManifestKey = (stage: Stage, dataset: ExportDataset, sequence: number): string =>
  `${datasetPrefix(stage, dataset)}manifest/${seq(sequence)}.json`;
export const exportArchiveKey = (stage: Stage, dataset: ExportDataset, sequence: number): string =>
  `${datasetPrefix(stage, dataset)}archive/${seq(sequence)}.json`;
export const exportFileKey = (
  stage: Stage,
  dataset: ExportDataset,
  sequence: number,
  format: 'jsonl' | 'csv',
): string => `${datasetPrefix(stage, dataset)}data/${seq(sequence)}/${dataset}.${format}`;
/** The key of a copy under the user's prefix: `<prefix><dataset>/seq=…/<dataset>.<format>`. */
export const exportCopyKey = (
  prefix: string,
  dataset: ExportDataset,
  sequence: number,
  format: 'jsonl' | 'csv',
): string => `${prefix}${dataset}/${seq(sequence)}/${dataset}.${format}`;

/** `…/dataset=D/manifest/seq=00000003.json` → { dataset: D, sequence: 3 }. */
export function parseExportManifestKey(
  key: string,
): { dataset: string; sequence: number } | undefined {
  const match = /\/exports\/dataset=([^/]+)\/manifest\/seq=(\d{8})\.json$/.exec(key);
  return match ? { dataset: match[1]!, sequence: Number(match[2]) } : undefined;
}

/** One row of the run_records dataset: a finished run, as the state table sealed it. */
export interface RunRecordRow {
  jobRunId: string;
  jobId: string;
  jobVersion: string;
  scheduledTime: string;
  trigger: string;
  status: string;
  quality: string;
  startedAt: string;
  endedAt: string;
  duration_ms: number;
  attempts: number;
  error_kind: string | null;
}

export const RUN_RECORD_COLUMNS = [
  'jobRunId',
  'jobId',
  'jobVersion',
  'scheduledTime',
  'trigger',
  'status',
  'quality',
  'startedAt',
  'endedAt',
  'duration_ms',
  'attempts',
  'error_kind',
] as const satisfies readonly (keyof RunRecordRow)[];

/** One row of the job_kpis dataset: one job over the export window. */
export interface JobKpiRow {
  jobId: string;
  window_start: string;
  window_end: string;
  runs: number;
  succeeded: number;
  failed: number;
  skipped: number;
  /** succeeded / runs (docs/observability.md#kpis: ok or dry_run with quality OK). */
  success_rate: number;
  mean_attempts: number;
  p50_duration_ms: number;
  p95_duration_ms: number;
}

export const JOB_KPI_COLUMNS = [
  'jobId',
  'window_start',
  'window_end',
  'runs',
  'succeeded',
  'failed',
  'skipped',
  'success_rate',
  'mean_attempts',
  'p50_duration_ms',
  'p95_duration_ms',
] as const satisfies readonly (keyof JobKpiRow)[];

/**
 * The runs an export of `window` reads: scheduled inside it and sealed (their outcome fixed) no later
 * than `asOf`, the exporting run's claim time. Both are pinned for the run, and a sealed outcome never
 * changes, so every attempt of the run reads the same rows (docs/exports.md#inputs).
 */
export function runRecordRows(
  runs: readonly RunItem[],
  window: { start: string; end: string },
  asOf: string,
): RunRecordRow[] {
  const asOfMs = Date.parse(asOf);
  return runs
    .flatMap((run): RunRecordRow[] => {
      const sealed = run.sealed;
      if (!sealed) return [];
      const scheduled = Date.parse(run.scheduledTime);
      if (scheduled < Date.parse(window.start) || scheduled >= Date.parse(window.end)) return [];
      if (Date.parse(sealed.endedAt) > asOfMs) return [];
      return [
        {
          jobRunId: run.jobRunId,
          jobId: run.jobId,
          jobVersion: run.jobVersion,
          scheduledTime: run.scheduledTime,
          trigger: run.trigger,
          status: sealed.status,
          quality: sealed.quality,
          startedAt: sealed.startedAt,
          endedAt: sealed.endedAt,
          duration_ms: runDurationMs(sealed.startedAt, sealed.endedAt),
          attempts: sealed.attempts,
          error_kind: sealed.error?.kind ?? null,
        },
      ];
    })
    .sort((a, b) => (a.jobRunId < b.jobRunId ? -1 : a.jobRunId > b.jobRunId ? 1 : 0));
}

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

/**
 * Per job: runs, outcomes, success rate, mean attempts, p50/p95 duration, in jobId order: the KPI
 * figures (functions/core/kpis.ts, docs/observability.md#kpis) of the job's runs in the window,
 * rates rounded to 6 decimals.
 */
export function jobKpiRows(
  rows: readonly RunRecordRow[],
  window: { start: string; end: string },
): JobKpiRow[] {
  const byJob = new Map<string, RunRecordRow[]>();
  for (const row of rows) byJob.set(row.jobId, [...(byJob.get(row.jobId) ?? []), row]);
  return [...byJob.keys()].sort().map((jobId) => {
    const kpis = kpiFigures(byJob.get(jobId)!);
    return {
      jobId,
      window_start: window.start,
      window_end: window.end,
      runs: kpis.runs,
      succeeded: kpis.successes,
      failed: kpis.failures,
      skipped: kpis.refused,
      success_rate: round6(kpis.success_rate),
      mean_attempts: round6(kpis.mean_attempts),
      p50_duration_ms: kpis.p50_duration_ms,
      p95_duration_ms: kpis.p95_duration_ms,
    };
  });
}

/**
 * One row of the latency_rollups dataset: one endpoint's completed UTC hour, as the latency monitor
 * rolled it up (its `latency_rollups` evidence table, docs/latency-slo.md#where-the-numbers-are-kept).
 */
export interface LatencyRollupRow {
  hour: string;
  endpoint: string;
  count: number;
  failures: number;
  p50_ms: number | null;
  p95_ms: number | null;
  threshold_ms: number;
  breach: boolean;
  /** The monitor run that rolled the hour up. */
  jobRunId: string;
}

export const LATENCY_ROLLUP_COLUMNS = [
  'hour',
  'endpoint',
  'count',
  'failures',
  'p50_ms',
  'p95_ms',
  'threshold_ms',
  'breach',
  'jobRunId',
] as const satisfies readonly (keyof LatencyRollupRow)[];

/**
 * The roll-ups an export of `window` reads (docs/exports.md#inputs): hours that start inside the
 * window, written by a run in `sealedRuns` (the monitor runs sealed no later than the export's
 * claim), one row per endpoint and hour (a takeover writes the same row again; should two runs have
 * rolled up one hour, the first by jobRunId stands), in hour then endpoint order.
 */
export function latencyRollupRows(
  stored: readonly LatencyRollupRow[],
  window: { start: string; end: string },
  sealedRuns: ReadonlySet<string>,
): LatencyRollupRow[] {
  const start = Date.parse(window.start);
  const end = Date.parse(window.end);
  const byHour = new Map<string, LatencyRollupRow>();
  for (const row of stored) {
    const hour = Date.parse(row.hour);
    if (!(hour >= start && hour < end) || !sealedRuns.has(row.jobRunId)) continue;
    const key = `${row.hour}\u0000${row.endpoint}`;
    const kept = byHour.get(key);
    if (!kept || row.jobRunId < kept.jobRunId)
      // Only the columns: a row written by a later monitor version may carry more.
      byHour.set(key, {
        hour: row.hour,
        endpoint: row.endpoint,
        count: row.count,
        failures: row.failures,
        p50_ms: row.p50_ms,
        p95_ms: row.p95_ms,
        threshold_ms: row.threshold_ms,
        breach: row.breach,
        jobRunId: row.jobRunId,
      });
  }
  return [...byHour.values()].sort((a, b) =>
    a.hour !== b.hour ? (a.hour < b.hour ? -1 : 1) : a.endpoint < b.endpoint ? -1 : 1,
  );
}

/** JSON Lines: one object a line, keys in column order, a newline after each (empty: no bytes). */
export function toJsonLines<T extends object>(rows: readonly T[], columns: readonly (keyof T)[]) {
  return rows
    .map((row) => `${JSON.stringify(Object.fromEntries(columns.map((c) => [c, row[c]])))}\n`)
    .join('');
}

const csvField = (value: unknown): string => {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/** CSV (RFC 4180 quoting, `\n` line ends): a header line of the columns, then one line a row. */
export function toCsv<T extends object>(rows: readonly T[], columns: readonly (keyof T)[]) {
  return [columns.join(','), ...rows.map((row) => columns.map((c) => csvField(row[c])).join(','))]
    .map((line) => `${line}\n`)
    .join('');
}
