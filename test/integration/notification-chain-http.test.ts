import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchHttpGetter, fetchWebhookPoster } from '../../functions/adapters/webhook-poster';
import {
  chainNotify,
  dedupeMarker,
  memoryNotificationLedger,
  type NotificationSettings,
} from '../../functions/core/notification-chain';
import { createRedactor } from '../../functions/core/redaction';
import { FakeGitHub, FakeSlack } from '../support/fake-http';

const SLACK_REF = 'arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:opsrail/slack-AbCdEf';
const GITHUB_REF = 'arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:opsrail/gh-AbCdEf';
const NOW = new Date('2026-05-01T09:00:00Z');

/** The chain over real fetch against the fake Slack and GitHub servers. */
describe('notification chain over HTTP (fake Slack and GitHub)', () => {
  const slack = new FakeSlack();
  const github = new FakeGitHub();
  let sleeps: number[] = [];
  let settings: NotificationSettings;
  beforeAll(async () => {
    await slack.start();
    await github.start();
    settings = {
      slack: { webhookSecretRef: SLACK_REF },
      github: {
        owner: github.owner,
        repo: github.repo,
        issueNumber: github.issueNumber,
        apiBaseUrl: github.base,
        tokenSecretRef: GITHUB_REF,
      },
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2, timeoutMs: 2000 },
    };
  });
  afterAll(async () => {
    await slack.stop();
    await github.stop();
  });
  beforeEach(() => {
    slack.reset();
    github.reset();
    sleeps = [];
  });
  const ports = (ledger = memoryNotificationLedger()) => ({
    http: fetchWebhookPoster,
    get: fetchHttpGetter,
    clock: { now: () => NOW },
    sleep: async (ms: number) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    secrets: {
      read: async (ref: string) => (ref === SLACK_REF ? slack.url : github.token),
    },
    ledger,
    redactor: createRedactor({ placeholder: '[REDACTED]', patterns: [] }),
    log: () => {},
  });
  const note = (dedupeKey = 'daily_report/2026-05-01') => ({
    kind: 'report' as const,
    dedupeKey,
    title: 'Daily report',
    markdown: 'all green',
  });

  it('waits out a 429 whose Retry-After is an HTTP-date, then Slack takes it', async () => {
    // Prepare
    const at = new Date(NOW.getTime() + 7000).toUTCString();
    slack.reset([{ status: 429, headers: { 'Retry-After': at } }]);
    // Act
    const record = await chainNotify(ports(), settings)(note());
    // Assess
    expect(record.delivered_via).toBe('slack');
    expect(record.attempts[0]).toMatchObject({ channel: 'slack', status: 'sent', attempts: 2 });
    expect(sleeps).toEqual([7000]);
    expect(slack.messages).toHaveLength(1);
  });

  it('finds its marker beyond the first 100 comments and does not post again', async () => {
    // Prepare
    slack.reset([{ status: 503 }, { status: 503 }, { status: 503 }]);
    github.seed(230, (i) =>
      i === 170 ? `${dedupeMarker('daily_report/2026-05-01')}\nold` : `c${i}`,
    );
    // Act
    const record = await chainNotify(ports(), settings)(note());
    // Assess
    expect(record.delivered_via).toBe('github');
    expect(record.attempts[1]).toMatchObject({ channel: 'github', status: 'already_sent' });
    expect(github.posted).toEqual([]);
    expect(github.requests.filter((r) => r.method === 'GET').map((r) => r.url)).toEqual([
      expect.stringContaining('page=1'),
      expect.stringContaining('page=2'),
    ]);
  });

  it('reads every page (Link rel="next") before posting when no comment carries the marker', async () => {
    // Prepare
    slack.reset([{ status: 500 }, { status: 500 }, { status: 500 }]);
    github.seed(250);
    const ledger = memoryNotificationLedger();
    // Act
    const record = await chainNotify(ports(ledger), settings)(note());
    const again = await chainNotify(ports(ledger), settings)(note());
    // Assess
    expect(record.delivered_via).toBe('github');
    expect(record.attempts[1]).toMatchObject({ channel: 'github', status: 'sent' });
    expect(github.posted).toHaveLength(1);
    expect(github.posted[0]).toContain(dedupeMarker('daily_report/2026-05-01'));
    expect(again.attempts[1]).toMatchObject({ channel: 'github', status: 'already_sent' });
    expect(github.requests.filter((r) => r.method === 'GET')).toHaveLength(3 + 3);
  });

  it('does not post when the comment list cannot be read: the log takes it, degraded', async () => {
    // Prepare
    slack.reset([{ status: 500 }, { status: 500 }, { status: 500 }]);
    github.answers.GET = [{ status: 502 }, { status: 502 }, { status: 502 }];
    // Act
    const record = await chainNotify(ports(), settings)(note());
    // Assess
    expect(record.delivered_via).toBe('log');
    expect(record.degraded).toBe(true);
    expect(record.attempts[1]).toMatchObject({ channel: 'github', status: 'failed', attempts: 3 });
    expect(record.attempts[1]?.error).toMatch(/listing comments: HTTP 502/);
    expect(github.requests.filter((r) => r.method === 'POST')).toHaveLength(0);
  });

  it('a Slack that hangs times out; its claim stays pending, so a re-run goes to GitHub', async () => {
    // Prepare
    const ledger = memoryNotificationLedger();
    slack.reset([{ status: 0, hang: true }]);
    const quick = { ...settings, retry: { ...settings.retry!, maxAttempts: 1, timeoutMs: 200 } };
    // Act
    const first = await chainNotify(ports(ledger), quick)(note());
    const rerun = await chainNotify(ports(ledger), quick)(note());
    // Assess
    expect(first.attempts[0]).toMatchObject({
      channel: 'slack',
      status: 'failed',
      error: 'timeout',
    });
    expect(first.delivered_via).toBe('github');
    expect(rerun.attempts[0]?.error).toMatch(/pending claim/);
    expect(rerun.attempts[1]).toMatchObject({ channel: 'github', status: 'already_sent' });
    expect(slack.received).toHaveLength(1);
    expect(github.posted).toHaveLength(1);
  });
});
