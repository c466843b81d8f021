import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeGitHub, FakeSlack } from '../support/fake-http';

describe('FakeSlack and FakeGitHub (the stand-ins the chain tests rely on)', () => {
  const slack = new FakeSlack();
  const github = new FakeGitHub();
  beforeAll(async () => {
    await slack.start();
    await github.start();
  });
  afterAll(async () => {
    await slack.stop();
    await github.stop();
  });
  beforeEach(() => {
    slack.reset();
    github.reset();
  });
  const comments = () =>
    `${github.base}/repos/${github.owner}/${github.repo}/issues/${github.issueNumber}/comments`;
  const auth = { Authorization: `Bearer ${github.token}` };

  it('Slack answers from its script, then 200, and keeps only accepted texts', async () => {
    // Prepare
    slack.reset([{ status: 429, headers: { 'Retry-After': '3' } }]);
    const post = () =>
      fetch(slack.url, { method: 'POST', body: JSON.stringify({ text: 'hello' }) });
    // Act
    const first = await post();
    const second = await post();
    // Assess
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('3');
    expect(second.status).toBe(200);
    expect(slack.received).toHaveLength(2);
    expect(slack.messages).toEqual(['hello']);
  });

  it('GitHub refuses a request without the Bearer token', async () => {
    // Prepare
    const body = JSON.stringify({ body: 'x' });
    // Act
    const answer = await fetch(comments(), { method: 'POST', body });
    // Assess
    expect(answer.status).toBe(401);
    expect(github.comments).toEqual([]);
  });

  it('GitHub pages comments with per_page/page and a Link rel="next" header', async () => {
    // Prepare
    github.seed(150);
    // Act
    const first = await fetch(`${comments()}?per_page=100`, { headers: auth });
    const second = await fetch(`${comments()}?per_page=100&page=2`, { headers: auth });
    // Assess
    expect(((await first.json()) as unknown[]).length).toBe(100);
    expect(first.headers.get('link')).toContain('page=2>; rel="next"');
    expect(((await second.json()) as unknown[]).length).toBe(50);
    expect(second.headers.get('link')).toBeNull();
  });

  it('GitHub records posted comments and answers scripted failures first', async () => {
    // Prepare
    github.answers.POST = [{ status: 502 }];
    const post = () =>
      fetch(comments(), { method: 'POST', headers: auth, body: JSON.stringify({ body: 'hi' }) });
    // Act
    const failed = await post();
    const created = await post();
    // Assess
    expect(failed.status).toBe(502);
    expect(created.status).toBe(201);
    expect(github.posted).toEqual(['hi']);
  });
});
