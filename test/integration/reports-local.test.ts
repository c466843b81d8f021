import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import {
  ImprovementDigest,
  type NotificationRecord,
  ObservabilityReport,
  type RunSummary,
} from '../../contracts';
import type { Notify } from '../../functions/core/notifications';
import { engageKillSwitch } from '../../functions/core/controls';
import { createExecuteHandler } from '../../functions/execute/handler';
import type { PostingRecord } from '../../functions/jobs/reports';
import { createPreflightHandler } from '../../functions/preflight/handler';
import { LocalRuntime } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { CANARIES } from '../support/canaries';
import { readVerifiedBundle } from '../support/evidence';
import { FakeGitHub, FakeSlack } from '../support/fake-http';
import { testStack } from '../support/local';
import { memoryStack } from '../support/memory';
import { reportedJobs, reportPolicy, writeChannelSecrets } from '../support/reports';

const LEASE_SECONDS = 5;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const lambda900 = { getRemainingTimeInMillis: () => 900_000 } as never;

// Reported on: Wednesday 2026-11-18 in Tokyo (2026-11-17 15:00 UTC .. 2026-11-18 15:00 UTC), in
// ISO week 2026-W47 (Monday 11-16 .. Monday 11-23 in Tokyo).
const DAILY_TICK = '2026-11-19T00:00:00Z'; // 09:00 JST on the 19th: reports the 18th
const WEEKLY_TICK = '2026-11-23T00:10:00Z'; // Monday 09:10 JST: reports W47
const DIGEST_TICK = '2026-11-23T00:20:00Z';
const FIXTURE: { jobId: string; at: string }[] = [
  { jobId: 'rep_ok', at: '2026-11-18T00:00:00Z' },
  { jobId: 'rep_ok', at: '2026-11-18T01:00:00Z' },
  { jobId: 'rep_flaky', at: '2026-11-18T02:00:00Z' }, // retried once, then ok
  { jobId: 'rep_fail', at: '2026-11-18T03:00:00Z' },
  { jobId: 'rep_fail', at: '2026-11-18T04:00:00Z' }, // the second failure quarantines it
  { jobId: 'rep_fail', at: '2026-11-18T05:00:00Z' }, // refused: quarantined
];

const noCanary = (where: string, text: string) => {
  for (const [name, canary] of Object.entries(CANARIES))
    assert.ok(!text.includes(canary), `${name} in ${where}`);
};

/** The bundle of a completed run, its outputs by name. */
async function bundleOf(runtime: LocalRuntime, summary: RunSummary | null | undefined) {
  assert.ok(summary?.manifestKey, 'the run has a bundle');
  return (await readVerifiedBundle(runtime.deps.evidence, summary.manifestKey)).objects;
}

/** Runs `deliver` as holder A, whose job posts and then never returns (its process died). */
async function postThenDie(runtime: LocalRuntime, deliver: object, posted: () => boolean) {
  const real = runtime.deps.notify as Notify;
  const dying: Notify = async (n) => {
    await real(n);
    return new Promise<NotificationRecord>(() => undefined);
  };
  const run = await createPreflightHandler(runtime.deps)(
    { executionId: `exec-dies-${Date.now()}`, request: deliver },
    {} as never,
  );
  void createExecuteHandler({ ...runtime.deps, notify: dying })({ run }, lambda900);
  while (!posted()) await sleep(20);
  return run;
}

describe('routine reports on the local stack: content, one report and one post per window', () => {
  const slack = new FakeSlack();
  const github = new FakeGitHub();
  let stack: LocalStack;
  let runtime: LocalRuntime;
  const jobs = reportedJobs();

  beforeAll(async () => {
    await Promise.all([slack.start(), github.start()]);
    stack = await testStack({
      policyDir: reportPolicy({ slack, github, runLeaseSeconds: LEASE_SECONDS }),
    });
    writeChannelSecrets(stack.env, slack, github);
    runtime = new LocalRuntime(stack.env, jobs);
    for (const { jobId, at } of FIXTURE)
      await runtime.run({ jobId, scheduledTime: at, trigger: 'schedule' }, { retryPauseMs: 10 });
  });
  afterAll(async () => {
    await stack?.stop();
    await Promise.all([slack.stop(), github.stop()]);
  });

  test('the daily report: the day’s numbers in JSON and Markdown in the bundle, posted once to Slack, no secret anywhere', async () => {
    // Prepare
    slack.reset();
    github.reset();
    // Act
    const outcome = await runtime.run({
      jobId: 'daily_observability_report',
      scheduledTime: DAILY_TICK,
      trigger: 'schedule',
    });
    // Assess
    assert.equal(outcome.kind, 'completed', JSON.stringify(outcome));
    assert.ok(outcome.kind === 'completed');
    assert.equal(outcome.jobRunId, 'daily_observability_report/2026-11-17T15:00:00Z');
    assert.deepEqual([outcome.summary.status, outcome.summary.quality], ['ok', 'OK']);
    const objects = await bundleOf(runtime, outcome.summary);
    const report = ObservabilityReport.parse(
      JSON.parse(objects['outputs/observability_report.json'] as string),
    );
    assert.equal(report.period.label, '2026-11-18');
    assert.deepEqual(report.totals, {
      runs: 6,
      succeeded: 3,
      failed: 2,
      refused: 1,
      degraded: 0,
      success_rate: 0.5,
      retries: 1,
      failure_rate: 2 / 6,
      // The stage's percentiles: the KPI module's over the day's six runs (durations vary).
      p50_duration_ms: report.totals.p50_duration_ms,
      p95_duration_ms: report.totals.p95_duration_ms,
    });
    assert.ok(
      (report.totals.p50_duration_ms ?? -1) >= 0 &&
        (report.totals.p50_duration_ms ?? 0) <= (report.totals.p95_duration_ms ?? -1),
    );
    assert.deepEqual(
      report.per_job.map((j) => [j.job_id, j.runs, j.succeeded, j.failed, j.refused, j.retries]),
      [
        ['rep_fail', 3, 0, 2, 1, 0],
        ['rep_flaky', 1, 1, 0, 0, 1],
        ['rep_ok', 2, 2, 0, 0, 0],
      ],
    );
    assert.deepEqual(report.top_failure_reasons, [
      {
        reason: 'validation: the API rejected token [REDACTED]',
        count: 2,
        jobs: ['rep_fail'],
      },
    ]);
    assert.deepEqual(
      report.breakers.quarantined_jobs.map((q) => q.job_id),
      ['rep_fail'],
    );
    assert.equal(report.breakers.safety_mode, 'NORMAL');
    assert.ok(report.breakers.late_jobs.some((j) => j.job_id === 'evidence_integrity_check'));
    assert.deepEqual(
      report.suggestions.filter((s) => s.job_id?.startsWith('rep_')).map((s) => [s.rule, s.job_id]),
      [
        ['failing_streak', 'rep_fail'],
        ['high_failure_rate', 'rep_fail'],
        ['retry_heavy', 'rep_flaky'],
        ['quarantined', 'rep_fail'],
        // Enabled, and never a success: its dead-man's switch is late.
        ['late', 'rep_fail'],
      ],
    );
    const markdown = objects['outputs/observability_report.md'] as string;
    assert.ok(markdown.includes('| 6 | 3 | 2 | 1 | 0 | 50.0% | 1 |'), markdown);
    // Posted once to each configured channel (deliver: 'every'); the post is the bundle's Markdown.
    assert.equal(slack.messages.length, 1);
    assert.equal(github.posted.length, 1);
    assert.ok(slack.messages[0]!.includes('| 6 | 3 | 2 | 1 | 0 | 50.0% | 1 |'));
    assert.ok(github.posted[0]!.includes('| 6 | 3 | 2 | 1 | 0 | 50.0% | 1 |'));
    const posting = JSON.parse(objects['outputs/posting.json'] as string) as PostingRecord;
    assert.equal(posting.dedupe_key, 'daily_observability_report/local/2026-11-18');
    assert.equal(posting.notification?.delivered_via, 'slack');
    assert.deepEqual(
      posting.notification?.attempts.map((a) => [a.channel, a.status]),
      [
        ['slack', 'sent'],
        ['github', 'sent'],
        ['log', 'sent'],
      ],
    );
    for (const [name, text] of Object.entries(objects)) noCanary(name, text ?? '');
    noCanary('the Slack post', slack.received.map((r) => r.body).join('\n'));
  });

  test('a duplicate tick, another tick of the same day and a restarted runtime: one run, one bundle, one post', async () => {
    // Prepare: the report of the 18th already ran and posted (the test before).
    const before = slack.messages.length;
    const restarted = new LocalRuntime(stack.env, jobs);
    // Act: the same tick again, the first and last minute of the 19th in Tokyo, and a restart.
    const outcomes = [
      await runtime.run({ jobId: 'daily_observability_report', scheduledTime: DAILY_TICK }),
      await runtime.run({
        jobId: 'daily_observability_report',
        scheduledTime: '2026-11-18T15:00:00Z',
      }),
      await runtime.run({
        jobId: 'daily_observability_report',
        scheduledTime: '2026-11-19T14:59:00Z',
      }),
      await restarted.run({ jobId: 'daily_observability_report', scheduledTime: DAILY_TICK }),
    ];
    // Assess
    assert.deepEqual(
      outcomes.map((o) => [o.kind, o.jobRunId]),
      Array(4).fill(['duplicate_suppressed', 'daily_observability_report/2026-11-17T15:00:00Z']),
    );
    // The next day's tick is the next window: a report of its own.
    const next = await restarted.run({
      jobId: 'daily_observability_report',
      scheduledTime: '2026-11-19T15:00:00Z',
    });
    assert.equal(next.jobRunId, 'daily_observability_report/2026-11-18T15:00:00Z');
    assert.equal(next.kind, 'completed');
    const reports = await runtime.deps.state.listRuns({ jobId: 'daily_observability_report' });
    assert.deepEqual(
      reports.map((r) => r.jobRunId),
      [
        'daily_observability_report/2026-11-17T15:00:00Z',
        'daily_observability_report/2026-11-18T15:00:00Z',
      ],
    );
    assert.equal(slack.messages.length, before + 1, 'one post per day');
  });

  test('the weekly report taken over after its holder posted and died: posted once, the takeover records already_sent', async () => {
    // Prepare
    slack.reset();
    github.reset();
    const deliver = {
      jobId: 'weekly_observability_report',
      scheduledTime: WEEKLY_TICK,
      trigger: 'schedule' as const,
    };
    await postThenDie(
      runtime,
      deliver,
      () => slack.messages.length === 1 && github.posted.length === 1,
    );
    await sleep((LEASE_SECONDS + 0.5) * 1000);
    // Act: the next delivery of the tick takes the run over.
    const outcome = await runtime.run(deliver);
    // Assess
    assert.equal(outcome.kind, 'completed', JSON.stringify(outcome));
    assert.ok(outcome.kind === 'completed');
    assert.equal(outcome.jobRunId, 'weekly_observability_report/2026-11-15T15:00:00Z');
    assert.equal(slack.messages.length, 1, 'not posted again');
    assert.equal(github.posted.length, 1, 'not commented again');
    const objects = await bundleOf(runtime, outcome.summary);
    const posting = JSON.parse(objects['outputs/posting.json'] as string) as PostingRecord;
    assert.equal(posting.dedupe_key, 'weekly_observability_report/local/2026-W47');
    assert.deepEqual(
      posting.notification?.attempts.map((a) => [a.channel, a.status]),
      [
        ['slack', 'already_sent'],
        ['github', 'already_sent'],
        ['log', 'sent'],
      ],
    );
    const report = ObservabilityReport.parse(
      JSON.parse(objects['outputs/observability_report.json'] as string),
    );
    assert.deepEqual(
      [report.period.kind, report.period.label, report.totals.runs, report.totals.failed],
      // The week holds the fixture and the daily reports of the 18th and 19th.
      ['week', '2026-W47', 8, 2],
    );
    const audit = objects['audit.jsonl'] as string;
    assert.match(audit, /taken over/);
    // Another delivery in the same ISO week (Sunday night in Tokyo) is the same run.
    const sunday = await runtime.run({ ...deliver, scheduledTime: '2026-11-29T14:59:00Z' });
    assert.equal(sunday.kind, 'duplicate_suppressed');
    // So is a delivery to a restarted runtime.
    const restarted = new LocalRuntime(stack.env, jobs);
    assert.equal((await restarted.run(deliver)).kind, 'duplicate_suppressed');
    assert.equal(slack.messages.length, 1);
  });

  test('the digest falls back to the GitHub issue when Slack refuses; its takeover finds the marker and does not comment twice', async () => {
    // Prepare: an operator engaged rep_ok's kill-switch on Friday of the week (a control event in
    // the evidence), and Slack refuses every post (a 4xx is final and releases its claim).
    const friday = new LocalRuntime(stack.env, jobs, {
      clock: { now: () => new Date('2026-11-20T03:00:00Z') },
    });
    await engageKillSwitch(
      {
        ...friday.deps,
        executions: { stopRunning: async () => [] },
        schedules: { disable: async () => [] },
      },
      'rep_ok',
      { by: 'alice', reason: `runaway job, ask ${CANARIES.email}` },
    );
    slack.reset(Array(10).fill({ status: 400 }));
    github.reset();
    const deliver = {
      jobId: 'weekly_improvement_digest',
      scheduledTime: DIGEST_TICK,
      trigger: 'schedule' as const,
    };
    await postThenDie(runtime, deliver, () => github.posted.length === 1);
    await sleep((LEASE_SECONDS + 0.5) * 1000);
    // Act
    const outcome = await runtime.run(deliver);
    // Assess
    assert.equal(outcome.kind, 'completed', JSON.stringify(outcome));
    assert.ok(outcome.kind === 'completed');
    assert.equal(github.posted.length, 1, 'one comment');
    assert.ok(
      github.posted[0]!.startsWith('<!-- opsrail:weekly_improvement_digest/local/2026-W47 -->'),
    );
    const objects = await bundleOf(runtime, outcome.summary);
    const posting = JSON.parse(objects['outputs/posting.json'] as string) as PostingRecord;
    assert.deepEqual(
      posting.notification?.attempts.map((a) => [a.channel, a.status]),
      [
        ['slack', 'failed'],
        ['github', 'already_sent'],
        ['log', 'sent'],
      ],
    );
    // Slack, a configured channel, never took it: the record and the run are degraded.
    assert.equal(posting.notification?.degraded, true);
    assert.equal(outcome.summary.quality, 'DEGRADED');
    const digest = ImprovementDigest.parse(
      JSON.parse(objects['outputs/improvement_digest.json'] as string),
    );
    assert.deepEqual(digest.incidents, {
      total: 5,
      failed_runs: 2,
      quarantines: 1,
      kill_switches: 1,
      refused: 1,
    });
    assert.deepEqual(
      digest.causes.map((c) => [c.cause, c.count]),
      [
        ['failure: validation', 2],
        ['kill_switch', 1],
        ['quarantine', 1],
        ['refused: refused_quarantine', 1],
      ],
    );
    assert.deepEqual(
      digest.top_causes.map((c) => [c.cause, c.count, c.evidence.length]),
      [
        ['failure: validation', 2, 2],
        ['kill_switch', 1, 1],
        ['quarantine', 1, 1],
      ],
    );
    // The kill-switch's evidence is its control event in the bucket, its reason redacted.
    const killed = digest.top_causes[1]!.evidence[0]!;
    assert.equal(killed.job_id, 'rep_ok');
    assert.match(
      killed.evidence_ref ?? '',
      /^stage=local\/dt=2026-11-20\/control\/.*kill_switch\.engage/,
    );
    assert.match(
      killed.detail,
      /^kill-switch rep_ok engaged by alice: runaway job, ask \[REDACTED\]$/,
    );
    // Each cited run's evidence is a bundle that exists.
    for (const e of digest.top_causes[0]!.evidence)
      assert.ok(await runtime.deps.evidence.getObject(e.evidence_ref as string), e.evidence_ref!);
    for (const [name, text] of Object.entries(objects)) noCanary(name, text ?? '');
    noCanary('the GitHub comment', github.posted.join('\n'));
    noCanary('the Slack posts', slack.received.map((r) => r.body).join('\n'));
    // A restarted runtime's delivery of the week is a duplicate: still one comment.
    const restarted = new LocalRuntime(stack.env, jobs);
    assert.equal((await restarted.run(deliver)).kind, 'duplicate_suppressed');
    assert.equal(github.posted.length, 1);
  });
});

describe('the switches: nothing is written or posted while any is off', () => {
  const slack = new FakeSlack();
  const github = new FakeGitHub();
  beforeAll(() => Promise.all([slack.start(), github.start()]));
  afterAll(() => Promise.all([slack.stop(), github.stop()]));

  /** A runtime on the in-memory ports over a report policy, with the chain to the fakes. */
  function runtimeFor(options: Parameters<typeof reportPolicy>[0]) {
    const stack = memoryStack({ policyDir: reportPolicy({ slack, github, ...options }) });
    writeChannelSecrets(stack.env, slack, github);
    const runtime = new LocalRuntime(stack.env, reportedJobs(), { ports: stack.ports });
    return runtime;
  }

  const sealedOf = async (runtime: LocalRuntime, jobRunId: string) =>
    (await runtime.deps.state.getRun(jobRunId))?.sealed;

  test('reports.enabled false: the report jobs are not enabled, a tick is refused, a manual run says so and writes nothing', async () => {
    // Prepare
    slack.reset();
    github.reset();
    const runtime = runtimeFor({ reportsEnabled: false });
    // Act
    const manual = await runtime.run({
      jobId: 'weekly_improvement_digest',
      scheduledTime: DIGEST_TICK,
      trigger: 'manual',
    });
    const requestsAfterManual = [slack.received.length, github.requests.length];
    const ticked = await runtime.run({
      jobId: 'daily_observability_report',
      scheduledTime: DAILY_TICK,
      trigger: 'schedule',
    });
    // Assess
    assert.deepEqual(
      runtime.deps.policy.jobs
        .filter((j) => j.jobId.endsWith('_report') || j.jobId.endsWith('_digest'))
        .map((j) => [j.jobId, j.enabled]),
      [
        ['weekly_health_report', false],
        ['daily_observability_report', false],
        ['weekly_observability_report', false],
        ['weekly_improvement_digest', false],
      ],
    );
    assert.equal(manual.kind, 'completed');
    const sealed = await sealedOf(runtime, manual.jobRunId);
    assert.deepEqual(
      sealed?.diagnostics.map((d) => [d.code, d.message]),
      [
        [
          'reports_off',
          'weekly_improvement_digest is switched off (reports.enabled is false in stage local): no report was written and nothing was posted',
        ],
      ],
    );
    assert.ok(manual.kind === 'completed');
    const objects = await bundleOf(runtime, manual.summary);
    assert.deepEqual(
      Object.keys(objects).filter((k) => k.startsWith('outputs/')),
      [],
    );
    assert.deepEqual(requestsAfterManual, [0, 0], 'the manual run posted nothing');
    // No schedule exists for it; a tick delivered anyway is refused before the job runs (its
    // failure may alert, but no report is written or posted).
    assert.equal(ticked.kind, 'failed');
    assert.ok(ticked.kind === 'failed');
    assert.match(ticked.summary?.error?.message ?? '', /is not enabled in stage 'local'/);
    const bodies = [...slack.received.map((r) => r.body), ...github.posted].join('\n');
    assert.doesNotMatch(bodies, /observability report|improvement digest/i);
  });

  test('the job’s own switch off: a manual run names it, writes nothing, posts nothing', async () => {
    // Prepare
    slack.reset();
    github.reset();
    const off = runtimeFor({ jobsEnabled: false });
    // Act
    const manual = await off.run({
      jobId: 'daily_observability_report',
      scheduledTime: DAILY_TICK,
      trigger: 'manual',
    });
    // Assess
    assert.equal(manual.kind, 'completed');
    const sealed = await sealedOf(off, manual.jobRunId);
    assert.match(
      sealed?.diagnostics[0]?.message ?? '',
      /switched off \(jobs\.daily_observability_report\.enabled is not true in stage local\)/,
    );
    assert.deepEqual([slack.received.length, github.requests.length], [0, 0]);
  });

  test('postToIssue false: the report is in the bundle, the chain is never called', async () => {
    // Prepare
    slack.reset();
    github.reset();
    const runtime = runtimeFor({ postToIssue: false });
    // Act
    const outcome = await runtime.run({
      jobId: 'daily_observability_report',
      scheduledTime: DAILY_TICK,
      trigger: 'schedule',
    });
    // Assess
    assert.equal(outcome.kind, 'completed');
    assert.ok(outcome.kind === 'completed');
    const objects = await bundleOf(runtime, outcome.summary);
    ObservabilityReport.parse(JSON.parse(objects['outputs/observability_report.json'] as string));
    assert.ok((objects['outputs/observability_report.md'] as string).startsWith('# Daily'));
    assert.deepEqual(JSON.parse(objects['outputs/posting.json'] as string), {
      dedupe_key: 'daily_observability_report/local/2026-11-18',
      notification: null,
      postToIssue: false,
    });
    assert.deepEqual([slack.received.length, github.requests.length], [0, 0]);
  });
});
