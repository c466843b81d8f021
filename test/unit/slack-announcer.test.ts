import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { StagePolicy } from '../../contracts';
import { SlackAnnouncer } from '../../functions/adapters/approval-adapters';
import { readFileSync } from 'node:fs';

const APPROVAL_ID = 'a'.repeat(32);
const message = {
  subject: 'opsrail prod: approve retention of run_record_retention?',
  text: 'purge 3 run records <older> than 90 days & more',
  link: `https://page.example/approvals/${APPROVAL_ID}?exp=1&sig=${'b'.repeat(64)}`,
  approvalId: APPROVAL_ID,
};

describe('the Slack announcement of an approval request', () => {
  const posted: any[] = [];
  let url = '';
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    posted.push(JSON.parse(body));
    res.writeHead(200).end('ok');
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('with a Slack interaction endpoint: Approve and Reject buttons carrying the approval id, and the link', async () => {
    assert.deepEqual(
      await new SlackAnnouncer(async () => url, { buttons: true }).announce(message),
      { ok: true, detail: 'posted to Slack' },
    );
    const sent = posted.at(-1);
    const elements = sent.blocks.find((b: any) => b.type === 'actions').elements;
    assert.deepEqual(
      elements.map((e: any) => [e.action_id, e.value ?? e.url]),
      [
        ['opsrail_approve', APPROVAL_ID],
        ['opsrail_reject', APPROVAL_ID],
        ['opsrail_review', message.link],
      ],
    );
    assert.match(
      sent.blocks[0].text.text,
      /&lt;older&gt; than 90 days &amp; more/,
      'Slack control characters are escaped',
    );
    assert.equal(sent.unfurl_links, false);
    assert.ok(sent.text.includes(message.link), 'the plain-text fallback still carries the link');
  });

  test('without one (no approvals.slack in policy): only the link, no buttons that nothing would answer', async () => {
    await new SlackAnnouncer(async () => url).announce(message);
    const elements = posted.at(-1).blocks.find((b: any) => b.type === 'actions').elements;
    assert.deepEqual(
      elements.map((e: any) => e.action_id),
      ['opsrail_review'],
    );
  });
});

describe('policy approvals.slack', () => {
  const dev = JSON.parse(readFileSync(new URL('../../policy/dev.json', import.meta.url), 'utf8'));
  const withSlack = (slack: unknown) =>
    StagePolicy.safeParse({
      ...dev,
      approvals: {
        timeoutSeconds: 600,
        approversByOpKind: { retention: ['bob'] },
        linkBaseUrl: 'https://x.example',
        slack,
      },
    });
  const ref = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:opsrail/dev/slack-AbCdEf';

  test('takes secret_refs and a Slack user → approver map', () => {
    assert.ok(
      withSlack({ signingSecretRef: ref, botTokenRef: ref, users: { U012ABCDEF: 'bob' } }).success,
    );
  });

  test('a secret value where a secret_ref belongs, or a user that is not a Slack id, is refused naming the field', () => {
    const inline = withSlack({
      signingSecretRef: '8f742231b10e8888abcd99yyyzzz85a5',
      botTokenRef: ref,
      users: {},
    });
    assert.ok(!inline.success);
    assert.deepEqual(
      inline.error.issues.map((i) => i.path.join('.')),
      ['approvals.slack.signingSecretRef'],
    );
    const user = withSlack({
      signingSecretRef: ref,
      botTokenRef: ref,
      users: { 'bob@example.com': 'bob' },
    });
    assert.ok(!user.success);
    assert.match(
      user.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join(),
      /approvals\.slack\.users/,
    );
  });
});
