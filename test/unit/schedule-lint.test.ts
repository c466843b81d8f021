import assert from 'node:assert/strict';
import { DateTime } from 'luxon';
import { describe, test } from 'vitest';
import type { JobDefinition } from '../../contracts';
import { scheduledTimes } from '../../functions/core/schedule';
import { type LintableJob, lintSchedule } from '../../functions/core/schedule-lint';

const NOW = new Date('2026-12-02T00:00:00Z');

function job(
  expression: string,
  timezone: string,
  extra: Partial<Pick<JobDefinition, 'dangerous' | 'window' | 'overlap'>> = {},
): LintableJob {
  return {
    jobId: 'a_job',
    schedule: { expression, timezone },
    dangerous: { value: false },
    window: { kind: 'tick', minutes: 60 },
    ...extra,
  };
}

/** The findings as [code, dates] pairs, what the assertions compare. */
const codesAndDates = (j: LintableJob) =>
  lintSchedule(j, NOW).map((f) => [f.code, f.dates] as const);

describe('schedule lint: daylight saving time in the next year', () => {
  test('02:30 daily in America/New_York does not exist on the March change: the date is listed', () => {
    // Prepare
    const j = job('cron(30 2 * * ? *)', 'America/New_York');
    // Act
    const findings = lintSchedule(j, NOW);
    // Assess
    assert.deepEqual(
      findings.map((f) => [f.code, f.dates]),
      [['dst_skipped_time', ['2027-03-14']]],
    );
    assert.match(findings[0]?.message ?? '', /02:30 on 2027-03-14 does not exist/);
    // The evaluator agrees: that day has no run.
    const runs = scheduledTimes(
      j.schedule,
      new Date('2027-03-13T00:00:00Z'),
      new Date('2027-03-16T00:00:00Z'),
      10,
    ).map((d) => DateTime.fromJSDate(d, { zone: 'America/New_York' }).toFormat('yyyy-MM-dd'));
    assert.deepEqual(runs, ['2027-03-13', '2027-03-15']);
  });

  test('01:30 daily in America/New_York happens twice on the November change', () => {
    // Act / Assess
    assert.deepEqual(codesAndDates(job('cron(30 1 * * ? *)', 'America/New_York')), [
      ['dst_repeated_time', ['2027-11-07']],
    ]);
  });

  test('Europe/London changes at 01:00: 01:30 is skipped in March and repeated in October, 02:30 is neither', () => {
    // Act / Assess
    assert.deepEqual(codesAndDates(job('cron(30 1 * * ? *)', 'Europe/London')), [
      ['dst_skipped_time', ['2027-03-28']],
      ['dst_repeated_time', ['2027-10-31']],
    ]);
    assert.deepEqual(codesAndDates(job('cron(30 2 * * ? *)', 'Europe/London')), []);
  });

  test('a cron whose days miss the change day has no finding (Sundays only vs Mondays only)', () => {
    // Prepare: 2027-03-14 is a Sunday.
    const sundays = job('cron(30 2 ? * SUN *)', 'America/New_York');
    const mondays = job('cron(30 2 ? * MON *)', 'America/New_York');
    // Act / Assess
    assert.deepEqual(codesAndDates(sundays), [['dst_skipped_time', ['2027-03-14']]]);
    assert.deepEqual(codesAndDates(mondays), []);
  });

  test('rate(1 day) drifts against the wall clock in America/New_York, not in Asia/Tokyo', () => {
    // Act
    const newYork = lintSchedule(job('rate(1 day)', 'America/New_York'), NOW);
    const tokyo = lintSchedule(job('rate(1 day)', 'Asia/Tokyo'), NOW);
    // Assess
    assert.deepEqual(
      newYork.map((f) => [f.code, f.dates]),
      [['rate_in_dst_zone', ['2027-03-14', '2027-11-07']]],
    );
    assert.deepEqual(tokyo, []);
  });

  test('a UTC job has no finding, cron or rate', () => {
    // Act / Assess
    assert.deepEqual(codesAndDates(job('cron(30 2 * * ? *)', 'UTC')), []);
    assert.deepEqual(codesAndDates(job('cron(30 1 * * ? *)', 'UTC')), []);
    assert.deepEqual(codesAndDates(job('rate(1 day)', 'UTC')), []);
  });
});

describe('schedule lint: dangerous jobs and overlap', () => {
  test('a dangerous job on a recurring schedule is a finding; on at(…) it is not', () => {
    // Prepare
    const dangerous = { value: true, opKind: 'retention' } as const;
    // Act / Assess
    assert.deepEqual(codesAndDates(job('cron(0 3 ? * SUN *)', 'UTC', { dangerous })), [
      ['dangerous_recurring', []],
    ]);
    assert.deepEqual(codesAndDates(job('rate(1 hour)', 'UTC', { dangerous })), [
      ['dangerous_recurring', []],
    ]);
    assert.deepEqual(codesAndDates(job('at(2027-01-01T00:00:00)', 'UTC', { dangerous })), []);
  });

  test("overlap 'allow' is a finding only when one run's window overlaps the next", () => {
    // Prepare: a 60-minute tick window every 15 minutes overlaps; every hour it does not.
    const window = { kind: 'tick', minutes: 60 } as const;
    // Act / Assess
    const overlapping = lintSchedule(
      job('rate(15 minutes)', 'UTC', { window, overlap: 'allow' }),
      NOW,
    );
    assert.deepEqual(
      overlapping.map((f) => f.code),
      ['overlap_allow_overlapping_windows'],
    );
    assert.match(overlapping[0]?.message ?? '', /\[2026-12-02T00:30:00Z, 2026-12-02T01:30:00Z\)/);
    assert.deepEqual(codesAndDates(job('rate(1 hour)', 'UTC', { window, overlap: 'allow' })), []);
    assert.deepEqual(
      codesAndDates(job('rate(15 minutes)', 'UTC', { window, overlap: 'skip' })),
      [],
    );
    assert.deepEqual(codesAndDates(job('rate(15 minutes)', 'UTC', { window })), []);
  });

  test('calendar windows of ticks in one day are one run, not an overlap', () => {
    // Prepare
    const window = { kind: 'calendar', unit: 'day', offset: -1 } as const;
    // Act / Assess
    assert.deepEqual(
      codesAndDates(job('rate(15 minutes)', 'UTC', { window, overlap: 'allow' })),
      [],
    );
  });
});
