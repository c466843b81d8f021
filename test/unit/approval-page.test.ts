import assert from 'node:assert/strict';
import { test } from 'vitest';
import type { ApprovalRecord } from '../../contracts';
import { renderPage } from '../../functions/approval-endpoint/page';

const hostile = '<script>alert(1)</script>"\'&';
const record: ApprovalRecord = {
  schemaVersion: 1,
  approvalId: 'a'.repeat(32),
  jobId: 'run_record_retention',
  jobVersion: '1.0.0',
  jobRunId: `run_record_retention/2026-01-01T00:00:00Z`,
  opKind: 'retention',
  plan: {
    summary: `purge ${hostile}`,
    details: {
      cutoff: '2026-01-01T00:00:00Z',
      count: 2,
      [hostile]: [hostile, { nested: hostile }],
    },
  },
  requestedBy: hostile,
  allowedApprovers: ['bob', hostile],
  minApprovals: 1,
  decisions: [],
  challenge: 'retention-abc123',
  createdAt: '2026-01-01T00:00:00.000Z',
  expiresAt: '2026-01-01T01:00:00.000Z',
  status: 'PENDING',
  decidedBy: null,
  decidedAt: null,
  reason: null,
  deliveries: [],
};
const view = {
  status: 200,
  title: `Approve retention of ${hostile}?`,
  message: '',
  request: record,
};

test('every value from the request is escaped: a hostile plan, requester or title cannot inject markup', () => {
  const { body } = renderPage(view, {
    method: 'GET',
    signedInAs: hostile,
    signInUrl: null,
    csrfToken: 'tok',
  });
  assert.ok(!body.includes('<script>'), 'no raw markup from data');
  assert.ok(body.includes('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;'));
});

test('signed in: labelled fields, no decision pre-selected, the challenge to copy, the CSRF token in the form', () => {
  const { body, headers } = renderPage(view, {
    method: 'GET',
    signedInAs: 'bob',
    signInUrl: null,
    csrfToken: 'csrf-token-value',
  });
  assert.ok(!/\bchecked\b/.test(body) && !/\bselected\b/.test(body), 'nothing is pre-selected');
  assert.match(body, /<input type="radio" name="decision" value="approve" required>/);
  assert.match(body, /<label for="challenge">/);
  assert.match(body, /<input type="text" id="challenge" name="challenge"/);
  assert.match(body, /<label for="reason">/);
  assert.match(body, /<code>retention-abc123<\/code>/);
  assert.match(body, /<input type="hidden" name="csrf" value="csrf-token-value">/);
  assert.match(body, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
  assert.ok(!/<script/i.test(body), 'no script at all');
  assert.match(headers['content-security-policy'] ?? '', /default-src 'none'/);
  assert.equal(headers['cache-control'], 'no-store');
});

test('the plan is a table of what, how many and the cutoff', () => {
  const { body } = renderPage(view, {
    method: 'GET',
    signedInAs: null,
    signInUrl: '/auth/sign-in?return=x',
    csrfToken: null,
  });
  assert.match(body, /<tr><th scope="row">cutoff<\/th><td>2026-01-01T00:00:00Z<\/td><\/tr>/);
  assert.match(body, /<tr><th scope="row">count<\/th><td>2<\/td><\/tr>/);
  assert.match(body, /2 item\(s\)<ul>/);
  assert.ok(!body.includes('<form'), 'signed out: no form, a sign-in link instead');
  assert.match(body, /<a class="button" href="\/auth\/sign-in\?return=x">Sign in to decide<\/a>/);
});

test('HEAD has no body; a 405 says which methods are allowed; a decided request shows no form', () => {
  assert.equal(
    renderPage(view, { method: 'HEAD', signedInAs: null, signInUrl: null, csrfToken: null }).body,
    '',
  );
  assert.equal(
    renderPage(
      { status: 405, title: 'Method not allowed', message: '', allow: 'GET, HEAD, POST' },
      { method: 'PUT', signedInAs: null, signInUrl: null, csrfToken: null },
    ).headers.allow,
    'GET, HEAD, POST',
  );
  const decided = renderPage(
    { ...view, request: { ...record, status: 'APPROVED', decidedBy: 'bob' } },
    { method: 'GET', signedInAs: 'bob', signInUrl: null, csrfToken: 'x' },
  );
  assert.match(decided.body, /Already approved<\/strong> by bob/);
  assert.ok(!decided.body.includes('<form'));
});
