import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { AuditEvent } from '../../contracts';
import { statusReport } from '../../functions/core/controls';
import { createPreflightHandler } from '../../functions/preflight/handler';
import type { JobImplementation } from '../../functions/jobs/types';
import { openRunCheck, withHolders } from '../../cli/resume';
import { localExecutionName } from '../../local/holders';
import { isLocalHolderAlive } from '../../local/holders';
import { LocalRuntime, type ExecutionOutcome } from '../../local/runtime';
import { LocalScheduler, type Dispatch } from '../../local/scheduler';
import type { LocalStack } from '../../local/stack';
import { countingJob } from '../support/jobs';
import { testStack, withTestJobs } from '../support/local';
import { ManualClock } from '../support/clock';

/** A job that records how many of its runs overlap and in which order they started. */
function overlapJob(
  jobId: string,
  delayMs: number,
): JobImplementation & { started: string[]; maxActive: number } {
  let active = 0;
  const job = {
    jobId,
    started: [] as string[],
    maxActive: 0,
    async run({ run }: { run: { jobRunId: string } }) {
      job.started.push(run.jobRunId);
      job.maxActive = Math.max(job.maxActive, ++active);
      await new Promise((r) => setTimeout(r, delayMs));
      active--;
      return { quality: 'OK' as const, outputs: [], integrityReport: null, diagnostics: [] };
    },
  };
  return job as never;
}

const ARN = 'arn:aws:states:us-east-1:000000000000:execution:opsrail-local-job-run:';
/** An execution held by a process that is gone: this pid with another start time (a reused pid). */
const deadHolderExecution = () => `${ARN}p${process.pid}t1000000000000-${randomUUID()}`;

describe('a calm local scheduler', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  const burst = overlapJob('calm_burst', 150);
  const counting = countingJob('calm_resume');

  beforeAll(async () => {
    const policyDir = withTestJobs(
      [
        // A burst of caught-up ticks that run side by side (docs/scheduling.md#overlap).
        { jobId: 'calm_burst', schedule: { expression: 'rate(1 minute)' }, overlap: 'allow' },
        {
          jobId: 'calm_daily',
          schedule: { expression: 'cron(5 0 * * ? *)', timezone: 'Asia/Tokyo' },
        },
        // Two of its windows are left open at once, one by a dead holder (docs/scheduling.md#overlap).
        {
          jobId: 'calm_resume',
          schedule: { expression: 'cron(0 0 1 1 ? 2099)' },
          overlap: 'allow',
        },
      ],
      (p) => ({ ...p, scheduler: { ...p.scheduler, catchUpMinutes: 10, maxConcurrentRuns: 2 } }),
    );
    stack = await testStack({ policyDir });
    runtime = new LocalRuntime(stack.env, [burst, countingJob('calm_daily'), counting], {
      takeOverDeadHolders: true,
    });
  });
  afterAll(async () => stack.stop());

  test('missed ticks are reported once per gap, and nothing at all when no tick was missed', async () => {
    const clock = new ManualClock(new Date('2026-03-10T12:00:00Z'));
    const missed: string[] = [];
    const dispatched: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const scheduler = new LocalScheduler(runtime, runtime.deps.policy, runtime.deps.state, clock, {
      onMissed: (jobId, from, to, count) => missed.push(`${jobId} ${from} ${to} ${count}`),
      onDispatch: (d) => {
        maxRunning = Math.max(maxRunning, ++running);
        if (d.jobId === 'calm_burst') dispatched.push(d.scheduledTime);
      },
      onOutcome: () => running--,
    });
    // calm_daily ran at its last tick (00:05 JST = 15:05Z the day before); calm_burst was stopped
    // for 2 hours.
    await runtime.deps.state.setSchedulerCursor('calm_daily', '2026-03-09T15:05:00Z');
    await runtime.deps.state.setSchedulerCursor('calm_burst', '2026-03-10T10:00:00Z');
    for (let pass = 0; pass < 6; pass++) {
      await scheduler.tick();
      clock.current = new Date(clock.current.getTime() + 5_000);
    }
    await scheduler.drain();
    assert.deepEqual(missed, ['calm_burst 2026-03-10T10:00:00Z 2026-03-10T11:50:00Z 110']);
    assert.equal(burst.started.length, 10, 'the ten ticks inside the catch-up window ran');
    assert.equal(maxRunning, 2, 'at most scheduler.maxConcurrentRuns executions at a time');
    assert.ok(burst.maxActive <= 2, 'so at most two job bodies overlap');
    assert.deepEqual(
      dispatched,
      [...dispatched].sort(),
      'catch-up ticks are dispatched oldest first',
    );
    assert.equal(dispatched.length, 10);
    assert.equal(dispatched[0], '2026-03-10T11:51:00Z');

    // A restarted scheduler finds the cursor past the gap: no second report.
    const again = new LocalScheduler(runtime, runtime.deps.policy, runtime.deps.state, clock, {
      onMissed: (jobId) => missed.push(jobId),
    });
    await again.tick();
    await again.drain();
    assert.equal(missed.length, 1);
  });

  test('a catch-up burst of integrity checks does not degrade the evidence by itself', async () => {
    const clock = new ManualClock(new Date('2026-03-11T12:00:00Z'));
    const outcomes: ExecutionOutcome[] = [];
    const checks = new LocalRuntime(stack.env, [burst, countingJob('calm_daily'), counting], {});
    // Every run at once (the burst of the issue: 8 in parallel), integrity checks among other runs.
    const policy = checks.deps.policy;
    const parallel = {
      ...policy,
      settings: {
        ...policy.settings,
        scheduler: { ...policy.settings.scheduler, maxConcurrentRuns: 8 },
      },
      jobs: policy.jobs.map((j) => ({
        ...j,
        enabled: j.jobId === 'evidence_integrity_check' || j.jobId === 'calm_burst',
      })),
    };
    const scheduler = new LocalScheduler(checks, parallel, checks.deps.state, clock, {
      onOutcome: (_d, o) => outcomes.push(o),
    });
    await checks.deps.state.setSchedulerCursor('evidence_integrity_check', '2026-03-11T11:50:00Z');
    await checks.deps.state.setSchedulerCursor('calm_burst', '2026-03-11T11:50:00Z');
    clock.current = new Date('2026-03-11T12:00:30Z');
    await scheduler.tick();
    await scheduler.drain();
    const qualities = outcomes.map((o) =>
      'summary' in o && o.summary ? `${o.summary.jobId ?? ''}${o.summary.quality}` : o.kind,
    );
    assert.ok(outcomes.length >= 10, qualities.join(','));
    assert.ok(
      outcomes.every((o) => o.kind === 'completed' && o.summary.quality === 'OK'),
      qualities.join(','),
    );
    assert.notEqual((await checks.deps.state.getControls()).datasets?.evidence?.status, 'FAIL');
  });

  test('a run whose holder is gone is resumed at once, once, even when two passes see it', async () => {
    const request = {
      jobId: 'calm_resume',
      scheduledTime: '2026-03-12T00:00:00Z',
      trigger: 'schedule' as const,
    };
    const dead = deadHolderExecution();
    await createPreflightHandler(runtime.deps)({ executionId: dead, request }, {} as never);
    const live = `${ARN}${localExecutionName(randomUUID())}`;
    await createPreflightHandler(runtime.deps)(
      { executionId: live, request: { ...request, scheduledTime: '2026-03-12T01:00:00Z' } },
      {} as never,
    );
    assert.equal(isLocalHolderAlive(dead), false);
    assert.equal(isLocalHolderAlive(live), true);

    // Before anyone takes it over, status names it orphaned and `opsrail run` offers --resume.
    const status = withHolders(await statusReport({ ...runtime.deps }), true);
    assert.deepEqual(
      status.openRuns
        .filter((r) => r.jobId === 'calm_resume')
        .map((r) => [r.scheduledTime, r.orphaned])
        .sort(),
      [
        ['2026-03-12T00:00:00Z', true],
        ['2026-03-12T01:00:00Z', false],
      ],
    );
    const offer = await openRunCheck(runtime.deps, { ...request, trigger: 'manual' }, false);
    assert.equal(offer?.exitCode, 3);
    assert.match(
      offer?.message ?? '',
      /was claimed by execution .* \(pid \d+, gone\) and never finished .* --resume/,
    );
    assert.doesNotMatch(offer?.message ?? '', /already ran/);
    const busy = await openRunCheck(
      runtime.deps,
      { ...request, scheduledTime: '2026-03-12T01:00:00Z', trigger: 'manual' },
      true,
    );
    assert.match(busy?.message ?? '', /is being run now by .*still running/);

    const resumedEvents: string[] = [];
    const outcomes: [Dispatch, ExecutionOutcome][] = [];
    const clock = { now: () => new Date() };
    const scheduler = new LocalScheduler(
      runtime,
      runtime.deps.policy,
      runtime.deps.state,
      clock,
      {
        onResumed: (d, why) => resumedEvents.push(`${d.scheduledTime} ${why}`),
        onOutcome: (d, o) => outcomes.push([d, o]),
      },
      { isHolderAlive: isLocalHolderAlive },
    );
    const [first, second] = await Promise.all([scheduler.tick(), scheduler.tick()]);
    await scheduler.tick();
    await scheduler.drain();
    const resumed = [...first, ...second].filter((d) => d.jobId === 'calm_resume');
    assert.deepEqual(
      resumed,
      [{ jobId: 'calm_resume', scheduledTime: '2026-03-12T00:00:00Z' }],
      'the live holder keeps its run',
    );
    assert.equal(resumedEvents.length, 1);
    assert.match(resumedEvents[0] as string, /holder .* is gone/);
    const mine = outcomes.filter(([d]) => d.jobId === 'calm_resume');
    assert.deepEqual(
      mine.map(([, o]) => o.kind),
      ['completed'],
      'dispatched once: no duplicate_suppressed',
    );
    assert.deepEqual(counting.effects, ['calm_resume/2026-03-12T00:00:00Z']);
    const item = await runtime.deps.state.getRun('calm_resume/2026-03-12T00:00:00Z');
    const retry = item?.audit
      .map((e) => AuditEvent.parse(e))
      .find((e) => e.type === 'job.run.retry');
    assert.match(retry?.retry?.reason ?? '', /holder of execution .* is gone; taken over/);
  });

  test('opsrail run --resume takes over a window left open by a dead process; without a dead holder it is refused', async () => {
    const request = {
      jobId: 'calm_resume',
      scheduledTime: '2026-03-13T00:00:00Z',
      trigger: 'manual' as const,
    };
    await createPreflightHandler(runtime.deps)(
      { executionId: deadHolderExecution(), request },
      {} as never,
    );
    assert.equal(await openRunCheck(runtime.deps, request, true), null);
    const outcome = await runtime.run(request);
    assert.equal(outcome.kind, 'completed');
    assert.ok(counting.effects.includes('calm_resume/2026-03-13T00:00:00Z'));
    const done = await openRunCheck(runtime.deps, request, true);
    assert.equal(done?.exitCode, 2);
    assert.match(done?.message ?? '', /is not open \(it has finished\)/);
    // Without takeOverDeadHolders (a plain `opsrail run`), a dead holder's claim inside its lease
    // is not taken.
    await createPreflightHandler(runtime.deps)(
      {
        executionId: deadHolderExecution(),
        request: { ...request, scheduledTime: '2026-03-13T01:00:00Z' },
      },
      {} as never,
    );
    const plain = new LocalRuntime(stack.env, [burst, countingJob('calm_daily'), counting]);
    assert.equal(
      (await plain.run({ ...request, scheduledTime: '2026-03-13T01:00:00Z' })).kind,
      'duplicate_suppressed',
    );
  });
});
