import assert from 'node:assert/strict';
import { test } from 'vitest';
import { parseScheduleExpression } from '../../contracts/schedule';
import { formatInZone, nextRunTimes, scheduledTimes } from '../../functions/core/schedule';
import { deriveJobRunId, evidencePrefix } from '../../functions/core/ids';

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

test('cron in a time zone: 09:00 Asia/Tokyo is 00:00 UTC, every day', () => {
  const times = nextRunTimes(
    { expression: 'cron(0 9 * * ? *)', timezone: 'Asia/Tokyo' },
    new Date('2026-01-01T03:00:00Z'),
    3,
  );
  assert.deepEqual(iso(times), [
    '2026-01-02T00:00:00.000Z',
    '2026-01-03T00:00:00.000Z',
    '2026-01-04T00:00:00.000Z',
  ]);
  assert.equal(formatInZone(times[0]!, 'Asia/Tokyo'), '2026-01-02T09:00:00+09:00');
});

test('DST spring forward: a local time that does not exist is skipped (America/New_York, 2026-03-08 02:30)', () => {
  const times = nextRunTimes(
    { expression: 'cron(30 2 * * ? *)', timezone: 'America/New_York' },
    new Date('2026-03-07T00:00:00Z'),
    3,
  );
  assert.deepEqual(iso(times), [
    '2026-03-07T07:30:00.000Z',
    '2026-03-09T06:30:00.000Z',
    '2026-03-10T06:30:00.000Z',
  ]);
});

test('DST fall back: a local time that happens twice runs once, at its first occurrence (2026-11-01 01:30)', () => {
  const times = nextRunTimes(
    { expression: 'cron(30 1 * * ? *)', timezone: 'America/New_York' },
    new Date('2026-10-31T12:00:00Z'),
    2,
  );
  assert.deepEqual(iso(times), ['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
});

test('DST: an hourly cron across the fall-back hour fires once per distinct wall time', () => {
  const times = scheduledTimes(
    { expression: 'cron(0 * * * ? *)', timezone: 'Europe/Berlin' },
    new Date('2026-10-24T23:30:00Z'),
    new Date('2026-10-25T03:30:00Z'),
    100,
  );
  assert.deepEqual(iso(times), [
    '2026-10-25T00:00:00.000Z',
    '2026-10-25T02:00:00.000Z',
    '2026-10-25T03:00:00.000Z',
  ]);
});

test('cron day-of-week names, ranges, nth weekday, last day and nearest weekday', () => {
  const from = new Date('2026-11-21T00:00:00Z'); // a Saturday
  const z = 'Asia/Tokyo';
  assert.deepEqual(
    nextRunTimes({ expression: 'cron(0 9 ? * MON-FRI *)', timezone: z }, from, 2).map((d) =>
      formatInZone(d, z),
    ),
    ['2026-11-23T09:00:00+09:00', '2026-11-24T09:00:00+09:00'],
  );
  assert.deepEqual(
    nextRunTimes({ expression: 'cron(0 9 ? * 6#3 *)', timezone: z }, from, 2).map((d) =>
      formatInZone(d, z),
    ),
    ['2026-12-18T09:00:00+09:00', '2027-01-15T09:00:00+09:00'],
  );
  assert.deepEqual(
    nextRunTimes({ expression: 'cron(0 0 L * ? *)', timezone: 'UTC' }, from, 2).map((d) =>
      d.toISOString(),
    ),
    ['2026-11-30T00:00:00.000Z', '2026-12-31T00:00:00.000Z'],
  );
  // 2027-02-01 is a Monday; 2026-08-01 is a Saturday → the 1W of August is Monday the 3rd.
  assert.deepEqual(
    nextRunTimes({ expression: 'cron(0 0 1W 8 ? 2027)', timezone: 'UTC' }, from, 1).map((d) =>
      d.toISOString(),
    ),
    ['2027-08-02T00:00:00.000Z'],
  );
  assert.deepEqual(
    nextRunTimes({ expression: 'cron(0/20 10 ? * 2L *)', timezone: 'UTC' }, from, 3).map((d) =>
      d.toISOString(),
    ),
    ['2026-11-30T10:00:00.000Z', '2026-11-30T10:20:00.000Z', '2026-11-30T10:40:00.000Z'],
  );
});

test('rate(…) ticks are aligned to the Unix epoch and at(…) happens once in its zone', () => {
  assert.deepEqual(
    iso(
      nextRunTimes(
        { expression: 'rate(15 minutes)', timezone: 'Asia/Tokyo' },
        new Date('2026-01-01T00:07:00Z'),
        2,
      ),
    ),
    ['2026-01-01T00:15:00.000Z', '2026-01-01T00:30:00.000Z'],
  );
  assert.deepEqual(
    iso(
      nextRunTimes(
        { expression: 'at(2026-05-01T09:00:00)', timezone: 'Asia/Tokyo' },
        new Date('2026-01-01T00:00:00Z'),
        3,
      ),
    ),
    ['2026-05-01T00:00:00.000Z'],
  );
  assert.deepEqual(
    nextRunTimes(
      { expression: 'at(2025-05-01T09:00:00)', timezone: 'Asia/Tokyo' },
      new Date('2026-01-01T00:00:00Z'),
      3,
    ),
    [],
  );
});

test('invalid expressions are rejected with a reason', () => {
  const cases: [string, RegExp][] = [
    ['cron(0 9 * * *)', /6 fields/],
    ['cron(0 9 * * * *)', /exactly one of day-of-month and day-of-week/],
    ['cron(61 9 * * ? *)', /outside 0-59/],
    ['cron(0 9 ? * FUNDAY *)', /not a number or name/],
    ['rate(0 minutes)', /positive/],
    ['rate(1 minutes)', /use '1 minute'/],
    ['rate(5 weeks)', /rate\(<n> minutes\|hours\|days\)/],
    ['at(2026-05-01 09:00)', /yyyy-mm-ddThh:mm:ss/],
    ['every day at nine', /not cron\(…\), rate\(…\) or at\(…\)/],
  ];
  for (const [expression, reason] of cases)
    assert.throws(() => parseScheduleExpression(expression), reason, expression);
});

test('a run id is the job and its tick to the minute, so a redelivery within the minute is the same run', () => {
  assert.equal(
    deriveJobRunId('a_job', new Date('2026-01-01T00:00:00Z')),
    'a_job/2026-01-01T00:00:00Z',
  );
  assert.equal(
    deriveJobRunId('a_job', new Date('2026-01-01T00:00:42.123Z')),
    'a_job/2026-01-01T00:00:00Z',
  );
  assert.equal(
    evidencePrefix('dev', 'a_job', new Date('2026-01-01T23:05:00Z')),
    'stage=dev/dt=2026-01-01/job_id=a_job/',
  );
});
