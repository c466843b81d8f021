import { DateTime } from 'luxon';
import { type JobDefinition, parseScheduleExpression } from '../../contracts';
import { dayMatches, scheduledTimes } from './schedule';
import { runWindow } from './window';

/**
 * Schedule lint: expressions AWS accepts that still do something a reader may not expect
 * (docs/scheduling.md#lint). Pure: the caller passes `now`; `opsrail jobs --lint` and the CDK
 * synth warnings print the same findings.
 */
export type ScheduleLintCode =
  | 'dst_skipped_time'
  | 'dst_repeated_time'
  | 'rate_in_dst_zone'
  | 'dangerous_recurring'
  | 'overlap_allow_overlapping_windows';

export interface ScheduleLintFinding {
  jobId: string;
  code: ScheduleLintCode;
  message: string;
  /** The local dates (yyyy-mm-dd in the job's zone) the finding is about; empty if none. */
  dates: string[];
}

export type LintableJob = Pick<JobDefinition, 'jobId' | 'schedule' | 'dangerous' | 'window'> &
  Partial<Pick<JobDefinition, 'overlap'>>;

const DATE = 'yyyy-MM-dd';
/** How many ticks the overlap check compares, pairwise, from `now`. */
const OVERLAP_TICKS = 200;

/**
 * The first instant of each UTC-offset change in `zone` in [from, to), found day by day and then
 * to the minute.
 */
export function offsetChanges(zone: string, from: Date, to: Date): DateTime[] {
  const offsetAt = (ms: number) => DateTime.fromMillis(ms, { zone }).offset;
  const out: DateTime[] = [];
  const day = 86_400_000;
  for (let t = from.getTime(); t < to.getTime(); t += day) {
    const next = Math.min(t + day, to.getTime());
    if (offsetAt(t) === offsetAt(next)) continue;
    let lo = t;
    let hi = next;
    while (hi - lo > 60_000) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (offsetAt(mid) === offsetAt(t)) lo = mid;
      else hi = mid;
    }
    out.push(DateTime.fromMillis(hi, { zone }));
  }
  return out;
}

/** Whether a wall time that exists also happens a second time that day (clocks fall back). */
function happensTwice(local: DateTime): boolean {
  return [30, 60, -30, -60].some((shift) => {
    const other = local.plus({ minutes: shift });
    return other.hour === local.hour && other.minute === local.minute && other.day === local.day;
  });
}

const hhmm = (hour: number, minute: number) =>
  `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;

function dstFindings(job: LintableJob, now: Date, until: Date): ScheduleLintFinding[] {
  const { expression, timezone: zone } = job.schedule;
  const parsed = parseScheduleExpression(expression);
  const changes = offsetChanges(zone, now, until);
  if (parsed.kind === 'rate') {
    if (!changes.length) return [];
    const dates = changes.map((c) => c.toFormat(DATE));
    return [
      {
        jobId: job.jobId,
        code: 'rate_in_dst_zone',
        message:
          `${expression} in ${zone}: rate ticks are a fixed number of minutes apart, so their ` +
          `local time moves at each daylight saving change (${dates.join(', ')}); use cron(…) ` +
          'for a wall-clock time',
        dates,
      },
    ];
  }
  if (parsed.kind !== 'cron') return [];
  const skipped = new Map<string, Set<string>>();
  const repeated = new Map<string, Set<string>>();
  const note = (into: Map<string, Set<string>>, date: string, time: string) =>
    into.set(date, (into.get(date) ?? new Set()).add(time));
  // A skipped or repeated wall time is on the day of the change or, for a change at midnight,
  // the day before.
  const days = new Map<string, DateTime>();
  for (const change of changes)
    for (const d of [change.minus({ days: 1 }), change])
      days.set(
        d.toFormat(DATE),
        DateTime.fromObject({ year: d.year, month: d.month, day: d.day }, { zone }),
      );
  for (const [date, day] of days) {
    if (!dayMatches(parsed, day)) continue;
    for (const hour of parsed.hours)
      for (const minute of parsed.minutes) {
        const local = DateTime.fromObject(
          { year: day.year, month: day.month, day: day.day, hour, minute },
          { zone },
        );
        const t = local.toMillis();
        if (t < now.getTime() || t >= until.getTime()) continue;
        if (local.hour !== hour || local.minute !== minute) note(skipped, date, hhmm(hour, minute));
        else if (happensTwice(local)) note(repeated, date, hhmm(hour, minute));
      }
  }
  const finding = (
    code: ScheduleLintCode,
    found: Map<string, Set<string>>,
    what: string,
  ): ScheduleLintFinding[] => {
    if (!found.size) return [];
    const dates = [...found.keys()].sort();
    const at = dates.map((d) => `${[...(found.get(d) ?? [])].join(', ')} on ${d}`).join('; ');
    return [{ jobId: job.jobId, code, message: `${expression} in ${zone}: ${at} ${what}`, dates }];
  };
  return [
    ...finding(
      'dst_skipped_time',
      skipped,
      'does not exist (clocks spring forward): that run is skipped',
    ),
    ...finding(
      'dst_repeated_time',
      repeated,
      'happens twice (clocks fall back): it runs once, at the first',
    ),
  ];
}

function overlapFindings(job: LintableJob, now: Date, until: Date): ScheduleLintFinding[] {
  if (job.overlap !== 'allow') return [];
  const ticks = scheduledTimes(job.schedule, now, until, OVERLAP_TICKS);
  for (let i = 1; i < ticks.length; i++) {
    const a = runWindow(job, ticks[i - 1] as Date);
    const b = runWindow(job, ticks[i] as Date);
    if (a.start !== b.start && b.start < a.end)
      return [
        {
          jobId: job.jobId,
          code: 'overlap_allow_overlapping_windows',
          message:
            `overlap 'allow' with overlapping windows: the run of ${a.start} covers ` +
            `[${a.start}, ${a.end}) and the next one [${b.start}, ${b.end}), so two runs may ` +
            'work on the same span at once',
          dates: [],
        },
      ];
  }
  return [];
}

/** The findings for one job, looking one year ahead of `now`. */
export function lintSchedule(job: LintableJob, now: Date): ScheduleLintFinding[] {
  const until = DateTime.fromJSDate(now, { zone: 'UTC' }).plus({ years: 1 }).toJSDate();
  const kind = parseScheduleExpression(job.schedule.expression).kind;
  const dangerous: ScheduleLintFinding[] =
    job.dangerous.value && kind !== 'at'
      ? [
          {
            jobId: job.jobId,
            code: 'dangerous_recurring',
            message:
              `a dangerous job (${job.dangerous.opKind}) on a recurring schedule, ` +
              `${job.schedule.expression}: every tick asks for a human approval ` +
              '(docs/safety-rules.md#dangerous-ops)',
            dates: [],
          },
        ]
      : [];
  return [...dstFindings(job, now, until), ...dangerous, ...overlapFindings(job, now, until)];
}

/** The findings for every job, in the order given. */
export function lintSchedules(jobs: LintableJob[], now: Date): ScheduleLintFinding[] {
  return jobs.flatMap((job) => lintSchedule(job, now));
}
