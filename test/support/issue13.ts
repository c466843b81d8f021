import assert from 'node:assert/strict';
import { DateTime } from 'luxon';
import type { ObservabilityReport, RunSummary } from '../../contracts';
import type { KpiRow } from '../../functions/core/kpis';
import { LocalRuntime, type ExecutionOutcome } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { readVerifiedBundle } from './evidence';
import { FakeEndpoint, FakeGitHub, FakeSlack } from './fake-http';
import { testStack } from './local';
import { reportPolicy, writeChannelSecrets } from './reports';

/**
 * Issue 13's closing fixture, shared by test/integration/reports-kpis.test.ts and
 * test/support/demo-issue13.ts: on ONE local stack (the real ASL under the interpreter, the real
 * handlers, DynamoDB Local, the local S3 endpoint), http jobs against a fake endpoint run on one day
 * of the stage's zone: two that succeed (one slower), one whose endpoint answers 500 once (retried,
 * then ok), one answered 503 on every attempt (fails after its retry) and one answered 403 (fails,
 * twice, is quarantined, and its third run is refused). The reports post to a fake Slack and a fake
 * GitHub issue.
 */
export const ISSUE13_JOBS: Record<
  string,
  { path: string; script: { status: number; delayMs: number }[] }
> = {
  i13_ok: { path: '/ok', script: [{ status: 200, delayMs: 20 }] },
  i13_slow: { path: '/slow', script: [{ status: 200, delayMs: 300 }] },
  i13_flaky: {
    path: '/flaky',
    script: [
      { status: 500, delayMs: 0 },
      { status: 200, delayMs: 0 },
    ],
  },
  i13_unavailable: { path: '/unavailable', script: [{ status: 503, delayMs: 0 }] },
  i13_forbidden: { path: '/forbidden', script: [{ status: 403, delayMs: 0 }] },
};

/** The runs, in order: job, hour of the day (stage zone), the outcome kind expected. */
export const ISSUE13_RUNS: [jobId: string, hour: number, kind: ExecutionOutcome['kind']][] = [
  ['i13_ok', 9, 'completed'],
  ['i13_slow', 9, 'completed'],
  ['i13_flaky', 9, 'completed'],
  ['i13_unavailable', 9, 'failed'],
  ['i13_forbidden', 9, 'failed'],
  ['i13_ok', 10, 'completed'],
  ['i13_slow', 10, 'completed'],
  ['i13_forbidden', 10, 'failed'], // the second failure in a row quarantines it
  ['i13_ok', 11, 'completed'],
  ['i13_forbidden', 11, 'refused'], // quarantined
];

export interface Issue13Stack {
  stack: LocalStack;
  runtime: LocalRuntime;
  slack: FakeSlack;
  github: FakeGitHub;
  endpoint: FakeEndpoint;
  /** The stage's time zone (its policy's `timezone`): the reports' and the query's. */
  zone: string;
  /** The day the jobs ran on: Wednesday of the previous ISO week in the zone (YYYY-MM-DD). */
  day: string;
  /** Ticks (UTC) of the daily report of `day` and of the digest of its week: both in the past. */
  dailyTick: string;
  digestTick: string;
  /** Each run of ISSUE13_RUNS, in order, with its outcome. */
  outcomes: { jobId: string; scheduledTime: string; outcome: ExecutionOutcome }[];
  stop(): Promise<void>;
}

const iso = (t: DateTime) => t.toUTC().toISO({ suppressMilliseconds: true }) as string;

/** Starts the fakes and the stack and runs ISSUE13_RUNS (asserting each outcome's kind). */
export async function runIssue13Fixture(): Promise<Issue13Stack> {
  const slack = new FakeSlack();
  const github = new FakeGitHub();
  const endpoint = new FakeEndpoint();
  await Promise.all([slack.start(), github.start(), endpoint.start()]);
  for (const { path, script } of Object.values(ISSUE13_JOBS))
    endpoint.scripts[path] = script.map((a) => ({ ...a }));
  const port = new URL(endpoint.base).port;
  const jobs = Object.entries(ISSUE13_JOBS).map(([jobId, { path }]) => ({
    jobId,
    implementation: {
      kind: 'http',
      method: 'POST',
      url: `http://127.0.0.1:{{params.port}}${path}`,
      timeoutMs: 2_000,
    },
    params: { port },
  }));
  let stack: LocalStack | undefined;
  const stop = async () => {
    await stack?.stop();
    await Promise.all([slack.stop(), github.stop(), endpoint.stop()]);
  };
  try {
    stack = await testStack({ policyDir: reportPolicy({ slack, github, jobs }) });
    writeChannelSecrets(stack.env, slack, github);
    const runtime = new LocalRuntime(stack.env, []);
    const zone = runtime.deps.policy.settings.timezone;
    const thisWeek = DateTime.now().setZone(zone).startOf('week');
    const day = thisWeek.minus({ weeks: 1 }).plus({ days: 2 });
    const outcomes: Issue13Stack['outcomes'] = [];
    for (const [jobId, hour, kind] of ISSUE13_RUNS) {
      const scheduledTime = iso(day.set({ hour }));
      const outcome = await runtime.run(
        { jobId, scheduledTime, trigger: 'schedule' },
        { retryPauseMs: 10 },
      );
      assert.equal(outcome.kind, kind, `${jobId} at ${scheduledTime}: ${JSON.stringify(outcome)}`);
      outcomes.push({ jobId, scheduledTime, outcome });
    }
    return {
      stack,
      runtime,
      slack,
      github,
      endpoint,
      zone,
      day: day.toISODate() as string,
      dailyTick: iso(day.plus({ days: 1 }).set({ hour: 9 })),
      digestTick: iso(
        thisWeek.plus({ minutes: 20 }) < DateTime.now() ? thisWeek.plus({ minutes: 20 }) : thisWeek,
      ),
      outcomes,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A completed or failed run's bundle, its objects by short name (test/support/evidence.ts). */
export async function bundleObjects(runtime: LocalRuntime, outcome: ExecutionOutcome) {
  const summary = 'summary' in outcome ? (outcome.summary as RunSummary | null) : null;
  assert.ok(summary?.manifestKey, `${outcome.jobRunId} has a bundle`);
  return (await readVerifiedBundle(runtime.deps.evidence, summary.manifestKey)).objects;
}

/** The KPI numbers a report and the query both give, per job and for the stage, in one shape. */
export interface ComparedKpis {
  jobs: {
    job_id: string | null;
    runs: number;
    successes: number;
    failures: number;
    refused: number;
    success_rate: number | null;
    failure_rate: number | null;
    retries: number;
    mean_retries: number | null;
    p50_duration_ms: number | null;
    p95_duration_ms: number | null;
  }[];
  stage: {
    runs: number;
    successes: number;
    failures: number;
    refused: number;
    success_rate: number | null;
    failure_rate: number | null;
    retries: number;
    p50_duration_ms: number | null;
    p95_duration_ms: number | null;
  };
}

/** What the report's JSON says, per job (per_job[]) and for the stage (totals). */
export function kpisOfReport(report: ObservabilityReport): ComparedKpis {
  const t = report.totals;
  return {
    jobs: report.per_job.map((j) => ({
      job_id: j.job_id,
      runs: j.runs,
      successes: j.succeeded,
      failures: j.failed,
      refused: j.refused,
      success_rate: j.success_rate,
      failure_rate: j.failure_rate,
      retries: j.retries,
      mean_retries: j.mean_retries,
      p50_duration_ms: j.p50_duration_ms,
      p95_duration_ms: j.p95_duration_ms,
    })),
    stage: {
      runs: t.runs,
      successes: t.succeeded,
      failures: t.failed,
      refused: t.refused,
      success_rate: t.success_rate,
      failure_rate: t.failure_rate,
      retries: t.retries,
      p50_duration_ms: t.p50_duration_ms,
      p95_duration_ms: t.p95_duration_ms,
    },
  };
}

/**
 * What the `job_kpis` query says for one day: its job rows and its stage row of that day (the
 * failure rate is failures / runs, as the report defines it: the query has no column for it).
 */
export function kpisOfQueryDay(rows: readonly KpiRow[], day: string): ComparedKpis {
  const ofDay = rows.filter((r) => r.granularity === 'day' && r.period_start === day);
  const stage = ofDay.filter((r) => r.scope === 'stage');
  assert.equal(stage.length, 1, `one stage row for ${day}`);
  const s = stage[0] as KpiRow;
  return {
    jobs: ofDay
      .filter((r) => r.scope === 'job')
      .map((r) => ({
        job_id: r.job_id,
        runs: r.runs,
        successes: r.successes,
        failures: r.failures,
        refused: r.refused,
        success_rate: r.success_rate,
        failure_rate: r.failures / r.runs,
        retries: r.retries,
        mean_retries: r.mean_retries,
        p50_duration_ms: r.p50_duration_ms,
        p95_duration_ms: r.p95_duration_ms,
      })),
    stage: {
      runs: s.runs,
      successes: s.successes,
      failures: s.failures,
      refused: s.refused,
      success_rate: s.success_rate,
      failure_rate: s.failures / s.runs,
      retries: s.retries,
      p50_duration_ms: s.p50_duration_ms,
      p95_duration_ms: s.p95_duration_ms,
    },
  };
}
