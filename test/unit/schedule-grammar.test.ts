import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, test } from 'vitest';
import * as z from 'zod';
import {
  JobSchedule,
  parseScheduleExpression,
  ScheduleExpressionError,
  type ScheduleField,
  type ScheduleRule,
} from '../../contracts';
import { nextRunTimes } from '../../functions/core/schedule';

/** The error an expression is rejected with, or a failed assertion when it is accepted. */
function rejection(expression: string): ScheduleExpressionError {
  try {
    parseScheduleExpression(expression);
  } catch (error) {
    assert.ok(error instanceof ScheduleExpressionError, String(error));
    return error;
  }
  assert.fail(`${expression} was accepted`);
}

describe('schedule expressions as EventBridge Scheduler accepts them', () => {
  const accepted = [
    'cron(0 * * * ? *)',
    'cron(*/15 * * * ? *)',
    'cron(0/20 10 ? * 2L *)',
    'cron(0 9 ? * MON-FRI *)',
    'cron(0 9 ? * 6#3 *)',
    'cron(0 9 ? * fri#2 *)',
    'cron(0 9 ? * L *)',
    'cron(0 9 ? * FRIL *)',
    'cron(0 0 L * ? *)',
    'cron(0 0 1W 8 ? 2027)',
    'cron(0 0 1-15/2 * ? *)',
    'cron(0 0 ? JAN,MAR-MAY/2 * 1970-2199)',
    'cron(0 3 ? * SUN *)',
    'cron(0 0 1 1 ? 2099)',
    'rate(1 minute)',
    'rate(15 minutes)',
    'rate(1 day)',
    'at(2000-01-01T00:00:00)',
    'at(2024-02-29T23:59:59)',
    'at(2199-12-31T00:00:00)',
  ];
  test.each(accepted)('%s is accepted', (expression) => {
    // Act / Assess
    assert.doesNotThrow(() => parseScheduleExpression(expression));
  });

  const rejected: [string, ScheduleField, ScheduleRule][] = [
    ['cron(0 9 ? * *#3 *)', 'day-of-week', 'hash-single-day'],
    ['cron(0 9 ? * 1-3#2 *)', 'day-of-week', 'hash-single-day'],
    ['cron(0 9 ? * 3#1,6#3 *)', 'day-of-week', 'hash-single-day'],
    ['cron(0 9 ? * 2#1#2 *)', 'day-of-week', 'hash-single-day'],
    ['cron(0 9 ? * 2#6 *)', 'day-of-week', 'hash-ordinal'],
    ['cron(0 9 ? * 8#1 *)', 'day-of-week', 'bounds'],
    ['cron(0 9 ? * */2 *)', 'day-of-week', 'not-in-field'],
    ['cron(0 9 ? * 2L,3 *)', 'day-of-week', 'last-alone'],
    ['cron(1-2-3 9 * * ? *)', 'minutes', 'one-dash'],
    ['cron(*/5/2 9 * * ? *)', 'minutes', 'one-slash'],
    ['cron(0 9 1-2-3 * ? *)', 'day-of-month', 'one-dash'],
    ['cron(0 1/2/3 * * ? *)', 'hours', 'one-slash'],
    ['cron(0x1 9 * * ? *)', 'minutes', 'decimal'],
    ['cron(+5 9 * * ? *)', 'minutes', 'decimal'],
    ['cron(1.5 9 * * ? *)', 'minutes', 'decimal'],
    ['cron(0/1e1 9 * * ? *)', 'minutes', 'step'],
    ['cron(0/0 9 * * ? *)', 'minutes', 'step'],
    ['cron(61 9 * * ? *)', 'minutes', 'bounds'],
    ['cron(0 24 * * ? *)', 'hours', 'bounds'],
    ['cron(0 9 32 * ? *)', 'day-of-month', 'bounds'],
    ['cron(0 9 5-1 * ? *)', 'day-of-month', 'range-order'],
    ['cron(0 9 L,15 * ? *)', 'day-of-month', 'last-alone'],
    ['cron(0 9 1W,15 * ? *)', 'day-of-month', 'weekday-alone'],
    ['cron(0 9 # * ? *)', 'day-of-month', 'not-in-field'],
    ['cron(0 9 ?5 * ? *)', 'day-of-month', 'question-mark-alone'],
    ['cron(0 9 * 13 ? *)', 'month', 'bounds'],
    ['cron(0 9 * * ? 1969)', 'year', 'bounds'],
    ['cron(0 9 * * ? 2200)', 'year', 'bounds'],
    ['cron(0,,5 9 * * ? *)', 'minutes', 'empty-item'],
    ['cron(? 9 * * ? *)', 'minutes', 'not-in-field'],
    ['cron(0 9 ? * ? *)', 'day-of-week', 'one-question-mark'],
    ['cron(0 9 * * * *)', 'day-of-month', 'one-question-mark'],
    ['cron(0 9 * *)', 'expression', 'field-count'],
    ['rate(0 minutes)', 'rate', 'rate-positive'],
    ['rate(1 minutes)', 'rate', 'rate-unit-number'],
    ['rate(5 hour)', 'rate', 'rate-unit-number'],
    ['rate(5 weeks)', 'rate', 'rate-form'],
    ['rate(1.5 hours)', 'rate', 'rate-form'],
    ['at(2026-02-30T09:00:00)', 'at', 'at-calendar'],
    ['at(2026-02-29T09:00:00)', 'at', 'at-calendar'],
    ['at(2026-01-01T25:00:00)', 'at', 'at-calendar'],
    ['at(2026-01-01T23:60:00)', 'at', 'at-calendar'],
    ['at(2026-13-01T00:00:00)', 'at', 'at-calendar'],
    ['at(1969-12-31T23:59:59)', 'at', 'bounds'],
    ['at(2200-01-01T00:00:00)', 'at', 'bounds'],
    ['at(2026-05-01 09:00)', 'at', 'at-form'],
    ['every day at nine', 'expression', 'form'],
  ];
  test.each(rejected)('%s is rejected: %s, rule %s', (expression, field, rule) => {
    // Act
    const error = rejection(expression);
    // Assess: the error says where and which rule, in its fields and in its message.
    assert.deepEqual([error.field, error.rule], [field, rule], error.message);
    assert.match(error.message, new RegExp(`rule ${rule}\\b`));
    if (!['expression', 'rate', 'at'].includes(field))
      assert.match(error.message, new RegExp(`^cron ${field} field: `));
  });

  test('a policy with a rejected expression names schedule.expression, the cron field and the rule', () => {
    // Prepare
    const Holder = z.object({ schedule: JobSchedule });
    // Act
    const parsed = Holder.safeParse({
      schedule: { expression: 'cron(0 9 ? * *#3 *)', timezone: 'UTC' },
    });
    // Assess
    assert.equal(parsed.success, false);
    const [issue] = parsed.error?.issues ?? [];
    assert.equal(issue?.path.join('.'), 'schedule.expression');
    assert.match(issue?.message ?? '', /^cron day-of-week field: .*rule hash-single-day/);
  });

  test('every at() of a real date-time in 1970-2199 is accepted', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1970-01-01T00:00:00Z'),
          max: new Date('2199-12-31T23:59:59Z'),
          noInvalidDate: true,
        }),
        (instant) => {
          // Prepare
          const local = DateTime.fromJSDate(instant, { zone: 'UTC' });
          const expression = `at(${local.toFormat("yyyy-MM-dd'T'HH:mm:ss")})`;
          // Act
          const parsed = parseScheduleExpression(expression);
          // Assess
          assert.deepEqual(parsed, { kind: 'at', localDateTime: expression.slice(3, -1) });
        },
      ),
    );
  });

  test('an at() day past the end of its month is rejected (at-calendar)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1970, max: 2199 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 68 }),
        (year, month, extra) => {
          // Prepare
          const days = DateTime.utc(year, month).daysInMonth ?? 31;
          const day = days + (extra % (99 - days)) + 1;
          const pad = (n: number) => String(n).padStart(2, '0');
          // Act
          const error = rejection(`at(${year}-${pad(month)}-${pad(day)}T00:00:00)`);
          // Assess
          assert.deepEqual([error.field, error.rule], ['at', 'at-calendar']);
        },
      ),
    );
  });

  test('a cron day-of-month outside 1-31 is rejected (bounds)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constant(0), fc.integer({ min: 32, max: 99_999 })), (day) => {
        // Act
        const error = rejection(`cron(0 0 ${day} * ? *)`);
        // Assess
        assert.deepEqual([error.field, error.rule], ['day-of-month', 'bounds']);
      }),
    );
  });

  test("'#' after a list of days, however long, is rejected (hash-single-day)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 2, maxLength: 7 }),
        fc.integer({ min: 1, max: 5 }),
        (days, k) => {
          // Act
          const error = rejection(`cron(0 0 ? * ${days.join(',')}#${k} *)`);
          // Assess
          assert.deepEqual([error.field, error.rule], ['day-of-week', 'hash-single-day']);
        },
      ),
    );
  });

  test("more than one '-' in a list item is rejected (one-dash)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 59 }), { minLength: 3, maxLength: 5 }),
        (values) => {
          // Act
          const error = rejection(`cron(${values.join('-')} 0 * * ? *)`);
          // Assess
          assert.deepEqual([error.field, error.rule], ['minutes', 'one-dash']);
        },
      ),
    );
  });

  test("'L' alone in day-of-week is the last day of the week: Saturday", () => {
    // Prepare: 2026-11-21 is a Saturday.
    const schedule = { expression: 'cron(0 9 ? * L *)', timezone: 'UTC' };
    // Act
    const runs = nextRunTimes(schedule, new Date('2026-11-20T00:00:00Z'), 2);
    // Assess
    assert.deepEqual(
      runs.map((d) => d.toISOString()),
      ['2026-11-21T09:00:00.000Z', '2026-11-28T09:00:00.000Z'],
    );
  });
});
