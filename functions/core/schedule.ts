import { parseScheduleExpression, type ParsedSchedule } from '../../contracts/schedule';
import type { JobSchedule } from '../../contracts';
import {
  addDays,
  compareDays,
  daysInMonth,
  instantOf,
  instantsOf,
  isoInZone,
  isoWeekday,
  wallTimeAt,
  type CalendarDay,
} from './zoned';

type Cron = Extract<ParsedSchedule, { kind: 'cron' }>;

/** AWS numbers days of the week 1=SUN … 7=SAT; ISO 1=MON … 7=SUN. */
const awsWeekday = (d: CalendarDay): number => (isoWeekday(d) % 7) + 1;

function nearestWeekday(year: number, month: number, day: number): number | null {
  const days = daysInMonth(year, month);
  if (day > days) return null;
  const weekday = isoWeekday({ year, month, day });
  if (weekday <= 5) return day;
  if (weekday === 6) return day === 1 ? 3 : day - 1; // Saturday → Friday, unless that leaves the month
  return day === days ? day - 2 : day + 1; // Sunday → Monday, unless that leaves the month
}

/** Whether a cron's day fields (year, month, day-of-month, day-of-week) take this local day. */
export function dayMatches(cron: Cron, date: CalendarDay): boolean {
  if (!cron.years.any && !cron.years.values.includes(date.year)) return false;
  if (!cron.months.includes(date.month)) return false;
  const days = daysInMonth(date.year, date.month);
  const dom = cron.dayOfMonth;
  if (!dom.any) {
    if (dom.last) {
      if (date.day !== days) return false;
    } else if (dom.nearestWeekday !== null) {
      if (date.day !== nearestWeekday(date.year, date.month, dom.nearestWeekday)) return false;
    } else if (!dom.values.includes(date.day)) return false;
  }
  const dow = cron.dayOfWeek;
  if (!dow.any) {
    const wd = awsWeekday(date);
    if (dow.lastOf !== null) {
      if (wd !== dow.lastOf || date.day + 7 <= days) return false;
    } else if (dow.nth !== null) {
      if (wd !== dow.nth.day || Math.ceil(date.day / 7) !== dow.nth.k) return false;
    } else if (!dow.values.includes(wd)) return false;
  }
  return true;
}

/**
 * Scheduled instants strictly after `after` and at or before `until`, at most `limit` of them.
 * Daylight saving time follows EventBridge Scheduler: a local time that does not exist (spring
 * forward) is skipped; a local time that happens twice (fall back) runs once, at its first
 * occurrence. rate(…) ticks are anchored at the Unix epoch: multiples of the rate since
 * 1970-01-01T00:00:00Z, an anchor that survives restarts; in AWS the schedule's StartDate is set on
 * that grid (rateTickAtOrAfter, docs/scheduling.md#rate-anchor).
 */
export function scheduledTimes(
  schedule: JobSchedule,
  after: Date,
  until: Date,
  limit: number,
): Date[] {
  const parsed = parseScheduleExpression(schedule.expression);
  const zone = schedule.timezone;
  const out: Date[] = [];
  if (parsed.kind === 'rate') {
    const step = parsed.minutes * 60_000;
    for (
      let t = Math.floor(after.getTime() / step) * step + step;
      t <= until.getTime() && out.length < limit;
      t += step
    )
      out.push(new Date(t));
    return out;
  }
  if (parsed.kind === 'at') {
    const [date, time] = parsed.localDateTime.split('T') as [string, string];
    const [year, month, day] = date.split('-').map(Number) as [number, number, number];
    const [hour, minute, second] = time.split(':').map(Number) as [number, number, number];
    const at = instantOf({ year, month, day, hour, minute, second }, zone);
    if (at > after.getTime() && at <= until.getTime()) out.push(new Date(at));
    return out;
  }
  const lastDay = wallTimeAt(until.getTime(), zone);
  for (
    let day: CalendarDay = wallTimeAt(after.getTime(), zone);
    compareDays(day, lastDay) <= 0 && out.length < limit;
    day = addDays(day, 1)
  ) {
    if (!dayMatches(parsed, day)) continue;
    for (const hour of parsed.hours) {
      for (const minute of parsed.minutes) {
        // None: the wall time does not exist (spring-forward gap); two: it happens twice (fall
        // back), and runs at the first.
        const [t] = instantsOf({ ...day, hour, minute, second: 0 }, zone);
        if (t === undefined) continue;
        if (t > after.getTime() && t <= until.getTime()) out.push(new Date(t));
        if (out.length >= limit) return out.sort((a, b) => a.getTime() - b.getTime());
      }
    }
  }
  return out.sort((a, b) => a.getTime() - b.getTime());
}

/**
 * The first tick of a rate of `minutes` at or after `notBefore`, on the grid the local scheduler
 * uses (multiples of the rate since the Unix epoch).
 */
export function rateTickAtOrAfter(minutes: number, notBefore: Date): Date {
  const step = minutes * 60_000;
  return new Date(Math.ceil(notBefore.getTime() / step) * step);
}

const TEN_YEARS_MS = 10 * 366 * 86_400_000;

export function nextRunTimes(schedule: JobSchedule, after: Date, count: number): Date[] {
  return scheduledTimes(schedule, after, new Date(after.getTime() + TEN_YEARS_MS), count);
}

/** Formats an instant in the schedule's own time zone, with its offset, for people. */
export function formatInZone(instant: Date, zone: string): string {
  try {
    return isoInZone(instant.getTime(), zone);
  } catch {
    return instant.toISOString(); // not a zone this runtime knows
  }
}
