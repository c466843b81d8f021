import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import type { JobDefinition } from '../../contracts';
import { deadManWindow, heartbeatOf } from '../../functions/core/freshness';
import type { JobState } from '../../functions/core/ports';

const job = (expression: string, enabled = true): Pick<JobDefinition, 'schedule' | 'enabled'> => ({
  enabled,
  schedule: { expression, timezone: 'UTC' },
});
const state = (fields: Partial<JobState>): JobState => ({
  jobId: 'j',
  consecutiveFailures: 0,
  runCount: 1,
  ...fields,
});
const NOW = new Date('2026-12-02T12:00:00Z');

describe('heartbeats and freshness (the dead-man rule)', () => {
  test('an hourly job with 30 min of grace may be 90 min old: 89 is fresh, 91 is stale', () => {
    // Prepare
    const at = (minutesAgo: number) => new Date(NOW.getTime() - minutesAgo * 60_000).toISOString();
    // Act
    const fresh = heartbeatOf(job('rate(1 hour)'), state({ lastSuccessAt: at(89) }), 30, NOW);
    const stale = heartbeatOf(job('rate(1 hour)'), state({ lastSuccessAt: at(91) }), 30, NOW);
    // Assess
    assert.equal(fresh.maxAgeSeconds, 90 * 60);
    assert.deepEqual([fresh.stale, fresh.pendingAlerts], [false, []]);
    assert.equal(stale.stale, true);
    assert.deepEqual(stale.pendingAlerts, ['stale: last success 91 min ago (allowed 90 min)']);
  });

  test('never succeeded: stale (the alarm treats no data as breaching); disabled: never stale', () => {
    // Act
    const never = heartbeatOf(job('rate(15 minutes)'), undefined, 30, NOW);
    const disabled = heartbeatOf(job('rate(15 minutes)', false), undefined, 30, NOW);
    // Assess
    assert.equal(never.stale, true);
    assert.match(never.pendingAlerts[0]!, /^stale: no successful run yet/);
    assert.equal(disabled.stale, false);
  });

  test('a one-off at() job is not watched; the last failure, a quarantine and failures in a row are reported', () => {
    // Prepare
    const s = state({
      lastSuccessAt: '2026-12-02T11:50:00Z',
      lastFailureAt: '2026-12-02T11:55:00Z',
      lastFailureKind: 'permission',
      consecutiveFailures: 2,
      quarantine: { since: '2026-12-02T11:55:00Z', jobRunId: 'j/x', reason: 'r' },
    });
    // Act
    const oneOff = heartbeatOf(job('at(2027-01-01T00:00:00)'), s, 30, NOW);
    // Assess
    assert.equal(oneOff.maxAgeSeconds, null);
    assert.equal(oneOff.stale, false);
    assert.deepEqual(
      [oneOff.lastFailureAt, oneOff.lastFailureKind],
      ['2026-12-02T11:55:00Z', 'permission'],
    );
    assert.deepEqual(oneOff.pendingAlerts, [
      'quarantined since 2026-12-02T11:55:00Z',
      'failing: 2 failure(s) in a row',
    ]);
  });

  test('the allowed age is the alarm window: a weekly job rounds up to whole days', () => {
    // Prepare
    const window = deadManWindow(7 * 86_400, 30);
    // Act
    const beat = heartbeatOf(job('cron(0 3 ? * MON *)'), undefined, 30, NOW);
    // Assess
    assert.deepEqual(window, { periodSeconds: 86_400, evaluationPeriods: 7 });
    assert.equal(beat.maxAgeSeconds, 7 * 86_400);
  });
});
