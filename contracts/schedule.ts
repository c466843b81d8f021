import * as z from 'zod';

/**
 * EventBridge Scheduler expressions, parsed into a structure the evaluator walks.
 * The grammar is the contract: CDK passes the same string to AWS, the local scheduler evaluates it.
 */
export type CronField = { any: true } | { any: false; values: number[] };
export type ParsedSchedule =
  | { kind: 'rate'; minutes: number }
  | { kind: 'at'; localDateTime: string }
  | {
      kind: 'cron';
      minutes: number[];
      hours: number[];
      /** day-of-month: explicit values, 'L' (last day), or nW (nearest weekday) */
      dayOfMonth:
        | { any: true }
        | { any: false; values: number[]; last: boolean; nearestWeekday: number | null };
      months: number[];
      /** day-of-week, 1=SUN … 7=SAT as in AWS; 'nL' last n-day of month; 'n#k' k-th n-day */
      dayOfWeek:
        | { any: true }
        | {
            any: false;
            values: number[];
            lastOf: number | null;
            nth: { day: number; k: number } | null;
          };
      years: { any: true } | { any: false; values: number[] };
    };

/**
 * Stays here, not in functions/core/errors.ts: contracts/ is imported by every layer and imports
 * none (core's errors themselves import contracts). The ScheduleExpression schema turns it into a
 * zod issue, so a policy with a bad expression fails validation naming the field.
 */
export class ScheduleExpressionError extends Error {
  override name = 'ScheduleExpressionError';
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function parseList(
  field: string,
  name: string,
  min: number,
  max: number,
  names: string[] = [],
  nameBase = 1,
): number[] {
  const toNumber = (token: string): number => {
    const upper = token.toUpperCase();
    const index = names.indexOf(upper);
    if (index >= 0) return index + nameBase;
    if (!/^\d+$/.test(token))
      throw new ScheduleExpressionError(
        `cron ${name} field: '${token}' is not a number${names.length ? ' or name' : ''}`,
      );
    const n = Number(token);
    if (n < min || n > max)
      throw new ScheduleExpressionError(`cron ${name} field: ${n} is outside ${min}-${max}`);
    return n;
  };
  const out = new Set<number>();
  for (const part of field.split(',')) {
    if (part === '') throw new ScheduleExpressionError(`cron ${name} field: empty list item`);
    const [rangePart, stepPart] = part.split('/') as [string, string | undefined];
    const step = stepPart === undefined ? 1 : Number(stepPart);
    if (!Number.isInteger(step) || step < 1)
      throw new ScheduleExpressionError(`cron ${name} field: bad step '${stepPart}'`);
    let lo: number;
    let hi: number;
    if (rangePart === '*') {
      lo = min;
      hi = max;
    } else if (rangePart.includes('-')) {
      const [a, b] = rangePart.split('-') as [string, string];
      lo = toNumber(a);
      hi = toNumber(b);
      if (lo > hi)
        throw new ScheduleExpressionError(`cron ${name} field: range ${rangePart} runs backwards`);
    } else {
      lo = toNumber(rangePart);
      hi = stepPart === undefined ? lo : max;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return [...out].sort((a, b) => a - b);
}

function parseCron(body: string): ParsedSchedule {
  const fields = body.trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new ScheduleExpressionError(
      `cron(…) needs 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`,
    );
  }
  const [min, hour, dom, month, dow, year] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if ((dom === '?') === (dow === '?')) {
    throw new ScheduleExpressionError(
      "cron: exactly one of day-of-month and day-of-week must be '?'",
    );
  }
  let dayOfMonth: Extract<ParsedSchedule, { kind: 'cron' }>['dayOfMonth'];
  if (dom === '?' || dom === '*') dayOfMonth = { any: true };
  else if (dom === 'L') dayOfMonth = { any: false, values: [], last: true, nearestWeekday: null };
  else if (/^\d+W$/.test(dom)) {
    const n = Number(dom.slice(0, -1));
    if (n < 1 || n > 31)
      throw new ScheduleExpressionError(`cron day-of-month field: ${dom} is outside 1-31`);
    dayOfMonth = { any: false, values: [], last: false, nearestWeekday: n };
  } else
    dayOfMonth = {
      any: false,
      values: parseList(dom, 'day-of-month', 1, 31),
      last: false,
      nearestWeekday: null,
    };

  let dayOfWeek: Extract<ParsedSchedule, { kind: 'cron' }>['dayOfWeek'];
  const dayNumber = (token: string): number =>
    parseList(token, 'day-of-week', 1, 7, DAYS)[0] as number;
  if (dow === '?' || dow === '*') dayOfWeek = { any: true };
  else if (/^[A-Za-z0-9]+L$/.test(dow))
    dayOfWeek = { any: false, values: [], lastOf: dayNumber(dow.slice(0, -1)), nth: null };
  else if (dow.includes('#')) {
    const [d, k] = dow.split('#') as [string, string];
    const kth = Number(k);
    if (!Number.isInteger(kth) || kth < 1 || kth > 5)
      throw new ScheduleExpressionError(`cron day-of-week field: '#${k}' must be 1-5`);
    dayOfWeek = { any: false, values: [], lastOf: null, nth: { day: dayNumber(d), k: kth } };
  } else
    dayOfWeek = {
      any: false,
      values: parseList(dow, 'day-of-week', 1, 7, DAYS),
      lastOf: null,
      nth: null,
    };

  return {
    kind: 'cron',
    minutes: parseList(min, 'minutes', 0, 59),
    hours: parseList(hour, 'hours', 0, 23),
    dayOfMonth,
    months: parseList(month, 'month', 1, 12, MONTHS),
    dayOfWeek,
    years:
      year === '*' ? { any: true } : { any: false, values: parseList(year, 'year', 1970, 2199) },
  };
}

export function parseScheduleExpression(expression: string): ParsedSchedule {
  const match = /^(cron|rate|at)\((.*)\)$/.exec(expression.trim());
  if (!match) throw new ScheduleExpressionError(`'${expression}' is not cron(…), rate(…) or at(…)`);
  const [, kind, body] = match as unknown as [string, 'cron' | 'rate' | 'at', string];
  if (kind === 'cron') return parseCron(body);
  if (kind === 'rate') {
    const r = /^(\d+) (minute|minutes|hour|hours|day|days)$/.exec(body.trim());
    if (!r)
      throw new ScheduleExpressionError(
        `rate(…) must be 'rate(<n> minutes|hours|days)', got 'rate(${body})'`,
      );
    const n = Number(r[1]);
    const unit = r[2] as string;
    if (n < 1) throw new ScheduleExpressionError('rate(…) value must be positive');
    if ((n === 1) !== !unit.endsWith('s'))
      throw new ScheduleExpressionError(
        `rate(…): use '${n} ${n === 1 ? unit.replace(/s$/, '') : unit.replace(/s?$/, 's')}'`,
      );
    const perUnit = unit.startsWith('minute') ? 1 : unit.startsWith('hour') ? 60 : 1440;
    return { kind: 'rate', minutes: n * perUnit };
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(body)) {
    throw new ScheduleExpressionError(`at(…) must be 'at(yyyy-mm-ddThh:mm:ss)', got 'at(${body})'`);
  }
  return { kind: 'at', localDateTime: body };
}

/**
 * EventBridge Scheduler syntax: cron(…), rate(…) or at(…). Parsed here so an invalid one never
 * loads.
 */
export const ScheduleExpression = z.string().superRefine((value, ctx) => {
  try {
    parseScheduleExpression(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

export const TimeZone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'must be an IANA time zone such as Asia/Tokyo' },
);
