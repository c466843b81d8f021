import { DateTime } from 'luxon';
import { parseScheduleExpression, type ParsedSchedule } from '../../contracts/schedule';
import type { JobSchedule } from '../../contracts';

type Cron = Extract<ParsedSchedule, { kind: 'cron' }>;

/** AWS numbers days of the week 1=SUN … 7=SAT; luxon 1=MON … 7=SUN. */
const awsWeekday = (d: DateTime): number => (d.weekday % 7) + 1;

function nearestWeekday(year: number, month: number, day: number, zone: string): number | null {
  const first = DateTime.fromObject({ year, month, day: 1 }, { zone });
  const daysInMonth = first.daysInMonth ?? 31;
  if (day > daysInMonth) return null;
  const target = first.set({ day });
  if (target.weekday <= 5) return day;
  if (target.weekday === 6) return day === 1 ? 3 : day - 1; // Saturday → Friday, unless that leaves the month
  return day === daysInMonth ? day - 2 : day + 1; // Sunday → Monday, unless that leaves the month
}

/** Whether a cron's day fields (year, month, day-of-month, day-of-week) take this local day. */
export function dayMatches(cron: Cron, date: DateTime): boolean {
  if (!cron.years.any && !cron.years.values.includes(date.year)) return false;
  if (!cron.months.includes(date.month)) return false;
  const daysInMonth = date.daysInMonth ?? 31;
  const dom = cron.dayOfMonth;
  if (!dom.any) {
    if (dom.last) {
      if (date.day !== daysInMonth) return false;
    } else if (dom.nearestWeekday !== null) {
      if (
        date.day !==
        nearestWeekday(date.year, date.month, dom.nearestWeekday, date.zoneName ?? 'UTC')
      )
        return false;
    } else if (!dom.values.includes(date.day)) return false;
  }
  const dow = cron.dayOfWeek;
  if (!dow.any) {
    const wd = awsWeekday(date);
    if (dow.lastOf !== null) {
      if (wd !== dow.lastOf || date.day + 7 <= daysInMonth) return false;
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
    const at = DateTime.fromISO(parsed.localDateTime, { zone });
    if (at.isValid && at.toMillis() > after.getTime() && at.toMillis() <= until.getTime())
      out.push(at.toJSDate());
    return out;
  }
  let day = DateTime.fromJSDate(after, { zone }).startOf('day');
  const lastDay = DateTime.fromJSDate(until, { zone }).endOf('day');
  while (day <= lastDay && out.length < limit) {
    if (dayMatches(parsed, day)) {
      for (const hour of parsed.hours) {
        for (const minute of parsed.minutes) {
          const local = DateTime.fromObject(
            { year: day.year, month: day.month, day: day.day, hour, minute },
            { zone },
          );
          if (local.hour !== hour || local.minute !== minute) continue; // does not exist: spring-forward gap
          const t = firstOccurrence(local);
          if (t > after.getTime() && t <= until.getTime()) out.push(new Date(t));
          if (out.length >= limit) return out.sort((a, b) => a.getTime() - b.getTime());
        }
      }
    }
    day = day.plus({ days: 1 });
  }
  return out.sort((a, b) => a.getTime() - b.getTime());
}

/** For a wall time that happens twice (fall back), the earlier instant: luxon may pick either. */
function firstOccurrence(local: DateTime): number {
  for (const shiftMinutes of [60, 30]) {
    const earlier = local.minus({ minutes: shiftMinutes });
    if (earlier.hour === local.hour && earlier.minute === local.minute && earlier.day === local.day)
      return earlier.toMillis();
  }
  return local.toMillis();
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
  return (
    DateTime.fromJSDate(instant, { zone }).toISO({ suppressMilliseconds: true }) ??
    instant.toISOString()
  );
}
