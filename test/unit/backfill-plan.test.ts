import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { planBackfill } from '../../functions/core/backfill';
import { ValidationError } from '../../functions/core/errors';

const NOW = new Date('2026-05-01T00:00:00Z');
const hourly = {
  jobId: 'plan_job',
  schedule: { expression: 'rate(1 hour)', timezone: 'Asia/Tokyo' },
  window: { kind: 'tick', minutes: 60 },
} as const;

describe('planBackfill: the windows of a schedule between two times', () => {
  test('both bounds included, oldest first, one run id per window', () => {
    // Prepare
    const bounds = {
      from: new Date('2026-04-01T00:00:00Z'),
      to: new Date('2026-04-01T09:00:00Z'),
      now: NOW,
    };

    // Act
    const plan = planBackfill(hourly, bounds, 24);

    // Assess
    assert.equal(plan.length, 10);
    assert.equal(plan[0]?.scheduledTime, '2026-04-01T00:00:00Z');
    assert.equal(plan.at(-1)?.scheduledTime, '2026-04-01T09:00:00Z');
    assert.deepEqual(
      plan.map((w) => w.scheduledTime),
      [...plan.map((w) => w.scheduledTime)].sort(),
    );
    assert.equal(plan[3]?.jobRunId, 'plan_job/2026-04-01T03:00:00Z');
    assert.deepEqual(plan[3]?.window, {
      start: '2026-04-01T03:00:00Z',
      end: '2026-04-01T04:00:00Z',
    });
  });

  test('ticks of one calendar window are one window (the first tick), as Preflight makes them one run', () => {
    // Prepare
    const daily = { ...hourly, window: { kind: 'calendar', unit: 'day', offset: -1 } } as const;

    // Act
    const plan = planBackfill(
      daily,
      { from: new Date('2026-04-01T00:00:00Z'), to: new Date('2026-04-03T23:00:00Z'), now: NOW },
      24,
    );

    // Assess: Tokyo days (UTC+9), each tick's previous one; the first tick of a day stands for it.
    assert.deepEqual(
      plan.map((w) => [w.scheduledTime, w.window.start]),
      [
        ['2026-04-01T00:00:00Z', '2026-03-30T15:00:00Z'],
        ['2026-04-01T15:00:00Z', '2026-03-31T15:00:00Z'],
        ['2026-04-02T15:00:00Z', '2026-04-01T15:00:00Z'],
        ['2026-04-03T15:00:00Z', '2026-04-02T15:00:00Z'],
      ],
    );
  });

  test('ticks after now are left out: their inputs do not exist yet', () => {
    // Act
    const plan = planBackfill(
      hourly,
      { from: new Date('2026-04-30T22:00:00Z'), to: new Date('2026-05-02T00:00:00Z'), now: NOW },
      24,
    );

    // Assess
    assert.deepEqual(
      plan.map((w) => w.scheduledTime),
      ['2026-04-30T22:00:00Z', '2026-04-30T23:00:00Z', '2026-05-01T00:00:00Z'],
    );
  });

  test('more windows than the bound is refused, naming the bound; exactly the bound is not', () => {
    // Prepare
    const from = new Date('2026-04-01T00:00:00Z');
    const tenWindows = { from, to: new Date('2026-04-01T09:00:00Z'), now: NOW };

    // Act
    const atBound = planBackfill(hourly, tenWindows, 10);
    const refused = (() => {
      try {
        planBackfill(hourly, tenWindows, 9);
        return null;
      } catch (error) {
        return error;
      }
    })();

    // Assess
    assert.equal(atBound.length, 10);
    assert.ok(refused instanceof ValidationError);
    assert.match(refused.message, /10 windows of plan_job/);
    assert.match(refused.message, /at most scheduler\.backfillMaxWindows = 9/);
  });

  test('a range that ends before it starts is refused', () => {
    assert.throws(
      () =>
        planBackfill(
          hourly,
          {
            from: new Date('2026-04-02T00:00:00Z'),
            to: new Date('2026-04-01T00:00:00Z'),
            now: NOW,
          },
          24,
        ),
      ValidationError,
    );
  });
});
