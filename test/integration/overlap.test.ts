import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { AuditEvent } from '../../contracts';
import type { RunMetrics } from '../../functions/core/ports';
import { type ExecutionOutcome, LocalRuntime } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { readVerifiedBundle } from '../support/evidence';
import { countingJob } from '../support/jobs';
import { testStack, withTestJobs } from '../support/local';
import { memoryStack } from '../support/memory';

/**
 * Overlap policies (docs/scheduling.md#overlap): a slow job, and ticks of other windows arriving
 * while its run is open, through the real ASL (WaitForOpenRun, TickSkipped) with the real handlers.
 */

const HOUR_MS = 3_600_000;
/** The tick `hours` hours before the current hour: recent, in the past, one window each. */
const hoursAgo = (hours: number) =>
  new Date((Math.floor(Date.now() / HOUR_MS) - hours) * HOUR_MS)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z');
const SLOW_MS = 2_500;

/** Records every tick metric (the stage-level TickSkipped / TickBuffered). */
function recordingMetrics(): RunMetrics & { ticks: { event: string; jobId: string }[] } {
  const ticks: { event: string; jobId: string }[] = [];
  return {
    ticks,
    record: () => undefined,
    approval: () => undefined,
    tick: (event, jobId) => ticks.push({ event, jobId }),
  };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const policyFor = (jobs: { jobId: string; overlap: string }[]) =>
  withTestJobs(
    jobs.map((j) => ({ ...j, schedule: { expression: 'rate(1 hour)' } })),
    (p) => ({ ...p, scheduler: { ...p.scheduler, bufferPollSeconds: 1 } }),
  );

const schedule = (jobId: string, scheduledTime: string) =>
  ({ jobId, scheduledTime, trigger: 'schedule' }) as const;

describe('overlap policies on the in-memory ports, through the real ASL', () => {
  let stack: ReturnType<typeof memoryStack>;
  let runtime: LocalRuntime;
  const metrics = recordingMetrics();
  const skip = countingJob('ov_skip', SLOW_MS);
  const buffer = countingJob('ov_buffer', SLOW_MS);
  const allow = countingJob('ov_allow', SLOW_MS);

  beforeAll(() => {
    stack = memoryStack({
      policyDir: policyFor([
        { jobId: 'ov_skip', overlap: 'skip' },
        { jobId: 'ov_buffer', overlap: 'buffer_one' },
        { jobId: 'ov_allow', overlap: 'allow' },
      ]),
    });
    runtime = new LocalRuntime(stack.env, [skip, buffer, allow], {
      ports: { ...stack.ports, metrics },
    });
  });
  afterAll(async () => stack.stop());

  /**
   * Starts a run of `jobId` at `tick` and waits until it is claimed; `ended` is its outcome (wrapped:
   * an async function would wait for it).
   */
  async function startOpen(
    jobId: string,
    tick: string,
  ): Promise<{ ended: Promise<ExecutionOutcome> }> {
    const ended = runtime.run(schedule(jobId, tick));
    await until(`${jobId}@${tick} claimed`, async () =>
      Boolean(await stack.ports.state.getRun(`${jobId}/${tick}`)),
    );
    return { ended };
  }

  test('skip: a tick during the run is not run, audited on the open run (and in its evidence), counted; a redelivery of the open window stays a duplicate', async () => {
    // Prepare
    const [a, b] = [hoursAgo(3), hoursAgo(2)];
    const { ended: first } = await startOpen('ov_skip', a);

    // Act
    const during = await runtime.run(schedule('ov_skip', b));
    const again = await runtime.run(schedule('ov_skip', a));
    const ended = await first;

    // Assess
    assert.equal(during.kind, 'tick_skipped');
    assert.equal(during.kind === 'tick_skipped' && during.openRunId, `ov_skip/${a}`);
    assert.equal(again.kind, 'duplicate_suppressed', 'the same window is a duplicate, not a skip');
    assert.equal(ended.kind, 'completed');
    assert.deepEqual(skip.effects, [`ov_skip/${a}`], 'the skipped tick had no effect');
    assert.equal(await stack.ports.state.getRun(`ov_skip/${b}`), undefined, 'its window is free');
    const audit = (await stack.ports.state.getRun(`ov_skip/${a}`))?.audit ?? [];
    const skipped = audit.filter((e) => e.type === 'job.run.tick_skipped');
    assert.equal(skipped.length, 1);
    assert.equal(skipped[0]?.jobRunId, `ov_skip/${a}`);
    assert.equal(skipped[0]?.details?.skippedJobRunId, `ov_skip/${b}`);
    assert.equal(skipped[0]?.details?.overlap, 'skip');
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      (ended.kind === 'completed' && ended.summary.manifestKey) as string,
    );
    const inEvidence = (bundle.objects['audit.jsonl'] as string)
      .trim()
      .split('\n')
      .map((l) => AuditEvent.parse(JSON.parse(l)));
    assert.ok(
      inEvidence.some((e) => e.type === 'job.run.tick_skipped'),
      'in the run bundle',
    );
    assert.deepEqual(
      metrics.ticks.filter((t) => t.jobId === 'ov_skip'),
      [{ event: 'skipped', jobId: 'ov_skip' }],
    );
    assert.deepEqual(await stack.ports.state.getSlot('ov_skip'), {}, 'the slot is free again');
    // The skipped window runs later (e.g. by backfill): nothing consumed it.
    assert.equal((await runtime.run(schedule('ov_skip', b))).kind, 'completed');
  });

  test('buffer_one: of two ticks during the run, exactly one waits and runs after it ends; the other is skipped', async () => {
    // Prepare
    const [a, b, c] = [hoursAgo(6), hoursAgo(5), hoursAgo(4)];
    const { ended: first } = await startOpen('ov_buffer', a);

    // Act
    const waiting = runtime.run(schedule('ov_buffer', b));
    await until('b waiting', async () =>
      Boolean((await stack.ports.state.getSlot('ov_buffer')).waiting),
    );
    const third = await runtime.run(schedule('ov_buffer', c));
    const slotWhileOpen = await stack.ports.state.getSlot('ov_buffer');
    const [ended, buffered] = await Promise.all([first, waiting]);

    // Assess
    assert.equal(third.kind, 'tick_skipped', 'a second tick during the run does not wait');
    assert.equal(slotWhileOpen.active?.jobRunId, `ov_buffer/${a}`);
    assert.equal(slotWhileOpen.waiting?.scheduledTime, b, 'the first tick to arrive waits');
    assert.equal(ended.kind, 'completed');
    assert.equal(buffered.kind, 'completed');
    assert.deepEqual(buffer.effects, [`ov_buffer/${a}`, `ov_buffer/${b}`], 'b ran after a');
    const [runA, runB] = await Promise.all([
      stack.ports.state.getRun(`ov_buffer/${a}`),
      stack.ports.state.getRun(`ov_buffer/${b}`),
    ]);
    assert.ok(
      Date.parse(runB?.claimedAt as string) >= Date.parse(runA?.sealed?.endedAt as string),
      'b was claimed only after a ended',
    );
    assert.equal(await stack.ports.state.getRun(`ov_buffer/${c}`), undefined);
    assert.deepEqual(
      metrics.ticks.filter((t) => t.jobId === 'ov_buffer').map((t) => t.event),
      ['buffered', 'skipped'],
      'b counted once as buffered (not at each poll), c once as skipped',
    );
    assert.deepEqual(await stack.ports.state.getSlot('ov_buffer'), {});
  });

  test('allow: a tick during the run runs at once, concurrently, each its own window, one effect each', async () => {
    // Prepare
    const [a, b] = [hoursAgo(8), hoursAgo(7)];
    const { ended: first } = await startOpen('ov_allow', a);

    // Act
    const second = runtime.run(schedule('ov_allow', b));
    await until('b claimed', async () => Boolean(await stack.ports.state.getRun(`ov_allow/${b}`)));
    const stillOpen = (await stack.ports.state.getRun(`ov_allow/${a}`))?.phase;
    const outcomes = await Promise.all([first, second]);

    // Assess
    assert.equal(stillOpen, 'claimed', 'b was claimed while a was open');
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['completed', 'completed'],
    );
    assert.deepEqual([...allow.effects].sort(), [`ov_allow/${a}`, `ov_allow/${b}`]);
    assert.equal(
      metrics.ticks.filter((t) => t.jobId === 'ov_allow').length,
      0,
      'nothing skipped or buffered',
    );
  });
});

describe('buffer_one on DynamoDB Local, through the real ASL', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  const job = countingJob('ov_dynamo', SLOW_MS);

  beforeAll(async () => {
    stack = await testStack({
      policyDir: policyFor([{ jobId: 'ov_dynamo', overlap: 'buffer_one' }]),
    });
    runtime = new LocalRuntime(stack.env, [job]);
  });
  afterAll(async () => stack?.stop());

  test('one tick waits behind the open run and runs after it; the next is skipped and audited', async () => {
    // Prepare
    const [a, b, c] = [hoursAgo(3), hoursAgo(2), hoursAgo(1)];
    const first = runtime.run(schedule('ov_dynamo', a));
    await until('a claimed', async () =>
      Boolean(await runtime.deps.state.getRun(`ov_dynamo/${a}`)),
    );

    // Act
    const waiting = runtime.run(schedule('ov_dynamo', b));
    await until('b waiting', async () =>
      Boolean((await runtime.deps.state.getSlot('ov_dynamo')).waiting),
    );
    const third = await runtime.run(schedule('ov_dynamo', c));
    const outcomes = await Promise.all([first, waiting]);

    // Assess
    assert.equal(third.kind, 'tick_skipped');
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['completed', 'completed'],
    );
    assert.deepEqual(job.effects, [`ov_dynamo/${a}`, `ov_dynamo/${b}`]);
    const audit = (await runtime.deps.state.getRun(`ov_dynamo/${a}`))?.audit ?? [];
    assert.deepEqual(
      audit.filter((e) => e.type === 'job.run.tick_skipped').map((e) => e.details?.skippedJobRunId),
      [`ov_dynamo/${c}`],
    );
    assert.deepEqual(await runtime.deps.state.getSlot('ov_dynamo'), {}, 'slot and wait cleared');
  });
});
