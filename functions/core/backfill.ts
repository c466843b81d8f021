import type { JobDefinition, Window } from '../../contracts';
import { ValidationError } from './errors';
import { deriveJobRunId, isoSeconds, tickOf } from './ids';
import { scheduledTimes } from './schedule';
import { runWindow } from './window';

/** One window `opsrail backfill` runs: the first tick of the schedule that falls in it. */
export interface BackfillWindow {
  scheduledTime: string;
  jobRunId: string;
  window: Window;
}

/** Ticks looked at, at most, however large the range: a bound on the work of planning itself. */
const MAX_TICKS_SCANNED = 100_000;

/**
 * The windows of the job's schedule in [from, to], oldest first (docs/scheduling.md#backfill): one
 * per window, so two ticks of one calendar window are one run, as Preflight would make them. Ticks
 * after `now` are left out (their inputs do not exist yet). More than `maxWindows` windows is an
 * error naming the bound, raised before anything runs.
 */
export function planBackfill(
  job: Pick<JobDefinition, 'jobId' | 'schedule' | 'window'>,
  bounds: { from: Date; to: Date; now: Date },
  maxWindows: number,
): BackfillWindow[] {
  const { from, to, now } = bounds;
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from > to)
    throw new ValidationError('backfill', [
      { path: '--from/--to', message: '--from must be a time at or before --to' },
    ]);
  const until = new Date(Math.min(to.getTime(), now.getTime()));
  // scheduledTimes counts strictly after its start: one millisecond before `from` includes it.
  const ticks = scheduledTimes(
    job.schedule,
    new Date(from.getTime() - 1),
    until,
    MAX_TICKS_SCANNED,
  );
  const windows = new Map<string, BackfillWindow>();
  for (const at of ticks) {
    const tick = tickOf(at);
    const window = runWindow(job, tick);
    const jobRunId = deriveJobRunId(job.jobId, new Date(window.start));
    if (!windows.has(jobRunId))
      windows.set(jobRunId, { scheduledTime: isoSeconds(tick), jobRunId, window });
  }
  if (windows.size > maxWindows || ticks.length === MAX_TICKS_SCANNED) {
    const count = ticks.length === MAX_TICKS_SCANNED ? `more than ${windows.size}` : windows.size;
    throw new ValidationError('backfill', [
      {
        path: '--from/--to',
        message: `${count} windows of ${job.jobId} between ${isoSeconds(from)} and ${isoSeconds(until)}; at most scheduler.backfillMaxWindows = ${maxWindows} run at once (nothing was run; narrow the range or raise the bound in the stage policy)`,
      },
    ]);
  }
  return [...windows.values()];
}
