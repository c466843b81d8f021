import assert from 'node:assert/strict';
import { DateTime } from 'luxon';
import { test } from 'vitest';
import type { JobDefinition } from '../../contracts';
import { runWindow } from '../../functions/core/window';
import { instantOf, instantsOf, isoInZone, isoWeekOf, offsetAt } from '../../functions/core/zoned';

const iso = (ms: number) => new Date(ms).toISOString();
const calendar = (unit: 'hour' | 'day' | 'iso_week' | 'month', offset: number, timezone: string) =>
  ({
    window: { kind: 'calendar', unit, offset },
    schedule: { expression: 'cron(0 * * * ? *)', timezone },
  }) as unknown as Pick<JobDefinition, 'window' | 'schedule'>;

test('a wall time in a spring-forward gap has no instant; instantOf moves it forward by the gap', () => {
  // Prepare
  const wall = { year: 2026, month: 3, day: 8, hour: 2, minute: 30, second: 0 };
  // Act
  const found = instantsOf(wall, 'America/New_York');
  const moved = instantOf(wall, 'America/New_York');
  // Assess
  assert.deepEqual(found, []);
  assert.equal(iso(moved), '2026-03-08T07:30:00.000Z'); // 03:30 EDT
});

test('a wall time in a fall-back fold has two instants; instantOf is the first', () => {
  // Prepare
  const wall = { year: 2026, month: 11, day: 1, hour: 1, minute: 30, second: 0 };
  // Act
  const found = instantsOf(wall, 'America/New_York').map(iso);
  // Assess
  assert.deepEqual(found, ['2026-11-01T05:30:00.000Z', '2026-11-01T06:30:00.000Z']);
  assert.equal(iso(instantOf(wall, 'America/New_York')), found[0]);
});

test('offsets and ISO strings: half and three-quarter hours, negative offsets, UTC as Z', () => {
  // Prepare
  const at = Date.parse('2026-01-15T10:20:30Z');
  // Act
  const shown = ['Asia/Kolkata', 'Asia/Kathmandu', 'America/St_Johns', 'Europe/London', 'UTC'].map(
    (zone) => isoInZone(at, zone),
  );
  // Assess
  assert.deepEqual(shown, [
    '2026-01-15T15:50:30+05:30',
    '2026-01-15T16:05:30+05:45',
    '2026-01-15T06:50:30-03:30',
    '2026-01-15T10:20:30+00:00',
    '2026-01-15T10:20:30Z',
  ]);
  assert.equal(offsetAt(Date.parse('2026-07-01T00:00:00Z'), 'Europe/Berlin'), 2 * 3_600_000);
  assert.equal(isoInZone(at + 5, 'UTC'), '2026-01-15T10:20:30.005Z');
});

test('calendar windows: an hour at +05:45, an ISO week across a DST change, a day that starts at 01:00', () => {
  // Act
  const hour = runWindow(calendar('hour', 0, 'Asia/Kathmandu'), new Date('2026-01-15T10:20:00Z'));
  const week = runWindow(
    calendar('iso_week', 0, 'Europe/Berlin'),
    new Date('2026-03-27T12:00:00Z'),
  );
  const previousMonth = runWindow(
    calendar('month', -1, 'Asia/Tokyo'),
    new Date('2026-03-01T00:30:00Z'),
  );
  // America/Santiago springs forward at midnight on 2026-09-06: that day starts at 01:00 (-03).
  const shortDay = runWindow(
    calendar('day', 0, 'America/Santiago'),
    new Date('2026-09-06T12:00:00Z'),
  );
  // Assess
  assert.deepEqual(hour, { start: '2026-01-15T10:15:00Z', end: '2026-01-15T11:15:00Z' });
  assert.deepEqual(week, { start: '2026-03-22T23:00:00Z', end: '2026-03-29T22:00:00Z' });
  assert.deepEqual(previousMonth, { start: '2026-01-31T15:00:00Z', end: '2026-02-28T15:00:00Z' });
  assert.deepEqual(shortDay, { start: '2026-09-06T04:00:00Z', end: '2026-09-07T03:00:00Z' });
});

test('the calendar windows agree with luxon (what the handlers used before) wherever midnight exists', () => {
  // Prepare: every 7 h 13 min through 2026, in zones with DST, odd offsets and none
  const zones = [
    'America/New_York',
    'Europe/London',
    'Australia/Lord_Howe',
    'Asia/Kathmandu',
    'UTC',
  ];
  const unitOf = { hour: 'hour', day: 'day', iso_week: 'week', month: 'month' } as const;
  const mismatches: string[] = [];
  let checked = 0;
  // Act
  for (
    let t = Date.parse('2026-01-01T00:00:00Z');
    t < Date.parse('2027-01-01T00:00:00Z');
    t += 26_000_000
  )
    for (const zone of zones)
      for (const unit of ['hour', 'day', 'iso_week', 'month'] as const) {
        const tick = new Date(Math.floor(t / 60_000) * 60_000);
        const mine = runWindow(calendar(unit, -1, zone), tick);
        const current = DateTime.fromJSDate(tick, { zone }).startOf(unitOf[unit]);
        const start = current.plus({ [`${unitOf[unit]}s`]: -1 });
        const theirs = {
          start: start.toUTC().toISO({ suppressMilliseconds: true }),
          end: current.toUTC().toISO({ suppressMilliseconds: true }),
        };
        checked++;
        if (mine.start !== theirs.start || mine.end !== theirs.end)
          mismatches.push(`${zone} ${unit} ${tick.toISOString()}`);
      }
  // Assess
  assert.ok(checked > 20_000, `${checked} windows`);
  assert.deepEqual(mismatches, []);
});

test('ISO weeks at the turn of the year: the week belongs to the year of its Thursday', () => {
  // Act
  const weeks = [
    { year: 2024, month: 12, day: 30 }, // a Monday
    { year: 2026, month: 1, day: 1 }, // a Thursday
    { year: 2027, month: 1, day: 1 }, // a Friday
    { year: 2027, month: 1, day: 4 }, // the Monday after
  ].map((day) => isoWeekOf(day));
  // Assess
  assert.deepEqual(weeks, [
    { year: 2025, week: 1 },
    { year: 2026, week: 1 },
    { year: 2026, week: 53 },
    { year: 2027, week: 1 },
  ]);
});
