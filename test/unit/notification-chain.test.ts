import { describe, expect, it } from 'vitest';
import {
  chainNotify,
  memoryNotificationLedger,
  type NotificationSettings,
} from '../../functions/core/notification-chain';
import { createRedactor } from '../../functions/core/redaction';
import { CANARIES, CUSTOM_PATTERN } from '../support/canaries';

const SLACK = 'https://hooks.example/slack';
const settings: NotificationSettings = {
  slack: { webhookSecretRef: 'arn:slack' },
  github: {
    owner: 'o',
    repo: 'r',
    issueNumber: 7,
    apiBaseUrl: 'https://gh.example',
    tokenSecretRef: 'arn:gh',
  },
};

function world(down: { slack?: number; github?: number } = {}) {
  const posts: { url: string; body: string }[] = [];
  const comments: string[] = [];
  const logs: string[] = [];
  const ledger = memoryNotificationLedger();
  const ports = (): Parameters<typeof chainNotify>[0] => ({
    clock: { now: () => new Date('2026-01-01T00:00:00Z') },
    sleep: async () => {},
    random: () => 0,
    secrets: { read: async (ref) => (ref === 'arn:slack' ? SLACK : 'token') },
    ledger,
    redactor: createRedactor({ placeholder: '[REDACTED]', patterns: [CUSTOM_PATTERN] }),
    log: (m) => logs.push(m),
    get: {
      get: async () => ({
        status: 200,
        body: JSON.stringify(comments.map((body) => ({ body }))),
        link: null,
        retryAfter: null,
      }),
    },
    http: {
      post: async (url, _h, body) => {
        posts.push({ url, body });
        const status = url === SLACK ? down.slack : down.github;
        if (status) return { status, retryAfter: null };
        if (url !== SLACK) comments.push(JSON.parse(body).body);
        return { status: 201, retryAfter: null };
      },
    },
  });
  return { posts, comments, logs, ports };
}
const note = {
  kind: 'failure_alert' as const,
  dedupeKey: 'job/run-1',
  title: 'Run failed',
  markdown: 'boom',
};

describe('notification chain', () => {
  it("deliver 'every' posts to Slack and the issue, once each across re-runs, then logs", async () => {
    // Prepare
    const w = world();
    const report = { ...note, kind: 'report' as const, deliver: 'every' as const };
    // Act
    const first = await chainNotify(w.ports(), settings)(report);
    const again = await chainNotify(w.ports(), settings)(report);
    // Assess
    expect(w.posts.filter((p) => p.url === SLACK)).toHaveLength(1);
    expect(w.comments).toHaveLength(1);
    expect(w.logs).toHaveLength(2);
    expect([first.delivered_via, first.degraded]).toEqual(['slack', false]);
    expect(first.attempts.map((a) => `${a.channel}:${a.status}`)).toEqual([
      'slack:sent',
      'github:sent',
      'log:sent',
    ]);
    expect(again.attempts.map((a) => `${a.channel}:${a.status}`)).toEqual([
      'slack:already_sent',
      'github:already_sent',
      'log:sent',
    ]);
  });

  it("deliver 'every' with Slack down still comments on the issue, and the record is degraded", async () => {
    // Prepare
    const w = world({ slack: 503 });
    // Act
    const record = await chainNotify(w.ports(), settings)({ ...note, deliver: 'every' });
    // Assess
    expect(w.comments).toHaveLength(1);
    expect([record.delivered_via, record.degraded]).toEqual(['github', true]);
  });

  it("the default ('first') stops at Slack: no comment on the issue", async () => {
    // Prepare
    const w = world();
    // Act
    await chainNotify(w.ports(), settings)(note);
    // Assess
    expect(w.comments).toHaveLength(0);
  });

  it('posts to Slack once per dedupeKey across re-runs', async () => {
    // Prepare
    const w = world();
    // Act
    const first = await chainNotify(w.ports(), settings)(note);
    const again = await chainNotify(w.ports(), settings)(note);
    // Assess
    expect(w.posts.filter((p) => p.url === SLACK)).toHaveLength(1);
    expect(first.delivered_via).toBe('slack');
    expect(again.attempts[0]?.status).toBe('already_sent');
  });

  it('falls back to GitHub when Slack is down, and comments once per dedupeKey', async () => {
    // Prepare
    const w = world({ slack: 503 });
    // Act
    const first = await chainNotify(w.ports(), settings)(note);
    const again = await chainNotify(w.ports(), settings)(note);
    // Assess
    expect(first.delivered_via).toBe('github');
    expect(first.degraded).toBe(false);
    expect(first.attempts[0]).toMatchObject({
      channel: 'slack',
      status: 'failed',
      attempts: 3,
      status_code: 503,
    });
    expect(w.comments).toHaveLength(1);
    expect(w.comments[0]).toContain('<!-- opsrail:job/run-1 -->');
    expect(again.attempts.find((a) => a.channel === 'github')?.status).toBe('already_sent');
  });

  it('logs only, degraded, when Slack and GitHub are down; 401 is not retried', async () => {
    // Prepare
    const w = world({ slack: 500, github: 401 });
    // Act
    const record = await chainNotify(w.ports(), settings)(note);
    // Assess
    expect(record.delivered_via).toBe('log');
    expect(record.degraded).toBe(true);
    expect(record.attempts.find((a) => a.channel === 'github')).toMatchObject({
      attempts: 1,
      status_code: 401,
    });
    expect(w.logs).toHaveLength(1);
  });

  it('posts no canary secret', async () => {
    // Prepare
    const w = world({ slack: 500 });
    const secret = Object.values(CANARIES).join(' ');
    // Act
    const record = await chainNotify(w.ports(), settings)({ ...note, markdown: secret });
    // Assess
    for (const canary of Object.values(CANARIES)) {
      for (const p of w.posts) expect(p.body).not.toContain(canary);
      expect(JSON.stringify(record)).not.toContain(canary);
    }
  });

  it('an unreadable Slack secret fails Slack, leaves no pending claim, and GitHub takes it', async () => {
    // Prepare
    const w = world();
    const missing = () => ({
      ...w.ports(),
      secrets: {
        read: async (ref: string) => {
          if (ref === 'arn:slack') throw new Error('ResourceNotFoundException');
          return 'token';
        },
      },
    });
    // Act
    const first = await chainNotify(missing(), settings)(note);
    const second = await chainNotify(w.ports(), settings)({ ...note, dedupeKey: 'job/run-2' });
    const retried = await chainNotify(w.ports(), settings)(note);
    // Assess
    expect(first.delivered_via).toBe('github');
    expect(first.attempts[0]).toMatchObject({ channel: 'slack', status: 'failed', attempts: 0 });
    expect(first.attempts[0]?.error).toMatch(/arn:slack could not be read/);
    expect(second.delivered_via).toBe('slack');
    // The failed read claimed nothing: once the secret is readable, Slack takes the same key.
    expect(retried.delivered_via).toBe('slack');
  });
});
