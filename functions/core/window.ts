import type { JobDefinition, Window } from '../../contracts';
import { isoSeconds } from './ids';
import {
  addDays,
  addMonths,
  instantOf,
  instantsOf,
  isoWeekStart,
  startOfDay,
  wallTimeAt,
  type CalendarDay,
} from './zoned';

const HOUR_MS = 3_600_000;

/**
 * The window a run covers, from its tick and the job's window policy (DST-correct in the job's
 * zone).
 */
export function runWindow(job: Pick<JobDefinition, 'window' | 'schedule'>, tick: Date): Window {
  const policy = job.window;
  if (policy.kind === 'tick')
    return {
      start: isoSeconds(tick),
      end: isoSeconds(new Date(tick.getTime() + policy.minutes * 60_000)),
    };
  if (policy.kind === 'trailing')
    return {
      start: isoSeconds(new Date(tick.getTime() - policy.minutes * 60_000)),
      end: isoSeconds(tick),
    };
  const zone = job.schedule.timezone;
  const at = tick.getTime();
  const wall = wallTimeAt(at, zone);
  const window = (start: number, end: number): Window => ({
    start: isoSeconds(new Date(start)),
    end: isoSeconds(new Date(end)),
  });
  if (policy.unit === 'hour') {
    // The tick's hour begins at the last hh:00 on the wall clock before it (of two in a fall-back
    // fold, the one of the tick's offset; in a gap, where the clock resumes); then whole hours.
    const top = { ...wall, minute: 0, second: 0 };
    const current =
      instantsOf(top, zone)
        .filter((t) => t <= at)
        .at(-1) ?? instantOf(top, zone);
    const start = current + policy.offset * HOUR_MS;
    return window(start, start + HOUR_MS);
  }
  // A day, ISO week (Monday 00:00) or month starts at midnight in the zone, however long it is.
  const today: CalendarDay = wall;
  const first =
    policy.unit === 'day'
      ? addDays(today, policy.offset)
      : policy.unit === 'iso_week'
        ? addDays(isoWeekStart(today), 7 * policy.offset)
        : addMonths(today, policy.offset);
  const next =
    policy.unit === 'day'
      ? addDays(first, 1)
      : policy.unit === 'iso_week'
        ? addDays(first, 7)
        : addMonths(first, 1);
  return window(startOfDay(first, zone), startOfDay(next, zone));
}
