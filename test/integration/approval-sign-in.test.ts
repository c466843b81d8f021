import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { RunContext } from '../../contracts';
import { DynamoDbApprovalStore } from '../../functions/adapters/dynamodb-approval-store';
import {
  requestApproval,
  type ApprovalDependencies,
  type TaskCallbacks,
} from '../../functions/core/approvals';
import { createPreflightHandler } from '../../functions/preflight/handler';
import { startApprovalServer } from '../../local/approval-server';
import { LocalRuntime } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import type { StandInIdp } from '../../local/stand-in-idp';
import { countingJob } from '../support/jobs';
import { testStack, withTestJobs } from '../support/local';
import { freeLoopbackPort } from '../support/net';

const KEY = new TextEncoder().encode('test-signing-key-for-sign-in-0123456789abcdef');

/** name=value pairs of the Set-Cookie headers of a response. */
const cookiesOf = (response: Response): Record<string, string> =>
  Object.fromEntries(
    response.headers.getSetCookie().map((c) => c.split(';')[0]!.split('=') as [string, string]),
  );
const cookieHeader = (cookies: Record<string, string>) =>
  Object.entries(cookies)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');
const csrfIn = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1];

describe('approval sign-in: only a verified token of an allowed approver, with the page’s CSRF token, decides', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  let deps: ApprovalDependencies;
  let server: NonNullable<Awaited<ReturnType<typeof startApprovalServer>>>;
  let idp: StandInIdp;
  let base: string;
  const logged: string[] = [];
  const taskCalls: string[] = [];
  const tasks: TaskCallbacks = {
    succeed: async (_t, output) => {
      taskCalls.push(`succeed ${JSON.stringify(output)}`);
      return 'sent';
    },
    fail: async (_t, error) => {
      taskCalls.push(`fail ${error}`);
      return 'sent';
    },
  };
  let n = 0;

  beforeAll(async () => {
    stack = await testStack({
      policyDir: withTestJobs([{ jobId: 'gated_job', overlap: 'allow' }]),
    });
    runtime = new LocalRuntime(stack.env, [countingJob('gated_job')]);
    base = `http://127.0.0.1:${await freeLoopbackPort()}`;
    const client = new DynamoDBClient({
      region: stack.env.AWS_REGION,
      endpoint: stack.env.AWS_ENDPOINT_URL_DYNAMODB,
    });
    deps = {
      ...runtime.deps,
      approvals: new DynamoDbApprovalStore(client, stack.env.STATE_TABLE_NAME),
      signingKey: KEY,
      tasks,
      announcers: [],
      log: (message, details) => logged.push(`${message} ${JSON.stringify(details)}`),
      linkBaseUrl: base,
    };
    const started = await startApprovalServer(deps, {
      idpDir: mkdtempSync(join(tmpdir(), 'opsrail-idp-')),
    });
    assert.ok(started, 'the approval server listens');
    server = started;
    idp = started.idp;
  });
  afterAll(async () => {
    await server?.close();
    await stack.stop();
  });

  async function pending() {
    const run: RunContext = await createPreflightHandler(runtime.deps)(
      {
        executionId: `exec-${++n}`,
        request: {
          jobId: 'gated_job',
          scheduledTime: `2026-09-${String(n).padStart(2, '0')}T00:00:00Z`,
          trigger: 'manual',
        },
      },
      {} as never,
    );
    const { record, link } = await requestApproval({ ...deps, log: () => {} }, run, {
      opKind: 'retention',
      plan: {
        summary: 'purge 3 run records older than 1 day',
        details: { count: 3, cutoff: '2026-08-31T00:00:00Z' },
      },
      requestedBy: 'alice',
      taskToken: 'task-token',
    });
    return { record, link };
  }
  const attemptsOf = async (id: string) => (await deps.approvals.getApproval(id))!.attempts;
  const statusOf = async (id: string) => (await deps.approvals.getApproval(id))!.record.status;

  /** GET the page with a token cookie; the page's CSRF cookie and form token. */
  async function openPage(link: string, token: string) {
    const response = await fetch(link, { headers: { cookie: `opsrail_id=${token}` } });
    const html = await response.text();
    return { response, html, csrfCookie: cookiesOf(response).opsrail_csrf, csrf: csrfIn(html) };
  }
  async function post(link: string, cookies: Record<string, string>, form: Record<string, string>) {
    return fetch(link, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        cookie: cookieHeader(cookies),
        'content-type': 'application/x-www-form-urlencoded',
        'user-agent': 'sign-in-test/1',
      },
      body: new URLSearchParams(form).toString(),
    });
  }

  test('a valid token of an allowed approver, with the page’s CSRF token, approves once; GET before it decided nothing', async () => {
    const { record, link } = await pending();
    const token = idp.mint('bob');
    const page = await openPage(link, token);
    assert.equal(page.response.status, 200);
    assert.match(page.html, /Signed in as <strong>bob<\/strong>/);
    assert.ok(
      page.csrf && page.csrfCookie,
      'the page carries a CSRF token and sets its nonce cookie',
    );
    assert.equal(
      await statusOf(record.approvalId),
      'PENDING',
      'a GET decides nothing, signed in or not',
    );
    const decided = await post(
      link,
      { opsrail_id: token, opsrail_csrf: page.csrfCookie! },
      { csrf: page.csrf!, decision: 'approve', challenge: record.challenge },
    );
    assert.equal(decided.status, 200);
    assert.match(await decided.text(), /<h1>Approved<\/h1>/);
    assert.equal(await statusOf(record.approvalId), 'APPROVED');
    assert.deepEqual(
      (await attemptsOf(record.approvalId)).map((a) => [a.outcome, a.identity]),
      [
        ['viewed', 'bob'],
        ['approved', 'bob'],
      ],
    );
    assert.ok(taskCalls.some((c) => c.includes('"decidedBy":"bob"')));
    const everything =
      JSON.stringify(await deps.approvals.getApproval(record.approvalId)) + logged.join('\n');
    assert.ok(!everything.includes(token), 'the token itself is never stored or logged');
  });

  test('expired, wrong audience, wrong issuer, tampered signature, unlisted subject and the requester’s own token are refused and audited', async () => {
    const { record, link } = await pending();
    const now = Math.floor(Date.now() / 1000);
    const good = idp.mint('bob');
    const [header, payload, signature] = good.split('.') as [string, string, string];
    const forgedPayload = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(payload, 'base64url').toString()),
        sub: 'bob',
        aud: 'opsrail-local',
        extra: 1,
      }),
    ).toString('base64url');
    const cases: [string, string, number, string][] = [
      [
        'expired',
        idp.mint('bob', { iat: now - 7200, exp: now - 3600 }),
        401,
        'refused_token_expired',
      ],
      ['wrong audience', idp.mint('bob', { aud: 'some-other-app' }), 401, 'refused_token_audience'],
      [
        'wrong issuer',
        idp.mint('bob', { iss: 'https://idp.example.com' }),
        401,
        'refused_token_issuer',
      ],
      [
        'tampered signature',
        `${header}.${forgedPayload}.${signature}`,
        401,
        'refused_token_signature',
      ],
      ['unlisted subject', idp.mint('mallory'), 403, 'refused_not_allowed'],
      ['the requester', idp.mint('alice'), 403, 'refused_requester'],
    ];
    // A CSRF pair from a genuine page, so only the token is wrong.
    const page = await openPage(link, good);
    for (const [name, token, status, outcome] of cases) {
      const response = await post(
        link,
        { opsrail_id: token, opsrail_csrf: page.csrfCookie! },
        { csrf: page.csrf!, decision: 'approve', challenge: record.challenge },
      );
      assert.equal(response.status, status, name);
      const last = (await attemptsOf(record.approvalId)).at(-1)!;
      assert.equal(last.outcome, outcome, name);
      assert.equal(last.method, 'POST');
    }
    assert.equal(await statusOf(record.approvalId), 'PENDING');
    assert.deepEqual(
      taskCalls.filter((c) => c.includes(record.approvalId)),
      [],
    );
  });

  test('a CSRF token missing, without its cookie, or from another approval’s page is refused and audited', async () => {
    const first = await pending();
    const second = await pending();
    const token = idp.mint('bob');
    const own = await openPage(first.link, token);
    const other = await openPage(second.link, token);
    const form = (csrf?: string) => ({
      ...(csrf ? { csrf } : {}),
      decision: 'approve',
      challenge: first.record.challenge,
    });
    const attempts: [Record<string, string>, Record<string, string>][] = [
      [{ opsrail_id: token, opsrail_csrf: own.csrfCookie! }, form()],
      [{ opsrail_id: token }, form(own.csrf)],
      [{ opsrail_id: token, opsrail_csrf: other.csrfCookie! }, form(other.csrf)],
      [{ opsrail_id: token, opsrail_csrf: own.csrfCookie! }, form(other.csrf)],
    ];
    for (const [cookies, body] of attempts)
      assert.equal((await post(first.link, cookies, body)).status, 403);
    assert.deepEqual(
      (await attemptsOf(first.record.approvalId)).map((a) => a.outcome),
      ['viewed', ...Array(4).fill('refused_csrf')],
    );
    assert.equal(await statusOf(first.record.approvalId), 'PENDING');
  });

  test('no token: the page offers sign-in, and a POST is refused as unauthenticated', async () => {
    const { record, link } = await pending();
    const html = await (await fetch(link)).text();
    assert.match(
      html,
      /href="\/auth\/sign-in\?return=%2Fapprovals%2F[a-f0-9]{32}%3Fexp%3D\d+%26sig%3D[a-f0-9]{64}"/,
    );
    assert.ok(!csrfIn(html), 'no decision form before sign-in');
    assert.equal(
      (await post(link, {}, { decision: 'approve', challenge: record.challenge })).status,
      401,
    );
    assert.equal((await attemptsOf(record.approvalId)).at(-1)?.outcome, 'refused_unauthenticated');
  });

  test('the code flow: sign-in redirects to the IdP with PKCE, the callback sets the token cookie, a code works once', async () => {
    const { link } = await pending();
    const path = new URL(link).pathname + new URL(link).search;
    const start = await fetch(`${base}/auth/sign-in?return=${encodeURIComponent(path)}`, {
      redirect: 'manual',
    });
    assert.equal(start.status, 302);
    const authorize = new URL(start.headers.get('location')!);
    assert.equal(authorize.origin + authorize.pathname, `${base}/idp/authorize`);
    assert.deepEqual(
      [
        authorize.searchParams.get('code_challenge_method'),
        authorize.searchParams.get('client_id'),
        authorize.searchParams.get('redirect_uri'),
      ],
      ['S256', 'opsrail-local', `${base}/auth/callback`],
    );
    const signInCookie = cookiesOf(start);
    const form = Object.fromEntries(
      ['client_id', 'redirect_uri', 'state', 'code_challenge'].map((k) => [
        k,
        authorize.searchParams.get(k)!,
      ]),
    );
    const chosen = await fetch(authorize.origin + authorize.pathname, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form, sub: 'bob' }).toString(),
    });
    assert.equal(chosen.status, 302);
    const callback = chosen.headers.get('location')!;
    const back = await fetch(callback, {
      redirect: 'manual',
      headers: { cookie: cookieHeader(signInCookie) },
    });
    assert.equal(back.status, 302);
    assert.equal(back.headers.get('location'), path);
    const idToken = cookiesOf(back).opsrail_id;
    assert.ok(idToken && idToken.split('.').length === 3);
    assert.match((await openPage(link, idToken)).html, /Signed in as <strong>bob<\/strong>/);

    const replay = await fetch(callback, {
      redirect: 'manual',
      headers: { cookie: cookieHeader(signInCookie) },
    });
    assert.equal(replay.status, 403, 'the code was used up');
    const foreignState = await fetch(callback.replace(/state=[^&]+/, 'state=forged'), {
      redirect: 'manual',
      headers: { cookie: cookieHeader(signInCookie) },
    });
    assert.equal(foreignState.status, 400);
  });

  test('sign-in returns only to a signed approval link (no open redirect), and the IdP knows only this client', async () => {
    for (const back of [
      'https://evil.example/',
      '//evil.example/approvals',
      '/approvals/../admin',
    ]) {
      assert.equal(
        (
          await fetch(`${base}/auth/sign-in?return=${encodeURIComponent(back)}`, {
            redirect: 'manual',
          })
        ).status,
        400,
        back,
      );
    }
    const foreign = new URLSearchParams({
      client_id: 'opsrail-local',
      redirect_uri: 'https://evil.example/cb',
      state: 's',
      code_challenge: 'c',
      code_challenge_method: 'S256',
    });
    assert.equal((await fetch(`${base}/idp/authorize?${foreign}`)).status, 400);
    const token = await fetch(`${base}/idp/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=authorization_code&code=made-up&code_verifier=x',
    });
    assert.equal(token.status, 400);
  });
});
