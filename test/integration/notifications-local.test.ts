import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, test } from 'vitest';
import { AuditTicket, NotificationEvidence, RunRecord } from '../../contracts';
import { JobFailedError } from '../../functions/core/errors';
import { dedupeMarker } from '../../functions/core/notification-chain';
import { recordFailure } from '../../functions/core/run/record-failure';
import type { JobImplementation } from '../../functions/jobs/types';
import { approvalGate } from '../../functions/adapters/dependencies';
import { type ApprovalDependencies, handleApprovalHttp } from '../../functions/core/approvals';
import { LocalRuntime } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { CANARIES, CUSTOM_PATTERN } from '../support/canaries';
import { readVerifiedBundle } from '../support/evidence';
import { FakeGitHub, FakeSlack } from '../support/fake-http';
import { countingJob } from '../support/jobs';
import { testStack, withTestJobs } from '../support/local';

const SLACK_REF = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:local-slack-AbCdEf';
const GITHUB_REF = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:local-github-AbCdEf';
const SECRETS = Object.values(CANARIES);

/** A job that sends one report per run down the stage's chain. */
const notifier: JobImplementation = {
  jobId: 'test_notifier',
  async run(context) {
    await context.notify({
      kind: 'report',
      dedupeKey: `report/${context.run.jobRunId}`,
      title: `Report for ${context.run.window.start}`,
      markdown: 'all green',
    });
    return { quality: 'OK', outputs: [], integrityReport: null, diagnostics: [] };
  },
};

/** A job that fails with every canary secret in its message. */
const leaky: JobImplementation = {
  jobId: 'test_leaky',
  async run() {
    throw new JobFailedError('validation', `upstream refused the call: ${SECRETS.join(' | ')}`);
  },
};

/**
 * The notification chain as the local stack wires it from policy: real ASL, real handlers, the
 * ledger in DynamoDB Local, Slack and GitHub as fake HTTP servers.
 */
describe('notifications on the local stack (Slack → GitHub issue → log)', () => {
  const slack = new FakeSlack();
  const github = new FakeGitHub();
  let stack: LocalStack;
  let runtime: LocalRuntime;
  const purge = countingJob('test_purge');
  const requests: { approvalId: string; link: string }[] = [];
  let gate: ApprovalDependencies;
  const slackDown = () => Array.from({ length: 20 }, () => ({ status: 503 }));

  beforeAll(async () => {
    await slack.start();
    await github.start();
    stack = await testStack({
      policyDir: withTestJobs(
        [
          { jobId: 'test_notifier' },
          { jobId: 'test_leaky' },
          { jobId: 'test_purge', dangerous: { value: true, opKind: 'retention' } },
        ],
        (p) => ({
          ...p,
          redaction: { ...p.redaction, patterns: [CUSTOM_PATTERN] },
          notifications: {
            slack: { webhookSecretRef: SLACK_REF },
            github: {
              owner: github.owner,
              repo: github.repo,
              issueNumber: github.issueNumber,
              apiBaseUrl: github.base,
              tokenSecretRef: GITHUB_REF,
            },
            retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2, timeoutMs: 2000 },
          },
        }),
      ),
    });
    writeFileSync(
      stack.env.OPSRAIL_SECRETS_FILE as string,
      JSON.stringify({ [SLACK_REF]: slack.url, [GITHUB_REF]: github.token }),
    );
    runtime = new LocalRuntime(stack.env, [notifier, leaky, purge], {
      onApprovalRequested: (r) => requests.push(r),
    });
    gate = await approvalGate(runtime.deps)();
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    await slack.stop();
    await github.stop();
  });
  beforeEach(() => {
    slack.reset();
    github.reset();
  });

  const run = async (jobId: string, scheduledTime: string) => {
    const outcome = await runtime.run(
      { jobId, scheduledTime, trigger: 'manual' },
      { retryPauseMs: 1 },
    );
    // A failed run ends 'failed', with the summary RecordFailure wrote.
    assert.ok(
      (outcome.kind === 'completed' || outcome.kind === 'failed') && outcome.summary,
      JSON.stringify(outcome),
    );
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      outcome.summary.manifestKey as string,
    );
    const notifications = NotificationEvidence.parse(
      JSON.parse(bundle.objects['notifications.json'] as string),
    ).notifications;
    return { summary: outcome.summary, bundle, notifications };
  };

  test('Slack up: posted once, in the bundle; the same notification again is already_sent, not re-posted', async () => {
    // Prepare
    const scheduledTime = '2026-06-01T01:00:00Z';
    // Act
    const { summary, notifications } = await run('test_notifier', scheduledTime);
    const again = await runtime.deps.notify!({
      kind: 'report',
      dedupeKey: `report/${summary.jobRunId}`,
      title: 'Report (re-run)',
      markdown: 'all green',
    });
    // Assess
    assert.deepEqual([summary.status, summary.quality], ['ok', 'OK']);
    assert.equal(slack.messages.length, 1);
    assert.match(slack.messages[0]!, /all green/);
    assert.equal(notifications.length, 1);
    assert.equal(notifications[0]?.delivered_via, 'slack');
    assert.equal(notifications[0]?.degraded, false);
    assert.deepEqual(
      again.attempts.map((a) => [a.channel, a.status]),
      [['slack', 'already_sent']],
    );
    assert.equal(slack.received.length, 1);
    assert.equal(github.requests.length, 0);
  });

  test('Slack down: the GitHub issue gets one comment with its marker; a re-run never posts twice', async () => {
    // Prepare
    slack.reset(slackDown());
    github.seed(120);
    const scheduledTime = '2026-06-01T02:00:00Z';
    // Act
    const { summary, notifications } = await run('test_notifier', scheduledTime);
    const rerun = await runtime.deps.notify!({
      kind: 'report',
      dedupeKey: `report/${summary.jobRunId}`,
      title: 'Report (re-run)',
      markdown: 'all green',
    });
    // Assess
    assert.deepEqual([summary.status, summary.quality], ['ok', 'OK']);
    assert.equal(notifications[0]?.delivered_via, 'github');
    assert.deepEqual(
      notifications[0]?.attempts.map((a) => [a.channel, a.status, a.attempts]),
      [
        ['slack', 'failed', 2],
        ['github', 'sent', 1],
      ],
    );
    assert.equal(github.posted.length, 1);
    assert.ok(github.posted[0]?.startsWith(dedupeMarker(`report/${summary.jobRunId}`)));
    // The re-run finds Slack's claim pending (the earlier answer was a 5xx), so it never re-sends
    // there, and finds the marker beyond the first page of comments.
    assert.deepEqual(
      rerun.attempts.map((a) => [a.channel, a.status]),
      [
        ['slack', 'failed'],
        ['github', 'already_sent'],
      ],
    );
    assert.equal(slack.received.length, 2);
    assert.equal(github.posted.length, 1);
  });

  test('Slack and GitHub down: the log only, the record degraded and the run DEGRADED', async () => {
    // Prepare
    slack.reset(slackDown());
    github.answers.POST = Array.from({ length: 20 }, () => ({ status: 502 }));
    // Act
    const { summary, bundle, notifications } = await run('test_notifier', '2026-06-01T03:00:00Z');
    // Assess
    assert.deepEqual([summary.status, summary.quality], ['ok', 'DEGRADED']);
    assert.equal(notifications[0]?.delivered_via, 'log');
    assert.equal(notifications[0]?.degraded, true);
    assert.deepEqual(
      notifications[0]?.attempts.map((a) => [a.channel, a.status]),
      [
        ['slack', 'failed'],
        ['github', 'failed'],
        ['log', 'sent'],
      ],
    );
    const record = RunRecord.parse(JSON.parse(bundle.objects['run_record.json'] as string));
    assert.equal(record.quality, 'DEGRADED');
    assert.ok(record.diagnostics.some((d) => d.code === 'notification_degraded'));
    assert.equal(github.posted.length, 0);
  });

  test('a failed run sends one failure alert; no canary secret reaches Slack, the issue or the bundle', async () => {
    // Prepare: Slack refuses the first alert, so GitHub takes it; Slack takes the second.
    slack.reset(slackDown());
    // Act
    const toGitHub = await run('test_leaky', '2026-06-01T04:00:00Z');
    slack.reset();
    const toSlack = await run('test_leaky', '2026-06-01T05:00:00Z');
    // Assess
    for (const failed of [toGitHub, toSlack]) {
      assert.equal(failed.summary.status, 'error');
      assert.equal(failed.notifications[0]?.kind, 'failure_alert');
      assert.equal(failed.notifications[0]?.dedupe_key, `failure_alert/${failed.summary.jobRunId}`);
    }
    assert.equal(toGitHub.notifications[0]?.delivered_via, 'github');
    assert.equal(toSlack.notifications[0]?.delivered_via, 'slack');
    assert.equal(github.posted.length, 1);
    assert.match(github.posted[0]!, /test_leaky/);
    assert.match(github.posted[0]!, /upstream refused the call/);
    // The alert says what the run's ticket says: its classification and the suggested action.
    const ticket = AuditTicket.parse(JSON.parse(toGitHub.bundle.objects['ticket.json'] as string));
    assert.ok(
      github.posted[0]!.includes(`- classified: ${ticket.classification.category}`),
      github.posted[0],
    );
    assert.ok(github.posted[0]!.includes(`- suggested action: ${ticket.suggested_action}`));
    assert.equal(slack.messages.length, 1);
    assert.match(slack.messages[0]!, /upstream refused the call/);
    const everything = [
      ...slack.received.map((r) => r.body),
      ...github.posted,
      ...Object.values(toGitHub.bundle.objects),
      ...Object.values(toSlack.bundle.objects),
    ];
    for (const [name, canary] of Object.entries(CANARIES))
      for (const text of everything) assert.ok(!text.includes(canary), `${name} leaked`);
  });

  test('a retried RecordFailure of a sealed run posts no second failure alert', async () => {
    // Prepare
    const scheduledTime = '2026-06-01T07:00:00Z';
    const first = await run('test_leaky', scheduledTime);
    const item = (await runtime.deps.state.getRun(first.summary.jobRunId))!;
    // Act: the same execution records the failure again (a retried RecordFailure).
    const again = await recordFailure(
      runtime.deps,
      { jobId: 'test_leaky', scheduledTime, run: item, error: { Error: 'ValidationError' } },
      item.executionId,
    );
    // Assess
    assert.deepEqual(again, first.summary);
    assert.equal(slack.messages.length, 1);
    assert.equal(github.requests.length, 0);
  });

  test('an approval request goes down the chain once (kind approval_request) and into the run’s bundle', async () => {
    // Prepare
    const scheduledTime = '2026-06-01T06:00:00Z';
    // Act: alice asks, bob approves.
    const outcome = runtime.run({
      jobId: 'test_purge',
      scheduledTime,
      trigger: 'manual',
      requestedBy: 'alice',
    });
    while (requests.length === 0) await new Promise((r) => setTimeout(r, 50));
    const { approvalId, link } = requests[0]!;
    const url = new URL(link);
    const challenge = (await gate.approvals.getApproval(approvalId))!.record.challenge;
    const decided = await handleApprovalHttp(gate, {
      method: 'POST',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      form: { decision: 'approve', challenge },
      identity: 'bob',
      userAgent: 'test',
    });
    const done = await outcome;
    // Assess
    assert.equal(decided.status, 200);
    assert.ok(done.kind === 'completed' && done.summary, JSON.stringify(done));
    assert.deepEqual([done.summary.status, done.summary.quality], ['ok', 'OK']);
    assert.equal(slack.messages.length, 1);
    assert.match(slack.messages[0]!, /approve retention of test_purge/);
    // The signed link is no secret (approving needs a sign-in and the challenge): it is posted whole.
    assert.ok(slack.messages[0]!.includes(link), slack.messages[0]);
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      done.summary.manifestKey as string,
    );
    const [request] = NotificationEvidence.parse(
      JSON.parse(bundle.objects['notifications.json'] as string),
    ).notifications;
    assert.equal(request?.kind, 'approval_request');
    assert.equal(request?.dedupe_key, `approval_request/${approvalId}`);
    assert.equal(request?.delivered_via, 'slack');
  });

  test('a refused run (its kill-switch engaged) sends no failure alert', async () => {
    // Prepare
    const killSwitch = (engaged: boolean) =>
      runtime.deps.state.setKillSwitch({
        schemaVersion: 1,
        jobId: 'test_leaky',
        engaged,
        reason: 'tests',
        changedBy: 'carol',
        changedAt: new Date().toISOString(),
      });
    await killSwitch(true);
    // Act
    const outcome = await runtime.run(
      { jobId: 'test_leaky', scheduledTime: '2026-06-01T08:00:00Z', trigger: 'manual' },
      { retryPauseMs: 1 },
    );
    await killSwitch(false);
    // Assess
    assert.ok('summary' in outcome && outcome.summary, JSON.stringify(outcome));
    assert.equal(outcome.summary.status, 'skipped');
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      outcome.summary.manifestKey as string,
    );
    assert.equal(bundle.objects['notifications.json'], undefined);
    assert.equal(slack.received.length, 0);
    assert.equal(github.requests.length, 0);
  });
});
