import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { LocalRuntime, type ExecutionOutcome } from '../../local/runtime';
import { LocalScheduler, type Dispatch } from '../../local/scheduler';
import type { LocalStack } from '../../local/stack';
import { countingJob } from '../support/jobs';
import { policyFixture, testStack } from '../support/local';
import { ManualClock } from '../support/clock';

describe('local scheduler: enabled jobs at their times, no tick twice across restarts', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  const job = countingJob('tick_job');

  beforeAll(async () => {
    const policyDir = policyFixture({
      'catalog.json': (c) => ({
        ...c,
        jobs: [
          ...c.jobs,
          {
            jobId: 'tick_job',
            jobVersion: '1.0.0',
            jobClass: 'REPORTING',
            owner: 't',
            description: 'd',
            idempotent: true,
            schedule: { expression: 'cron(*/15 * * * ? *)', timezone: 'Asia/Tokyo' },
            // Caught-up ticks run side by side here (docs/scheduling.md#overlap).
            overlap: 'allow',
          },
          {
            jobId: 'off_job',
            jobVersion: '1.0.0',
            jobClass: 'REPORTING',
            owner: 't',
            description: 'd',
            schedule: { expression: 'rate(1 minute)' },
          },
        ],
      }),
      'local.json': (p) => ({
        ...p,
        jobs: { tick_job: { enabled: true } },
        scheduler: { ...p.scheduler, catchUpMinutes: 30 },
      }),
    });
    stack = await testStack({ policyDir });
    runtime = new LocalRuntime(stack.env, [job, countingJob('off_job')]);
  });
  afterAll(async () => stack.stop());

  test('dispatches due ticks of enabled jobs only, and a restarted scheduler repeats none of them', async () => {
    const clock = new ManualClock(new Date('2026-04-01T00:05:00Z'));
    const outcomes: [Dispatch, ExecutionOutcome][] = [];
    const start = () =>
      new LocalScheduler(runtime, runtime.deps.policy, runtime.deps.state, clock, {
        onOutcome: (d, o) => outcomes.push([d, o]),
      });
    const first = start();

    assert.deepEqual(await first.tick(), [], 'the first start begins from now');
    clock.current = new Date('2026-04-01T00:31:00Z');
    const dispatched = await first.tick();
    await first.drain();

    assert.deepEqual(
      dispatched.map((d) => d.scheduledTime),
      ['2026-04-01T00:15:00Z', '2026-04-01T00:30:00Z'],
    );
    assert.ok(
      dispatched.every((d) => d.jobId === 'tick_job'),
      'off_job is not enabled in this stage',
    );
    assert.deepEqual(
      outcomes.map(([, o]) => o.kind),
      ['completed', 'completed'],
    );

    const restarted = start();
    assert.deepEqual(await restarted.tick(), [], 'a restart in the same minute repeats nothing');
    clock.current = new Date('2026-04-01T00:46:00Z');
    assert.deepEqual(
      (await restarted.tick()).map((d) => d.scheduledTime),
      ['2026-04-01T00:45:00Z'],
    );
    await restarted.drain();
    // Catch-up ticks run concurrently, as separate executions do, so their effects may land in any
    // order.
    assert.deepEqual([...job.effects].sort(), [
      'tick_job/2026-04-01T00:15:00Z',
      'tick_job/2026-04-01T00:30:00Z',
      'tick_job/2026-04-01T00:45:00Z',
    ]);
  });

  test('after a long stop, ticks older than the catch-up window are reported missed, not run', async () => {
    const clock = new ManualClock(new Date('2026-04-01T06:01:00Z'));
    const missed: string[] = [];
    const scheduler = new LocalScheduler(runtime, runtime.deps.policy, runtime.deps.state, clock, {
      onMissed: (jobId, from) => missed.push(`${jobId} ${from}`),
    });

    const dispatched = await scheduler.tick();
    await scheduler.drain();

    assert.deepEqual(missed, ['tick_job 2026-04-01T00:45:00Z']);
    assert.deepEqual(
      dispatched.map((d) => d.scheduledTime),
      ['2026-04-01T05:45:00Z', '2026-04-01T06:00:00Z'],
    );
  });
});
