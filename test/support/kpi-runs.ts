import assert from 'node:assert/strict';
import { DateTime } from 'luxon';
import { LocalRuntime } from '../../local/runtime';
import { mirrorEvidence } from '../../local/query';
import type { LocalStack } from '../../local/stack';
import type { RunItem } from '../../functions/core/ports';
import type { JobImplementation } from '../../functions/jobs/types';
import { countingJob, failingJob, flakyJob } from './jobs';
import { testStack, withTestJobs } from './local';

/** A job that completes with quality DEGRADED: neither a success nor a failure. */
function degradedJob(jobId: string): JobImplementation {
  return {
    jobId,
    async run() {
      return {
        quality: 'DEGRADED' as const,
        outputs: [],
        integrityReport: null,
        diagnostics: [{ level: 'warning' as const, code: 'partial', message: 'half the data' }],
      };
    },
  };
}

export interface KpiRuns {
  stack: LocalStack;
  /** A folder laid out like the evidence bucket, mirrored from the local S3 endpoint. */
  root: string;
  /** Every run in the state table, as the run steps left them. */
  runs: RunItem[];
  /** The range computeKpis reads to match the query's default window of 28 days. */
  range: { from: string; to: string };
}

/**
 * Real runs (the real ASL under the interpreter, the real handlers, DynamoDB Local, the local S3
 * endpoint) of five jobs over the last eight days, ticked in Tokyo: one that succeeds, a slow one,
 * one that needs a retry, one that fails into quarantine and is then refused, and one that
 * completes DEGRADED. Its 03:00 ticks are the day before in UTC, its 10:00 ticks the same day, so
 * the zone decides which runs share a day.
 */
export async function runKpiFixture(): Promise<KpiRuns> {
  const daily = { schedule: { expression: 'cron(0 3 * * ? *)', timezone: 'Asia/Tokyo' } };
  const jobs = ['k_ok', 'k_slow', 'k_flaky', 'k_fail', 'k_degraded'];
  const policyDir = withTestJobs(
    jobs.map((jobId) => ({ jobId, ...daily })),
    (p) => ({
      ...p,
      jobs: {
        ...p.jobs,
        evidence_integrity_check: { enabled: false },
        schedule_ledger: { enabled: false },
      },
      thresholds: { ...p.thresholds, quarantineAfterConsecutiveFailures: 3 },
    }),
  );
  const stack = await testStack({ policyDir });
  try {
    const runtime = new LocalRuntime(stack.env, [
      countingJob('k_ok'),
      countingJob('k_slow', 400),
      flakyJob('k_flaky', 1),
      failingJob('k_fail'),
      degradedJob('k_degraded'),
    ]);
    const today = DateTime.now().setZone('Asia/Tokyo').startOf('day');
    const tick = (daysAgo: number, hour: number, minute = 0) =>
      today
        .minus({ days: daysAgo })
        .set({ hour, minute })
        .toUTC()
        .toISO({ suppressMilliseconds: true }) as string;
    const run = async (jobId: string, scheduledTime: string, expected: string) => {
      const outcome = await runtime.run(
        { jobId, scheduledTime, trigger: 'manual' },
        { retryPauseMs: 1 },
      );
      assert.equal(outcome.kind, expected, `${jobId} at ${scheduledTime}`);
    };
    for (const daysAgo of [8, 3, 1]) {
      await run('k_ok', tick(daysAgo, 3), 'completed');
      await run('k_fail', tick(daysAgo, 3), 'failed');
    }
    await run('k_ok', tick(1, 10), 'completed');
    await run('k_fail', tick(1, 10), 'refused'); // quarantined after three failures
    for (const daysAgo of [3, 1]) await run('k_slow', tick(daysAgo, 3), 'completed');
    await run('k_flaky', tick(3, 3), 'completed'); // after one retry
    await run('k_flaky', tick(1, 3), 'completed');
    await run('k_degraded', tick(1, 3), 'completed');
    const root = await mirrorEvidence(runtime.deps.evidence, 'local');
    const runs = await runtime.deps.state.listRuns({});
    const from = DateTime.utc().startOf('day').minus({ days: 28 }).toISO() as string;
    return { stack, root, runs, range: { from, to: DateTime.utc().plus({ days: 1 }).toISO()! } };
  } catch (error) {
    await stack.stop();
    throw error;
  }
}
