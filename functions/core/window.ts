import { DateTime } from 'luxon';
import type { JobDefinition, Window } from '../../contracts';
import { isoSeconds } from './ids';

const LUXON_UNIT = { hour: 'hour', day: 'day', iso_week: 'week', month: 'month' } as const;

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
  const unit = LUXON_UNIT[policy.unit];
  // luxon's startOf('week') is the ISO week: Monday 00:00 in the zone.
  const current = DateTime.fromJSDate(tick, { zone: job.schedule.timezone }).startOf(unit);
  const start = current.plus({ [`${unit}s`]: policy.offset });
  const end = start.plus({ [`${unit}s`]: 1 });
  return { start: isoSeconds(start.toJSDate()), end: isoSeconds(end.toJSDate()) };
}
