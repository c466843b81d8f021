import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { runBackfill } from '../../cli/backfill';
import { planBackfill } from '../../functions/core/backfill';
import { findJob } from '../../functions/core/policy';
import { LocalRuntime } from '../../local/runtime';
import { countingJob } from '../support/jobs';
import { jobModulesDir, withTestJobs } from '../support/local';
import { memoryStack } from '../support/memory';

const BIN = resolve(import.meta.dirname, '..', '..', 'cli', 'bin', 'opsrail.mjs');
const HOUR_MS = 3_600_000;
/** The current hour minus `hours`, on the hour. */
const hoursAgo = (hours: number) => new Date((Math.floor(Date.now() / HOUR_MS) - hours) * HOUR_MS);
const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

const policyDir = withTestJobs(
  [{ jobId: 'bf_counter', schedule: { expression: 'rate(1 hour)' } }],
  (p) => ({ ...p, scheduler: { ...p.scheduler, backfillMaxWindows: 10 } }),
);

describe('opsrail backfill: the windows between two times, oldest first, once each', () => {
  let stack: ReturnType<typeof memoryStack>;
  let runtime: LocalRuntime;
  const job = countingJob('bf_counter');

  beforeAll(() => {
    stack = memoryStack({ policyDir });
    runtime = new LocalRuntime(stack.env, [job], { ports: stack.ports });
  });
  afterAll(async () => stack.stop());

  test('10 windows with 3 already run: 7 run now, 3 reported as duplicates and not run again', async () => {
    // Prepare: three of the ten windows ran on their schedule.
    const definition = findJob(runtime.deps.policy, 'bf_counter');
    assert.ok(definition);
    const windows = planBackfill(
      definition,
      { from: hoursAgo(12), to: hoursAgo(3), now: new Date() },
      runtime.deps.policy.settings.scheduler.backfillMaxWindows,
    );
    const ranBefore = [windows[1], windows[4], windows[8]].map((w) => w?.scheduledTime as string);
    for (const scheduledTime of ranBefore)
      assert.equal(
        (await runtime.run({ jobId: 'bf_counter', scheduledTime, trigger: 'schedule' })).kind,
        'completed',
      );
    const lines: string[] = [];

    // Act
    const tally = await runBackfill(runtime, 'bf_counter', windows, 'carol', (l) => lines.push(l));

    // Assess
    assert.equal(windows.length, 10);
    assert.deepEqual(
      { completed: tally.completed, duplicates: tally.duplicates, failed: tally.failed },
      { completed: 7, duplicates: 3, failed: 0 },
    );
    // One effect per window, the three earlier ones never a second time.
    assert.equal(job.effects.length, 10);
    assert.equal(new Set(job.effects).size, 10);
    assert.deepEqual(
      job.effects.slice(3),
      windows.filter((w) => !ranBefore.includes(w.scheduledTime)).map((w) => w.jobRunId),
      'the rest ran oldest first',
    );
    // Preflight's duplicate suppression answered for them: recorded on each earlier run.
    for (const scheduledTime of ranBefore) {
      const duplicates = await stack.ports.state.listDuplicates(`bf_counter/${scheduledTime}`);
      assert.equal(duplicates.length, 1);
      assert.equal(duplicates[0]?.type, 'job.run.duplicate_suppressed');
    }
    assert.equal(lines.length, 10);
    assert.match(lines[0] as string, /^\[1\/10\] \S+Z {2}completed \(ok, quality OK\)$/);
    assert.match(lines[1] as string, /^\[2\/10\] \S+Z {2}duplicate /);
    assert.equal(lines.filter((l) => / {2}duplicate /.test(l)).length, 3);
  });

  test('one window over the bound: the CLI exits 2 naming the bound, and nothing runs', async () => {
    // Prepare: 11 windows, the bound is 10 (scheduler.backfillMaxWindows).
    const home = mkdtempSync(join(tmpdir(), 'opsrail-backfill-'));
    const env = {
      ...process.env,
      OPSRAIL_HOME: home,
      OPSRAIL_POLICY_DIR: policyDir,
      OPSRAIL_JOBS_DIR: jobModulesDir(['bf_counter']),
    };
    const args = ['backfill', 'bf_counter', '--from', iso(hoursAgo(13)), '--to', iso(hoursAgo(3))];

    // Act
    const { code, stdout, stderr } = await new Promise<{
      code: number;
      stdout: string;
      stderr: string;
    }>((done) =>
      execFile(process.execPath, [BIN, ...args], { env, timeout: 120_000 }, (error, out, err) =>
        done({
          code: error ? Number((error as { code?: number }).code ?? 1) : 0,
          stdout: out,
          stderr: err,
        }),
      ),
    );

    // Assess
    assert.equal(code, 2, stderr);
    assert.match(stderr, /11 windows of bf_counter/);
    assert.match(stderr, /at most scheduler\.backfillMaxWindows = 10/);
    assert.doesNotMatch(stdout, /\[1\//, 'no window started');
    // The local stack was never started: no DynamoDB, no S3 data in the home.
    const { readdirSync } = await import('node:fs');
    assert.deepEqual(readdirSync(home), []);
  });
});
