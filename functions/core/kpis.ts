/**
 * The run KPIs (docs/observability.md#kpis): success rate, mean retries per run and p50/p95
 * duration, per job and for the whole stage, per day and per ISO week in a time zone. The one
 * definition behind the reports, the `job_kpis` dataset export, the `job_kpis` named query (which
 * a test holds equal to it) and the dashboard's KPI widgets. Pure: runs in, rows out.
 */
import type { RunStatus } from '../../contracts';
import { nearestRank } from './latency';
import type { RunItem } from './ports';
import { isoDate, isoWeekStart, isTimeZone, wallTimeAt } from './zoned';

/** What the KPIs read of one finished run: its run record's fields. */
export interface KpiRun {
  jobId: string;
  /** The run's tick (UTC, ISO 8601): the day and week it counts in. */
  scheduledTime: string;
  status: RunStatus | string;
  quality: string;
  /** `endedAt - startedAt` of the sealed outcome, never negative. */
  duration_ms: number;
  /** Executions of the job's logic (0 for a run refused before it ran). */
  attempts: number;
}

/**
 * A success: status `ok` or `dry_run` with quality `OK`, the run that counts as its job's success
 * (RunSucceeded, the dead-man's switch).
 */
export const isSuccess = (run: Pick<KpiRun, 'status' | 'quality'>): boolean =>
  (run.status === 'ok' || run.status === 'dry_run') && run.quality === 'OK';
/** A failure: status `error`. */
export const isFailure = (run: Pick<KpiRun, 'status'>): boolean => run.status === 'error';
/** Refused (kill switch, quarantine, approval, overlap): status `skipped`. */
export const isRefused = (run: Pick<KpiRun, 'status'>): boolean => run.status === 'skipped';
/** Retries of a run: its attempts after the first (RunRetries). */
export const runRetries = (attempts: number): number => Math.max(0, attempts - 1);
/** A run's duration from its sealed start and end. */
export const runDurationMs = (startedAt: string, endedAt: string): number =>
  Math.max(0, Date.parse(endedAt) - Date.parse(startedAt));

/** A finished (sealed) run item as the KPIs read it; undefined while the run is open. */
export function kpiRunOf(run: RunItem): KpiRun | undefined {
  const sealed = run.sealed;
  if (!sealed) return undefined;
  return {
    jobId: run.jobId,
    scheduledTime: run.scheduledTime,
    status: sealed.status,
    quality: sealed.quality,
    duration_ms: runDurationMs(sealed.startedAt, sealed.endedAt),
    attempts: sealed.attempts,
  };
}

/** The KPI figures of a set of runs. */
export interface KpiFigures {
  /** Finished runs, refused ones included. */
  runs: number;
  successes: number;
  failures: number;
  refused: number;
  /** Retries in all (sum of attempts after the first). */
  retries: number;
  /** successes / runs (0 for no runs), not rounded. */
  success_rate: number;
  /** retries / runs (0 for no runs), not rounded. */
  mean_retries: number;
  /** attempts / runs (0 for no runs), not rounded. */
  mean_attempts: number;
  /** Nearest-rank percentiles of duration_ms (0 for no runs). */
  p50_duration_ms: number;
  p95_duration_ms: number;
}

/** Success rate, retries and nearest-rank p50/p95 duration of `runs`. */
export function kpiFigures(runs: readonly KpiRun[]): KpiFigures {
  const n = runs.length;
  const durations = runs.map((r) => r.duration_ms).sort((a, b) => a - b);
  const successes = runs.filter(isSuccess).length;
  const retries = runs.reduce((s, r) => s + runRetries(r.attempts), 0);
  const attempts = runs.reduce((s, r) => s + r.attempts, 0);
  return {
    runs: n,
    successes,
    failures: runs.filter(isFailure).length,
    refused: runs.filter(isRefused).length,
    retries,
    success_rate: n === 0 ? 0 : successes / n,
    mean_retries: n === 0 ? 0 : retries / n,
    mean_attempts: n === 0 ? 0 : attempts / n,
    p50_duration_ms: nearestRank(durations, 0.5) ?? 0,
    p95_duration_ms: nearestRank(durations, 0.95) ?? 0,
  };
}

export type KpiGranularity = 'day' | 'week';

export interface KpiOptions {
  /** IANA time zone the days and weeks are taken in. */
  zone: string;
  granularity: KpiGranularity;
  /** Runs scheduled at or after this instant (UTC ISO 8601) … */
  from: string;
  /** … and before this one. */
  to: string;
}

/** One row: a job (or the whole stage) over one day or ISO week. */
export interface KpiRow extends KpiFigures {
  granularity: KpiGranularity;
  scope: 'job' | 'stage';
  /** The job, or null for the stage's row (every job). */
  job_id: string | null;
  /** The day, or the Monday of the ISO week, in the zone (YYYY-MM-DD). */
  period_start: string;
}

/** The day or ISO week (its Monday) `scheduledTime` falls in, in `zone`, as YYYY-MM-DD. */
export function periodStart(scheduledTime: string, zone: string, granularity: KpiGranularity) {
  const at = Date.parse(scheduledTime);
  if (Number.isNaN(at) || !isTimeZone(zone))
    throw new RangeError(`not a time in ${zone}: '${scheduledTime}'`);
  const day = wallTimeAt(at, zone);
  return isoDate(granularity === 'week' ? isoWeekStart(day) : day);
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Sorted like the named query: period, then the jobs' rows by job, then the stage's row. */
export function compareKpiRows(a: KpiRow, b: KpiRow): number {
  return (
    byText(a.granularity, b.granularity) ||
    byText(a.period_start, b.period_start) ||
    byText(a.scope, b.scope) ||
    byText(a.job_id ?? '', b.job_id ?? '')
  );
}

/**
 * KPIs of `runs` (finished or not; open ones are left out) scheduled in [from, to): one row per
 * job and period with a finished run, and one for the stage (every job) per such period.
 */
export function computeKpis(runs: readonly (RunItem | KpiRun)[], options: KpiOptions): KpiRow[] {
  if (!isTimeZone(options.zone))
    throw new RangeError(`zone: not an IANA time zone: '${options.zone}'`);
  const from = Date.parse(options.from);
  const to = Date.parse(options.to);
  if (Number.isNaN(from)) throw new RangeError(`from: not a time: '${options.from}'`);
  if (Number.isNaN(to)) throw new RangeError(`to: not a time: '${options.to}'`);
  const groups = new Map<string, { job_id: string | null; period_start: string; runs: KpiRun[] }>();
  const add = (job_id: string | null, period_start: string, run: KpiRun) => {
    const key = `${period_start}\u0000${job_id ?? ''}\u0000${job_id === null ? 's' : 'j'}`;
    const group = groups.get(key);
    if (group) group.runs.push(run);
    else groups.set(key, { job_id, period_start, runs: [run] });
  };
  for (const item of runs) {
    const run = 'phase' in item ? kpiRunOf(item) : item;
    if (!run) continue;
    const at = Date.parse(run.scheduledTime);
    if (at < from || at >= to) continue;
    const period = periodStart(run.scheduledTime, options.zone, options.granularity);
    add(run.jobId, period, run);
    add(null, period, run);
  }
  return [...groups.values()]
    .map(
      (g): KpiRow => ({
        granularity: options.granularity,
        scope: g.job_id === null ? 'stage' : 'job',
        job_id: g.job_id,
        period_start: g.period_start,
        ...kpiFigures(g.runs),
      }),
    )
    .sort(compareKpiRows);
}

const KPI_NUMBERS = [
  'runs',
  'successes',
  'failures',
  'refused',
  'retries',
  'success_rate',
  'mean_retries',
  'mean_attempts',
  'p50_duration_ms',
  'p95_duration_ms',
] as const satisfies readonly (keyof KpiFigures)[];

/**
 * The rows of the `job_kpis` named query as KPI rows. Athena answers every value as text and
 * DuckDB a BIGINT as text: numbers are read back as numbers, the stage's empty job id as null.
 */
export function kpiRowsOfQuery(rows: readonly Record<string, unknown>[]): KpiRow[] {
  return rows.map((r, i) => {
    const granularity = r.granularity;
    const scope = r.scope;
    if (granularity !== 'day' && granularity !== 'week')
      throw new RangeError(`row ${i}: granularity: '${String(granularity)}' is not day or week`);
    if (scope !== 'job' && scope !== 'stage')
      throw new RangeError(`row ${i}: scope: '${String(scope)}' is not job or stage`);
    const figures = Object.fromEntries(
      KPI_NUMBERS.map((k) => {
        const value = Number(r[k]);
        if (r[k] === null || r[k] === undefined || r[k] === '' || Number.isNaN(value))
          throw new RangeError(`row ${i}: ${k}: not a number: '${String(r[k])}'`);
        return [k, value];
      }),
    ) as unknown as KpiFigures;
    return {
      granularity,
      scope,
      job_id:
        r.job_id === null || r.job_id === undefined || r.job_id === '' ? null : String(r.job_id),
      period_start: String(r.period_start),
      ...figures,
    };
  });
}
