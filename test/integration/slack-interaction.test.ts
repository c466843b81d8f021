import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, test } from 'vitest';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { AuditEvent, GateResults } from '../../contracts';
import { approvalGate } from '../../functions/adapters/dependencies';
import type { ApprovalDependencies } from '../../functions/core/approvals';
import { createSlackInteractionHandler } from '../../functions/slack-interaction/handler';
import { LocalRuntime } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { readVerifiedBundle } from '../support/evidence';
import { countingJob } from '../support/jobs';
import { testStack, withTestJobs } from '../support/local';

const SIGNING_REF =
  'arn:aws:secretsmanager:us-east-1:111111111111:secret:opsrail/test/slack-signing-AbCdEf';
const BOT_REF =
  'arn:aws:secretsmanager:us-east-1:111111111111:secret:opsrail/test/slack-bot-GhIjKl';
const SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const BOT_TOKEN = 'xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx';

/** A fake Slack Web API: records views.open calls and answers as Slack does. */
async function fakeSlackApi() {
  const calls: { path: string; authorization: string | undefined; body: any }[] = [];
  let answer: { status: number; body: unknown } = { status: 200, body: { ok: true } };
  const read = async (req: IncomingMessage) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    return text;
  };
  const server: Server = createServer(async (req, res) => {
    calls.push({
      path: req.url ?? '',
      authorization: req.headers.authorization,
      body: JSON.parse((await read(req)) || 'null'),
    });
    res
      .writeHead(answer.status, { 'content-type': 'application/json' })
      .end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`,
    calls,
    answer: (next: typeof answer) => {
      answer = next;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const epoch = () => Math.floor(Date.now() / 1000);

/** A Function URL event as Slack sends it: `payload=<JSON>`, signed v0 over `v0:<ts>:<body>`. */
function slackEvent(
  payload: unknown,
  options: {
    ts?: number;
    secret?: string;
    signature?: string | null;
    body?: string;
    base64?: boolean;
    method?: string;
  } = {},
) {
  const ts = String(options.ts ?? epoch());
  const body = options.body ?? new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const signature =
    options.signature === undefined
      ? `v0=${createHmac('sha256', options.secret ?? SIGNING_SECRET)
          .update(`v0:${ts}:${body}`)
          .digest('hex')}`
      : options.signature;
  return {
    version: '2.0',
    rawPath: '/',
    requestContext: {
      http: { method: options.method ?? 'POST', path: '/', userAgent: 'Slackbot 1.0' },
    },
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      'x-slack-request-timestamp': ts,
      ...(signature === null ? {} : { 'x-slack-signature': signature }),
    },
    body: options.base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: options.base64 ?? false,
  };
}

const button = (user: string, actionId: string, approvalId: string) => ({
  type: 'block_actions',
  user: { id: user, username: 'someone' },
  trigger_id: `trigger-${Math.random().toString(36).slice(2)}`,
  actions: [{ action_id: actionId, value: approvalId, type: 'button' }],
});

const submission = (
  user: string,
  approvalId: string,
  decision: 'approve' | 'reject',
  challenge?: string,
  reason?: string,
) => ({
  type: 'view_submission',
  user: { id: user },
  view: {
    callback_id: 'opsrail_decision',
    private_metadata: JSON.stringify({ approvalId, decision }),
    state: {
      values: {
        ...(challenge === undefined
          ? {}
          : { challenge: { value: { type: 'plain_text_input', value: challenge } } }),
        reason: { value: { type: 'plain_text_input', value: reason ?? null } },
      },
    },
  },
});

describe('Slack: Approve/Reject buttons, a signed interaction endpoint and the challenge in a modal', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  let gate: ApprovalDependencies;
  let slack: Awaited<ReturnType<typeof fakeSlackApi>>;
  let handle: (event: unknown) => Promise<{ statusCode?: number; body?: string }>;
  const secrets = mockClient(SecretsManagerClient);
  const logged: string[] = [];
  const purge = countingJob('slack_purge');
  const requests: { approvalId: string; link: string }[] = [];
  let tick = 0;

  beforeAll(async () => {
    const policyDir = withTestJobs(
      [{ jobId: 'slack_purge', dangerous: { value: true, opKind: 'retention' } }],
      (p) => ({
        ...p,
        approvals: {
          ...p.approvals,
          timeoutSeconds: 30,
          slack: {
            signingSecretRef: SIGNING_REF,
            botTokenRef: BOT_REF,
            users: { U0BOB: 'bob', U0ALICE: 'alice', U0MALLORY: 'mallory' },
          },
        },
      }),
    );
    stack = await testStack({ policyDir });
    slack = await fakeSlackApi();
    runtime = new LocalRuntime(stack.env, [purge], {
      onApprovalRequested: (r) => requests.push(r),
    });
    const deps = {
      ...runtime.deps,
      env: { ...runtime.deps.env, SLACK_API_BASE_URL: slack.url },
      log: (m: string, d?: Record<string, unknown>) =>
        void logged.push(`${m} ${JSON.stringify(d)}`),
    };
    gate = await approvalGate(deps)();
    handle = createSlackInteractionHandler(deps) as never;
  });
  afterAll(async () => {
    secrets.restore();
    await slack.close();
    await stack.stop();
  });
  beforeEach(() => {
    secrets.reset();
    secrets
      .on(GetSecretValueCommand, { SecretId: SIGNING_REF })
      .resolves({ SecretString: SIGNING_SECRET });
    secrets.on(GetSecretValueCommand, { SecretId: BOT_REF }).resolves({ SecretString: BOT_TOKEN });
    slack.calls.length = 0;
    slack.answer({ status: 200, body: { ok: true } });
  });

  /** A dangerous run of slack_purge through the real ASL, waiting at the gate for a decision. */
  async function waitingRun() {
    const before = requests.length;
    const outcome = runtime.run({
      jobId: 'slack_purge',
      scheduledTime: `2026-09-${String(++tick).padStart(2, '0')}T00:00:00Z`,
      trigger: 'manual',
      requestedBy: 'alice',
      params: {},
    });
    while (requests.length === before) await new Promise((r) => setTimeout(r, 50));
    const { approvalId } = requests.at(-1)!;
    const stored = () => gate.approvals.getApproval(approvalId).then((s) => s!);
    return { outcome, approvalId, challenge: (await stored()).record.challenge, stored };
  }
  const outcomes = async (stored: () => Promise<{ attempts: { outcome: string }[] }>) =>
    (await stored()).attempts.map((a) => a.outcome);

  test('a correctly signed Approve opens the modal with the challenge; the typed challenge approves and the run completes', async () => {
    const { outcome, approvalId, challenge, stored } = await waitingRun();
    const pressed = await handle(
      slackEvent(button('U0BOB', 'opsrail_approve', approvalId), { base64: true }),
    );
    assert.equal(pressed.statusCode, 200);
    assert.equal(slack.calls.length, 1);
    const [open] = slack.calls;
    assert.equal(open!.path, '/api/views.open');
    assert.equal(
      open!.authorization,
      `Bearer ${BOT_TOKEN}`,
      'the bot token, read by its secret_ref',
    );
    assert.match(open!.body.trigger_id, /^trigger-/);
    assert.equal(open!.body.view.callback_id, 'opsrail_decision');
    assert.deepEqual(JSON.parse(open!.body.view.private_metadata), {
      approvalId,
      decision: 'approve',
    });
    assert.ok(
      JSON.stringify(open!.body.view.blocks).includes(challenge),
      'the modal shows the challenge to type back',
    );
    assert.equal(purge.effects.length, 0, 'a button press alone decides nothing');

    const mistyped = await handle(
      slackEvent(submission('U0BOB', approvalId, 'approve', 'retention-000000')),
    );
    assert.equal(mistyped.statusCode, 200);
    assert.deepEqual(
      Object.keys(JSON.parse(mistyped.body!).errors),
      ['challenge'],
      'the modal stays open with the error at the field',
    );

    const submitted = await handle(
      slackEvent(submission('U0BOB', approvalId, 'approve', ` ${challenge} `, 'counts checked')),
    );
    assert.equal(submitted.statusCode, 200);
    assert.equal(JSON.parse(submitted.body!).response_action, 'update');
    const done = await outcome;
    assert.equal(done.kind, 'completed');
    assert.equal(purge.effects.length, 1);

    const { record, attempts } = await stored();
    assert.deepEqual(
      [record.status, record.decidedBy, record.reason],
      ['APPROVED', 'bob', 'counts checked'],
    );
    assert.deepEqual(
      attempts.map((a) => [a.outcome, a.identity, a.source]),
      [
        ['viewed', 'bob', 'slack'],
        ['refused_wrong_challenge', 'bob', 'slack'],
        ['approved', 'bob', 'slack'],
      ],
    );
    assert.match(attempts.at(-1)!.userAgent!, /Slack user U0BOB/);
    assert.ok('summary' in done && done.summary);
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      done.summary.manifestKey as string,
    );
    const results = GateResults.parse(JSON.parse(bundle.objects['gate_results.json'] as string));
    assert.deepEqual([results.decision, results.decidedBy], ['approved', 'bob']);
    assert.ok(results.attempts.every((a) => a.source === 'slack'));
    const confirm = (bundle.objects['audit.jsonl'] as string)
      .trim()
      .split('\n')
      .map((l) => AuditEvent.parse(JSON.parse(l)))
      .find((e) => e.type === 'job.dangerous_op.confirm');
    assert.equal(confirm?.actor.id, 'bob');
    const read = new Set(
      secrets.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input.SecretId),
    );
    assert.deepEqual(
      [...read].sort(),
      [BOT_REF, SIGNING_REF].sort(),
      'both secrets are read by their secret_ref',
    );
    assert.ok(
      !logged.some((l) => l.includes(SIGNING_SECRET) || l.includes(BOT_TOKEN)),
      'no secret in any log line',
    );
  });

  test('Reject opens a modal without a challenge; submitting it rejects and the job never runs', async () => {
    const { outcome, approvalId, challenge, stored } = await waitingRun();
    assert.equal(
      (await handle(slackEvent(button('U0BOB', 'opsrail_reject', approvalId)))).statusCode,
      200,
    );
    assert.ok(!JSON.stringify(slack.calls[0]!.body.view).includes(challenge));
    assert.equal(
      (
        await handle(
          slackEvent(submission('U0BOB', approvalId, 'reject', undefined, 'not during the freeze')),
        )
      ).statusCode,
      200,
    );
    const done = await outcome;
    assert.notEqual(done.kind, 'completed');
    assert.deepEqual(
      [(await stored()).record.status, (await stored()).record.reason],
      ['REJECTED', 'not during the freeze'],
    );
  });

  test('a bad signature, a tampered body, a missing signature and another app’s secret are refused and audited', async () => {
    const { outcome, approvalId, challenge, stored } = await waitingRun();
    const payload = submission('U0BOB', approvalId, 'approve', challenge);
    const signed = slackEvent(payload);
    const tamperedBody = new URLSearchParams({
      payload: JSON.stringify(submission('U0MALLORY', approvalId, 'approve', challenge)),
    }).toString();
    const refused = [
      slackEvent(payload, { secret: 'another-apps-signing-secret' }),
      slackEvent(payload, { signature: `v0=${'0'.repeat(64)}` }),
      slackEvent(payload, { signature: 'v1=abc' }),
      { ...signed, body: tamperedBody },
      slackEvent(payload, { signature: null }),
    ];
    for (const event of refused) assert.equal((await handle(event)).statusCode, 401);
    assert.deepEqual(await outcomes(stored), [
      'refused_bad_signature',
      'refused_bad_signature',
      'refused_bad_signature',
      'refused_bad_signature',
      'refused_unsigned',
    ]);
    const { record, attempts } = await stored();
    assert.equal(record.status, 'PENDING');
    assert.ok(
      attempts.every((a) => a.identity === null && a.source === 'slack'),
      'an unverified request names nobody',
    );
    assert.equal(slack.calls.length, 0);
    assert.ok(logged.some((l) => l.includes('refused_bad_signature') && l.includes(approvalId)));
    // The genuine request still works afterwards.
    assert.equal((await handle(signed)).statusCode, 200);
    assert.equal((await stored()).record.status, 'APPROVED');
    assert.equal((await outcome).kind, 'completed');
  });

  test('a timestamp more than 5 minutes old (or ahead) is refused even with a valid signature', async () => {
    const { outcome, approvalId, challenge, stored } = await waitingRun();
    const payload = submission('U0BOB', approvalId, 'approve', challenge);
    assert.equal((await handle(slackEvent(payload, { ts: epoch() - 301 }))).statusCode, 401);
    assert.equal((await handle(slackEvent(payload, { ts: epoch() + 301 }))).statusCode, 401);
    assert.equal((await handle(slackEvent(payload, { ts: 'yesterday' as never }))).statusCode, 401);
    assert.deepEqual(await outcomes(stored), [
      'refused_stale',
      'refused_stale',
      'refused_unsigned',
    ]);
    assert.equal((await stored()).record.status, 'PENDING');
    assert.equal(
      (await handle(slackEvent(payload, { ts: epoch() - 240 }))).statusCode,
      200,
      'four minutes is within the window',
    );
    assert.equal((await stored()).record.status, 'APPROVED');
    assert.equal((await outcome).kind, 'completed');
  });

  test('a replayed interaction (the same signed request again) is refused and audited, even a button press', async () => {
    const { outcome, approvalId, challenge, stored } = await waitingRun();
    const press = slackEvent(button('U0BOB', 'opsrail_approve', approvalId));
    assert.equal((await handle(press)).statusCode, 200);
    assert.equal((await handle(press)).statusCode, 409);
    assert.equal(slack.calls.length, 1, 'the replay opens no modal');
    const submit = slackEvent(submission('U0BOB', approvalId, 'approve', challenge));
    const [first, second] = await Promise.all([handle(submit), handle(submit)]);
    assert.deepEqual(
      [first.statusCode, second.statusCode].sort(),
      [200, 409],
      'two concurrent deliveries: exactly one is acted on',
    );
    assert.deepEqual((await outcomes(stored)).filter((o) => o !== 'viewed').sort(), [
      'approved',
      'refused_replay',
      'refused_replay',
    ]);
    assert.equal((await outcome).kind, 'completed');
  });

  test('a Slack user not mapped in policy, the requester, or an approver not allowed for the op kind cannot decide', async () => {
    const { outcome, approvalId, challenge, stored } = await waitingRun();
    assert.equal(
      (await handle(slackEvent(button('U0STRANGER', 'opsrail_approve', approvalId)))).statusCode,
      200,
    );
    assert.match(JSON.stringify(slack.calls[0]!.body.view), /not mapped to an approver/);
    for (const user of ['U0STRANGER', 'U0ALICE', 'U0MALLORY']) {
      const answer = await handle(slackEvent(submission(user, approvalId, 'approve', challenge)));
      assert.equal(JSON.parse(answer.body!).response_action, 'update');
    }
    assert.deepEqual(await outcomes(stored), [
      'refused_unknown_slack_user',
      'refused_unknown_slack_user',
      'refused_requester',
      'refused_not_allowed',
    ]);
    assert.equal((await stored()).record.status, 'PENDING');
    await handle(slackEvent(submission('U0BOB', approvalId, 'approve', challenge)));
    assert.equal((await outcome).kind, 'completed');
  });

  test('malformed or foreign payloads, other methods and oversized bodies are refused without acting', async () => {
    const { outcome, approvalId, challenge, stored } = await waitingRun();
    const cases: [unknown, number][] = [
      [slackEvent(null, { body: 'payload=%7Bnot-json' }), 400],
      [slackEvent({ type: 'shortcut', user: { id: 'U0BOB' } }), 400],
      [
        slackEvent({
          ...submission('U0BOB', approvalId, 'approve', challenge),
          view: {
            ...submission('U0BOB', approvalId, 'approve').view,
            private_metadata: '{"approvalId":"../../etc"}',
          },
        }),
        400,
      ],
      [slackEvent(button('U0BOB', 'opsrail_self_destruct', approvalId)), 400],
      [slackEvent(submission('U0BOB', approvalId, 'approve', challenge), { method: 'GET' }), 405],
      [slackEvent(null, { body: `payload=${'x'.repeat(70 * 1024)}` }), 413],
      [{ not: 'a function url event' }, 400],
    ];
    for (const [event, status] of cases)
      assert.equal((await handle(event)).statusCode, status, JSON.stringify(event).slice(0, 200));
    const hostile = slackEvent(button('U0BOB', 'opsrail_approve', approvalId), { secret: 'wrong' });
    await handle({
      ...hostile,
      headers: { ...hostile.headers, 'user-agent': `curl ${BOT_TOKEN}` },
    });
    assert.ok(
      !JSON.stringify((await stored()).attempts).includes(BOT_TOKEN),
      'a secret in a header is never stored',
    );
    assert.ok(!logged.some((l) => l.includes(BOT_TOKEN)), 'nor logged');
    assert.equal((await stored()).record.status, 'PENDING');
    assert.equal(slack.calls.length, 0);
    await handle(slackEvent(submission('U0BOB', approvalId, 'approve', challenge)));
    assert.equal((await outcome).kind, 'completed');
  });

  test('when Slack refuses views.open the person gets an error, the request stays pending and the log names the failure', async () => {
    const { outcome, approvalId, challenge, stored } = await waitingRun();
    slack.answer({ status: 200, body: { ok: false, error: 'expired_trigger_id' } });
    assert.equal(
      (await handle(slackEvent(button('U0BOB', 'opsrail_approve', approvalId)))).statusCode,
      500,
    );
    assert.equal((await stored()).record.status, 'PENDING');
    await handle(slackEvent(submission('U0BOB', approvalId, 'approve', challenge)));
    assert.equal((await outcome).kind, 'completed');
  });
});
