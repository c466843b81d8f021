import type { ReportPeriod, Window } from '../../../contracts';
import { isFailure, isRefused, isSuccess } from '../kpis';
import type { RunItem, SealedOutcome } from '../ports';
import { addDays, instantOf, isoDate, isoWeekOf, wallTimeAt } from '../zoned';

/**
 * What the reports share (docs/reports.md): the period a run covers, and which runs it reads.
 */

/** A report's period: its run's calendar window, labelled in the job's time zone. */
export function reportPeriod(kind: 'day' | 'week', window: Window, zone: string): ReportPeriod {
  const start = wallTimeAt(Date.parse(window.start), zone);
  const week = isoWeekOf(start);
  return {
    kind,
    label: kind === 'day' ? isoDate(start) : `${week.year}-W${String(week.week).padStart(2, '0')}`,
    start: window.start,
    end: window.end,
    zone,
  };
}

/** The period before this one (the previous day or ISO week in the same zone), as UTC. */
export function previousPeriod(period: ReportPeriod): { start: string; end: string } {
  // The same wall time a day or a week earlier (a day across a DST change is 23 or 25 hours).
  const start = wallTimeAt(Date.parse(period.start), period.zone);
  const before = { ...start, ...addDays(start, period.kind === 'day' ? -1 : -7) };
  return { start: new Date(instantOf(before, period.zone)).toISOString(), end: period.start };
}

export type SealedRun = RunItem & { sealed: SealedOutcome };

/**
 * The runs a report of `window` reads: scheduled inside it and sealed (their outcome fixed) no
 * later than `asOf`, the report run's claim time. Both are pinned for the run and a sealed outcome
 * never changes, so a re-run or a takeover of the report reads the same runs
 * (docs/reports.md#inputs). In scheduled-time order, then by job.
 */
export function sealedRunsIn(
  runs: readonly RunItem[],
  window: { start: string; end: string },
  asOf: string,
): SealedRun[] {
  const from = Date.parse(window.start);
  const to = Date.parse(window.end);
  const asOfMs = Date.parse(asOf);
  return runs
    .filter((run): run is SealedRun => {
      if (!run.sealed) return false;
      const at = Date.parse(run.scheduledTime);
      return at >= from && at < to && Date.parse(run.sealed.endedAt) <= asOfMs;
    })
    .sort((a, b) =>
      a.scheduledTime !== b.scheduledTime
        ? a.scheduledTime < b.scheduledTime
          ? -1
          : 1
        : a.jobRunId < b.jobRunId
          ? -1
          : 1,
    );
}

export type RunOutcome = 'succeeded' | 'failed' | 'refused' | 'degraded';

/**
 * The KPI module's classes (functions/core/kpis.ts, docs/observability.md#kpis): a success, a
 * failure (status error), refused (status skipped: the job never ran), or degraded (completed with
 * quality DEGRADED or UNKNOWN: neither a success nor a failure).
 */
export function outcomeOf(run: SealedRun): RunOutcome {
  const sealed = run.sealed;
  if (isSuccess(sealed)) return 'succeeded';
  if (isFailure(sealed)) return 'failed';
  return isRefused(sealed) ? 'refused' : 'degraded';
}

export const percent = (rate: number | null): string =>
  rate === null ? '-' : `${(Math.round(rate * 1000) / 10).toFixed(1)}%`;
