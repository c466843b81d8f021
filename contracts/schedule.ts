import { deferred } from './deferred';
import * as z from 'zod';

/**
 * EventBridge Scheduler expressions, parsed into a structure the evaluator walks.
 * The grammar is the contract: CDK passes the same string to AWS, the local scheduler evaluates it.
 * Its rules, as EventBridge Scheduler documents them, are in docs/scheduling.md#expression-rules.
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
      /**
       * day-of-week, 1=SUN … 7=SAT as in AWS ('L' alone is 7); 'nL' last n-day of month; 'n#k'
       * k-th n-day
       */
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

/** Where in an expression a rule was broken: a cron field, or the rate(…)/at(…) body. */
export type ScheduleField =
  | 'expression'
  | 'minutes'
  | 'hours'
  | 'day-of-month'
  | 'month'
  | 'day-of-week'
  | 'year'
  | 'rate'
  | 'at';

/**
 * The grammar's rules, each named in docs/scheduling.md#expression-rules; a rejection says which
 * one it broke.
 */
export type ScheduleRule =
  | 'form'
  | 'field-count'
  | 'one-question-mark'
  | 'question-mark-alone'
  | 'not-in-field'
  | 'decimal'
  | 'bounds'
  | 'range-order'
  | 'one-dash'
  | 'one-slash'
  | 'step'
  | 'empty-item'
  | 'hash-single-day'
  | 'hash-ordinal'
  | 'last-alone'
  | 'weekday-alone'
  | 'rate-form'
  | 'rate-positive'
  | 'rate-unit-number'
  | 'at-form'
  | 'at-calendar';

/**
 * Stays here, not in functions/core/errors.ts: contracts/ is imported by every layer and imports
 * none (core's errors themselves import contracts). The ScheduleExpression schema turns it into a
 * zod issue, so a policy with a bad expression fails validation naming the field, the cron field
 * and the rule.
 */
export class ScheduleExpressionError extends Error {
  override name = 'ScheduleExpressionError';
  constructor(
    readonly field: ScheduleField,
    readonly rule: ScheduleRule,
    detail: string,
  ) {
    super(`${fieldLabel(field)}: ${detail} (rule ${rule}, docs/scheduling.md#expression-rules)`);
  }
}

function fieldLabel(field: ScheduleField): string {
  if (field === 'expression') return 'expression';
  if (field === 'rate') return 'rate(…)';
  if (field === 'at') return 'at(…)';
  return `cron ${field} field`;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

type CronFieldName = Exclude<ScheduleField, 'expression' | 'rate' | 'at'>;
interface FieldSpec {
  min: number;
  max: number;
  names: string[];
  /** Characters beyond digits, names, `,`, `-` and `*` that the field takes (AWS's table). */
  special: string;
}
const FIELDS: Record<CronFieldName, FieldSpec> = {
  minutes: { min: 0, max: 59, names: [], special: '/' },
  hours: { min: 0, max: 23, names: [], special: '/' },
  'day-of-month': { min: 1, max: 31, names: [], special: '/?LW' },
  month: { min: 1, max: 12, names: MONTHS, special: '/' },
  'day-of-week': { min: 1, max: 7, names: DAYS, special: '?L#' },
  year: { min: 1970, max: 2199, names: [], special: '/' },
};

function fail(field: ScheduleField, rule: ScheduleRule, detail: string): never {
  throw new ScheduleExpressionError(field, rule, detail);
}

/** One value: a name of the field (case-insensitive) or decimal digits within its bounds. */
function fieldValue(field: CronFieldName, token: string): number {
  const spec = FIELDS[field];
  const index = spec.names.indexOf(token.toUpperCase());
  if (index >= 0) return index + 1;
  if (!/^[0-9]+$/.test(token))
    fail(
      field,
      'decimal',
      `'${token}' is not a number${spec.names.length ? ' or name' : ''} (decimal digits only)`,
    );
  const n = Number(token);
  if (n < spec.min || n > spec.max)
    fail(field, 'bounds', `${token} is outside ${spec.min}-${spec.max}`);
  return n;
}

/** Rejects a character the field does not take at all, naming it. */
function checkCharacters(field: CronFieldName, text: string): void {
  for (const char of '/?#') {
    if (text.includes(char) && !FIELDS[field].special.includes(char))
      fail(field, 'not-in-field', `'${char}' is not allowed in ${field}`);
  }
}

/**
 * A list of `*`, `n`, `a-b`, each optionally `/step`: at most one `-` and one `/` per item.
 */
function parseList(field: CronFieldName, text: string): number[] {
  const spec = FIELDS[field];
  const out = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '') fail(field, 'empty-item', `empty list item in '${text}'`);
    const slashParts = item.split('/');
    if (slashParts.length > 2) fail(field, 'one-slash', `'${item}' has more than one '/'`);
    const [rangePart, stepPart] = slashParts as [string, string | undefined];
    if (stepPart !== undefined && !/^[0-9]+$/.test(stepPart))
      fail(field, 'step', `step '${stepPart}' in '${item}' is not decimal digits`);
    const step = stepPart === undefined ? 1 : Number(stepPart);
    if (step < 1) fail(field, 'step', `step in '${item}' must be 1 or more`);
    let lo: number;
    let hi: number;
    if (rangePart === '*') {
      lo = spec.min;
      hi = spec.max;
    } else {
      const dashParts = rangePart.split('-');
      if (dashParts.length > 2) fail(field, 'one-dash', `'${item}' has more than one '-'`);
      if (dashParts.length === 2) {
        lo = fieldValue(field, dashParts[0] as string);
        hi = fieldValue(field, dashParts[1] as string);
        if (lo > hi) fail(field, 'range-order', `range ${rangePart} runs backwards`);
      } else {
        lo = fieldValue(field, rangePart);
        hi = stepPart === undefined ? lo : spec.max;
      }
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return [...out].sort((a, b) => a - b);
}

type Cron = Extract<ParsedSchedule, { kind: 'cron' }>;

function parseDayOfMonth(dom: string): Cron['dayOfMonth'] {
  const field = 'day-of-month';
  checkCharacters(field, dom);
  if (dom === '?' || dom === '*') return { any: true };
  if (dom.includes('?')) fail(field, 'question-mark-alone', `'?' must be the whole field`);
  if (dom === 'L') return { any: false, values: [], last: true, nearestWeekday: null };
  const weekday = /^([0-9]+)W$/.exec(dom);
  if (weekday) {
    const n = fieldValue(field, weekday[1] as string);
    return { any: false, values: [], last: false, nearestWeekday: n };
  }
  if (dom.includes('L'))
    fail(field, 'last-alone', `'L' (last day) must be the whole field, got '${dom}'`);
  if (dom.includes('W'))
    fail(field, 'weekday-alone', `'nW' (nearest weekday) must be the whole field, got '${dom}'`);
  return { any: false, values: parseList(field, dom), last: false, nearestWeekday: null };
}

function parseDayOfWeek(dow: string): Cron['dayOfWeek'] {
  const field = 'day-of-week';
  checkCharacters(field, dow);
  if (dow === '?' || dow === '*') return { any: true };
  if (dow.includes('?')) fail(field, 'question-mark-alone', `'?' must be the whole field`);
  // `L` alone is the last day of the week, Saturday (docs/scheduling.md#expression-rules).
  if (dow === 'L') return { any: false, values: [7], lastOf: null, nth: null };
  if (dow.includes('#')) {
    const hash = /^([0-9]+|[A-Za-z]+)#([0-9]+)$/.exec(dow);
    if (!hash)
      fail(
        field,
        'hash-single-day',
        `'#' takes one day-of-week value and nothing else, got '${dow}'`,
      );
    const [, day, k] = hash as unknown as [string, string, string];
    const kth = Number(k);
    if (kth < 1 || kth > 5) fail(field, 'hash-ordinal', `'#${k}' must be #1 to #5`);
    return { any: false, values: [], lastOf: null, nth: { day: fieldValue(field, day), k: kth } };
  }
  const last = /^([0-9]+|[A-Za-z]+)L$/.exec(dow);
  if (last && !DAYS.includes(dow.toUpperCase()))
    return { any: false, values: [], lastOf: fieldValue(field, last[1] as string), nth: null };
  for (const item of dow.split(','))
    if (/L$/.test(item) && !DAYS.includes(item.toUpperCase()))
      fail(field, 'last-alone', `'L' (last) must be the whole field or one 'nL', got '${dow}'`);
  return { any: false, values: parseList(field, dow), lastOf: null, nth: null };
}

function parseCron(body: string): ParsedSchedule {
  const fields = body.trim().split(/\s+/);
  if (fields.length !== 6)
    fail(
      'expression',
      'field-count',
      `cron(…) needs 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`,
    );
  const [min, hour, dom, month, dow, year] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if ((dom === '?') === (dow === '?'))
    fail(
      dom === '?' ? 'day-of-week' : 'day-of-month',
      'one-question-mark',
      "exactly one of day-of-month and day-of-week must be '?'",
    );
  const list = (field: CronFieldName, text: string): number[] => {
    checkCharacters(field, text);
    return parseList(field, text);
  };
  return {
    kind: 'cron',
    minutes: list('minutes', min),
    hours: list('hours', hour),
    dayOfMonth: parseDayOfMonth(dom),
    months: list('month', month),
    dayOfWeek: parseDayOfWeek(dow),
    years: year === '*' ? { any: true } : { any: false, values: list('year', year) },
  };
}

function parseRate(body: string): ParsedSchedule {
  const r = /^([0-9]+) (minute|minutes|hour|hours|day|days)$/.exec(body.trim());
  if (!r) fail('rate', 'rate-form', `must be 'rate(<n> minutes|hours|days)', got 'rate(${body})'`);
  const [, value, unit] = r as unknown as [string, string, string];
  const n = Number(value);
  if (n < 1) fail('rate', 'rate-positive', 'the value must be positive');
  if ((n === 1) !== !unit.endsWith('s'))
    fail(
      'rate',
      'rate-unit-number',
      `use '${n} ${n === 1 ? unit.replace(/s$/, '') : unit.replace(/s?$/, 's')}'`,
    );
  const perUnit = unit.startsWith('minute') ? 1 : unit.startsWith('hour') ? 60 : 1440;
  return { kind: 'rate', minutes: n * perUnit };
}

function parseAt(body: string): ParsedSchedule {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})$/.exec(body);
  if (!m) fail('at', 'at-form', `must be 'at(yyyy-mm-ddThh:mm:ss)', got 'at(${body})'`);
  const [year, month, day, hour, minute, second] = (m as RegExpExecArray).slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (year < 1970 || year > 2199) fail('at', 'bounds', `year ${year} is outside 1970-2199`);
  const daysInMonth =
    month >= 1 && month <= 12 ? new Date(Date.UTC(year, month, 0)).getUTCDate() : 0;
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  )
    fail('at', 'at-calendar', `${body} is not a calendar date and time`);
  return { kind: 'at', localDateTime: body };
}

/** Parses an EventBridge Scheduler expression; the rules are in docs/scheduling.md#expression-rules. */
export function parseScheduleExpression(expression: string): ParsedSchedule {
  const match = /^(cron|rate|at)\((.*)\)$/.exec(expression.trim());
  if (!match) fail('expression', 'form', `'${expression}' is not cron(…), rate(…) or at(…)`);
  const [, kind, body] = match as unknown as [string, 'cron' | 'rate' | 'at', string];
  if (kind === 'cron') return parseCron(body);
  if (kind === 'rate') return parseRate(body);
  return parseAt(body);
}

/**
 * EventBridge Scheduler syntax: cron(…), rate(…) or at(…). Parsed here so an invalid one never
 * loads.
 */
export const ScheduleExpression = deferred(() =>
  z.string().superRefine((value, ctx) => {
    try {
      parseScheduleExpression(value);
    } catch (error) {
      if (!(error instanceof ScheduleExpressionError)) throw error;
      ctx.addIssue({
        code: 'custom',
        message: error.message,
        params: { field: error.field, rule: error.rule },
      });
    }
  }),
);

export const TimeZone = deferred(() =>
  z.string().refine(
    (tz) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    },
    { message: 'must be an IANA time zone such as Asia/Tokyo' },
  ),
);
