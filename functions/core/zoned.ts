/**
 * Wall-clock time in an IANA time zone, from the runtime's own zone data (Intl): what the handlers'
 * schedules and windows need. luxon did this before; it was 74 KB of every bundle and about a tenth
 * of each function's module init (docs/failure-semantics.md#cold-start), and it stays with the
 * operator's schedule lint only. Instants are epoch milliseconds; wall times are whole seconds.
 *
 * Daylight saving time: a wall time in a spring-forward gap has no instant, one in a fall-back fold
 * has two (`instantsOf`); `instantOf` takes the first of two, and moves a missing one forward by the
 * gap, as clocks do.
 */

/** A calendar day, month 1-12 (the zone does not matter: a day's weekday is the calendar's). */
export interface CalendarDay {
  year: number;
  month: number;
  day: number;
}

export interface WallTime extends CalendarDay {
  hour: number;
  minute: number;
  second: number;
}

const DAY_MS = 86_400_000;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, format);
  }
  return format;
}

/** The wall time an instant shows in `zone`. */
export function wallTimeAt(ms: number, zone: string): WallTime {
  const wall = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatter(zone).formatToParts(new Date(ms)))
    if (part.type in wall) wall[part.type as keyof WallTime] = Number(part.value);
  return wall;
}

/** A wall time read as if it were UTC: the number the zone's offset is measured against. */
const asUtc = (w: WallTime): number =>
  Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);

/** The zone's offset from UTC at an instant, in milliseconds (east positive). */
export function offsetAt(ms: number, zone: string): number {
  const second = Math.floor(ms / 1000) * 1000;
  return asUtc(wallTimeAt(second, zone)) - second;
}

/** Every instant whose wall time in `zone` is `wall`, earliest first: none in a gap, two in a fold. */
export function instantsOf(wall: WallTime, zone: string): number[] {
  const local = asUtc(wall);
  const offsets = new Set([-DAY_MS, 0, DAY_MS].map((d) => offsetAt(local + d, zone)));
  const found = new Set(
    [...offsets].map((o) => local - o).filter((t) => asUtc(wallTimeAt(t, zone)) === local),
  );
  return [...found].sort((a, b) => a - b);
}

/** The instant of a wall time: its first occurrence, or in a gap the wall time moved forward. */
export function instantOf(wall: WallTime, zone: string): number {
  const [first] = instantsOf(wall, zone);
  if (first !== undefined) return first;
  const local = asUtc(wall);
  return local - Math.min(offsetAt(local - DAY_MS, zone), offsetAt(local + DAY_MS, zone));
}

/** 00:00 of a day in `zone` (or, where the day starts later because of DST, its first instant). */
export const startOfDay = (day: CalendarDay, zone: string): number =>
  instantOf(
    { year: day.year, month: day.month, day: day.day, hour: 0, minute: 0, second: 0 },
    zone,
  );

export const daysInMonth = (year: number, month: number): number =>
  new Date(Date.UTC(year, month, 0)).getUTCDate();

/** ISO weekday: 1 = Monday … 7 = Sunday. */
export function isoWeekday(day: CalendarDay): number {
  const weekday = new Date(Date.UTC(day.year, day.month - 1, day.day)).getUTCDay();
  return weekday === 0 ? 7 : weekday;
}

const dayOf = (date: Date): CalendarDay => ({
  year: date.getUTCFullYear(),
  month: date.getUTCMonth() + 1,
  day: date.getUTCDate(),
});

export const addDays = (day: CalendarDay, days: number): CalendarDay =>
  dayOf(new Date(Date.UTC(day.year, day.month - 1, day.day + days)));

/** The first day of the month `months` after the one `day` is in. */
export const addMonths = (day: CalendarDay, months: number): CalendarDay =>
  dayOf(new Date(Date.UTC(day.year, day.month - 1 + months, 1)));

/** Monday of the ISO week a day is in. */
export const isoWeekStart = (day: CalendarDay): CalendarDay => addDays(day, 1 - isoWeekday(day));

/** The ISO week a day is in: its week-numbering year (that of its Thursday) and number, 1-53. */
export function isoWeekOf(day: CalendarDay): { year: number; week: number } {
  const thursday = addDays(day, 4 - isoWeekday(day));
  const dayOfYear =
    (Date.UTC(thursday.year, thursday.month - 1, thursday.day) - Date.UTC(thursday.year, 0, 1)) /
    DAY_MS;
  return { year: thursday.year, week: Math.floor(dayOfYear / 7) + 1 };
}

/** A calendar day as YYYY-MM-DD. */
export const isoDate = (day: CalendarDay): string =>
  `${pad(day.year, 4)}-${pad(day.month)}-${pad(day.day)}`;

/** Whether the runtime knows `zone` as a time zone. */
export function isTimeZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

/** Whether two days are the same, or which comes first (negative: `a` is earlier). */
export const compareDays = (a: CalendarDay, b: CalendarDay): number =>
  Date.UTC(a.year, a.month - 1, a.day) - Date.UTC(b.year, b.month - 1, b.day);

/**
 * An instant as ISO 8601 in `zone` with its offset (`2026-03-01T10:00:00+09:00`; `Z` for the zone
 * named UTC or GMT), milliseconds only when there are some.
 */
export function isoInZone(ms: number, zone: string): string {
  const w = wallTimeAt(ms, zone);
  const millis = ((ms % 1000) + 1000) % 1000;
  const fraction = millis ? `.${pad(millis, 3)}` : '';
  const clock = `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}${fraction}`;
  if (['utc', 'gmt'].includes(zone.toLowerCase())) return `${clock}Z`;
  const offsetMinutes = Math.round(offsetAt(ms, zone) / 60_000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${clock}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
