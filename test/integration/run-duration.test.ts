import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { RunRecord } from '../../contracts';
import type { Clock } from '../../functions/core/clock';
import { LocalRuntime } from '../../local/runtime';
import { readVerifiedBundle } from '../support/evidence';
import { countingJob } from '../support/jobs';
import { withTestJobs } from '../support/local';
import { memoryStack } from '../support/memory';

/**
 * A run's duration (docs/observability.md#kpis): from its claim to its end, for a success as for a
 * failure, so the KPIs measure one thing. Its own stack: the clock here moves a second a reading.
 */
describe('run duration: real ASL, real handlers, the in-memory ports', () => {
  let stack: ReturnType<typeof memoryStack>;

  beforeAll(() => {
    stack = memoryStack({ policyDir: withTestJobs([{ jobId: 'timed_job' }]) });
  });
  afterAll(async () => stack.stop());

  test('a successful run lasts from its claim to its end, like a failed one', async () => {
    // Prepare: a clock that moves a second at every reading
    let tick = Date.parse('2026-06-01T12:00:00Z');
    const ticking: Clock = {
      now: () => {
        tick += 1000;
        return new Date(tick);
      },
    };
    const runtime = new LocalRuntime(stack.env, [countingJob('timed_job')], {
      ports: stack.ports,
      clock: ticking,
    });

    // Act
    const outcome = await runtime.run({
      jobId: 'timed_job',
      scheduledTime: '2026-06-01T12:00:00Z',
      trigger: 'schedule',
    });

    // Assess: the record starts at the claim, before the preflight's readings
    assert.ok(outcome.kind === 'completed', outcome.kind);
    const item = await runtime.deps.state.getRun('timed_job/2026-06-01T12:00:00Z');
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      outcome.summary.manifestKey as string,
    );
    const record = RunRecord.parse(JSON.parse(bundle.objects['run_record.json'] as string));
    assert.equal(record.startedAt, item?.claimedAt);
    assert.equal(record.duration_ms, Date.parse(record.endedAt) - Date.parse(record.startedAt));
    assert.ok(record.duration_ms > 1000, `${record.duration_ms} ms spans more than the job`);
  });
});
