import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, test } from 'vitest';
import {
  advanceStreak,
  type HourlyRollup,
  type LatencySample,
  nearestRank,
  noStreak,
  rollUpHourly,
} from '../../functions/core/latency';

const sample = (at: string, latencyMs: number, status: number | null = 200): LatencySample => ({
  at,
  endpoint: 'api',
  latencyMs,
  status,
});

describe('hourly roll-ups', () => {
  test('p50, p95, count, failures and breach per endpoint and hour, from a fixture', () => {
    // Prepare: hour 10 has 20 good samples 10..200 ms; hour 11 has 19 good and one timeout;
    // another endpoint in hour 10 is slow.
    const samples: LatencySample[] = [];
    for (let i = 1; i <= 20; i++)
      samples.push(sample(`2026-12-01T10:${String(i).padStart(2, '0')}:00.000Z`, i * 10));
    for (let i = 1; i <= 19; i++)
      samples.push(sample(`2026-12-01T11:${String(i).padStart(2, '0')}:00.000Z`, 50));
    samples.push(sample('2026-12-01T11:59:59.000Z', 5000, null));
    samples.push({ at: '2026-12-01T10:30:00.000Z', endpoint: 'web', latencyMs: 900, status: 200 });
    // Act
    const rollups = rollUpHourly(samples, (endpoint) => (endpoint === 'web' ? 500 : 150));
    // Assess
    assert.deepEqual(rollups, [
      {
        endpoint: 'api',
        hour: '2026-12-01T10:00:00.000Z',
        count: 20,
        failures: 0,
        p50Ms: 100,
        p95Ms: 190,
        breach: true,
      },
      {
        endpoint: 'web',
        hour: '2026-12-01T10:00:00.000Z',
        count: 1,
        failures: 0,
        p50Ms: 900,
        p95Ms: 900,
        breach: true,
      },
      {
        endpoint: 'api',
        hour: '2026-12-01T11:00:00.000Z',
        count: 20,
        failures: 1,
        p50Ms: 50,
        p95Ms: 50,
        breach: false,
      },
    ]);
  });

  test('an endpoint that is down: the percentiles fall on failures (null) and the hour breaches', () => {
    // Prepare
    const samples = [
      sample('2026-12-01T10:00:00.000Z', 5000, null),
      sample('2026-12-01T10:15:00.000Z', 20, 503),
    ];
    // Act
    const [rollup] = rollUpHourly(samples, () => 10_000);
    // Assess
    assert.deepEqual(
      [rollup!.p50Ms, rollup!.p95Ms, rollup!.failures, rollup!.breach],
      [null, null, 2, true],
    );
  });

  test('nearest rank: p50 ≤ p95, both values of the sample, within its bounds', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: 1 }), (values) => {
        const sorted = [...values].sort((a, b) => a - b);
        const p50 = nearestRank(sorted, 0.5)!;
        const p95 = nearestRank(sorted, 0.95)!;
        return p50 <= p95 && values.includes(p50) && values.includes(p95) && p95 <= sorted.at(-1)!;
      }),
    );
  });
});

describe('breach streaks (docs/latency-slo.md: 2 → warning, 3 → critical)', () => {
  const hour = (h: number, breach: boolean): HourlyRollup => ({
    endpoint: 'api',
    hour: `2026-12-01T${String(h).padStart(2, '0')}:00:00.000Z`,
    count: 4,
    failures: 0,
    p50Ms: 1,
    p95Ms: 1,
    breach,
  });
  const thresholds = { warningAfter: 2, criticalAfter: 3 };

  test('1 breach: nothing; 2: warning; 3: critical; 4: no new alert; a good hour resets', () => {
    // Prepare
    const hours = [
      hour(1, true),
      hour(2, true),
      hour(3, true),
      hour(4, true),
      hour(5, false),
      hour(6, true),
      hour(7, true),
    ];
    let streak = noStreak('api');
    const seen: (string | null)[] = [];
    // Act
    for (const h of hours) {
      const next = advanceStreak(streak, h, thresholds);
      streak = next.streak;
      seen.push(next.alert ? `${next.alert.level}@${next.alert.streak}` : null);
    }
    // Assess
    assert.deepEqual(seen, [null, 'warning@2', 'critical@3', null, null, null, 'warning@2']);
    assert.equal(streak.streak, 2);
    assert.equal(streak.lastBreachAt, '2026-12-01T07:00:00.000Z');
  });

  test('the same hour counted twice (a re-run of the window) changes nothing', () => {
    // Prepare
    const once = advanceStreak(noStreak('api'), hour(1, true), thresholds).streak;
    // Act
    const again = advanceStreak(once, hour(1, true), thresholds);
    // Assess
    assert.deepEqual(again, { streak: once, alert: null });
  });
});
