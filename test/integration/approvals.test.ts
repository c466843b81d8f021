import assert from 'node:assert/strict';
import { afterAll, beforeAll, beforeEach, describe, test } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AuditEvent, type RunContext } from '../../contracts';
import { DynamoDbApprovalStore } from '../../functions/adapters/dynamodb-approval-store';
import {
  handleApprovalHttp,
  requestApproval,
  type Announcer,
  type ApprovalDependencies,
  type ApprovalHttpRequest,
  type TaskCallbacks,
} from '../../functions/core/approvals';
import { renderPage } from '../../functions/approval-endpoint/page';
import { createPreflightHandler } from '../../functions/preflight/handler';
import { LocalRuntime } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { testStack, withTestJobs } from '../support/local';
import { countingJob } from '../support/jobs';

const KEY = new TextEncoder().encode('test-signing-key-of-enough-length-0123456789');
const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAeSecretTaskToken==';

describe('approval request and endpoint: signed single-use links, four eyes, every attempt audited', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  let deps: ApprovalDependencies;
  let now = new Date();
  const taskCalls: string[] = [];
  let taskGone = false;
  const logged: string[] = [];
  const tasks: TaskCallbacks = {
    succeed: async (token, output) => {
      taskCalls.push(`succeed ${token === TOKEN} ${JSON.stringify(output)}`);
      return taskGone ? 'task_gone' : 'sent';
    },
    fail: async (token, error, cause) => {
      taskCalls.push(`fail ${token === TOKEN} ${error} ${cause}`);
      return taskGone ? 'task_gone' : 'sent';
    },
  };
  const slack: Announcer = {
    channel: 'slack',
    announce: async () => ({ ok: false, detail: 'webhook answered 500' }),
  };
  const sns: Announcer = {
    channel: 'sns',
    announce: async () => ({ ok: true, detail: 'published to opsrail-local-alerts' }),
  };
  let n = 0;

  beforeAll(async () => {
    // Each case leaves its own window's run waiting at the gate: the job allows overlap.
    stack = await testStack({
      policyDir: withTestJobs([{ jobId: 'gated_job', overlap: 'allow' }]),
    });
    runtime = new LocalRuntime(stack.env, [countingJob('gated_job')]);
    const client = new DynamoDBClient({
      region: stack.env.AWS_REGION,
      endpoint: stack.env.AWS_ENDPOINT_URL_DYNAMODB,
    });
    deps = {
      ...runtime.deps,
      clock: { now: () => now },
      approvals: new DynamoDbApprovalStore(client, stack.env.STATE_TABLE_NAME),
      signingKey: KEY,
      tasks,
      announcers: [slack, sns],
      log: (message, details) => logged.push(`${message} ${JSON.stringify(details)}`),
      linkBaseUrl: 'http://127.0.0.1:8787',
    };
  });
  afterAll(async () => stack.stop());
  beforeEach(() => {
    now = new Date();
    taskCalls.length = 0;
    taskGone = false;
  });

  /** A claimed run of gated_job and its approval request, as the gate would make them. */
  async function pending(announcers?: Announcer[]) {
    const run: RunContext = await createPreflightHandler(runtime.deps)(
      {
        executionId: `exec-${++n}`,
        request: {
          jobId: 'gated_job',
          scheduledTime: `2026-10-${String(n).padStart(2, '0')}T00:00:00Z`,
          trigger: 'manual',
        },
      },
      {} as never,
    );
    const { record, link } = await requestApproval(
      { ...deps, ...(announcers ? { announcers } : {}) },
      run,
      {
        opKind: 'retention',
        plan: { summary: 'purge 3 run records older than 1 day', details: { count: 3 } },
        requestedBy: 'alice',
        taskToken: TOKEN,
      },
    );
    const url = new URL(link);
    const http = (method: string, extra: Partial<ApprovalHttpRequest> = {}) =>
      handleApprovalHttp(deps, {
        method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        form: {},
        identity: null,
        userAgent: 'test-agent/1.0',
        ...extra,
      }).then((r) => renderPage(r, { method, signedInAs: null, signInUrl: null, csrfToken: null }));
    return { run, record, link, url, http };
  }
  const statusOf = async (id: string) => (await deps.approvals.getApproval(id))?.record.status;
  const attemptsOf = async (id: string) =>
    (await deps.approvals.getApproval(id))?.attempts.map((a) => a.outcome);

  test('a request is stored PENDING with a challenge and the allowed approvers (never the requester), audited, and announced with fallback', async () => {
    const { run, record, link } = await pending();
    assert.equal(record.status, 'PENDING');
    assert.deepEqual(record.allowedApprovers, ['bob']);
    assert.match(record.challenge, /^retention-[a-f0-9]{6}$/);
    assert.match(
      link,
      /^http:\/\/127\.0\.0\.1:8787\/approvals\/[a-f0-9]{32}\?exp=\d+&sig=[a-f0-9]{64}$/,
    );
    assert.ok(
      !link.includes(TOKEN) && !JSON.stringify(record).includes(TOKEN),
      'the task token is never in the link or the record',
    );
    assert.deepEqual(
      record.deliveries.map((d) => [d.channel, d.ok]),
      [
        ['slack', false],
        ['sns', true],
      ],
    );
    const audit = (await runtime.deps.state.getRun(run.jobRunId))?.audit.map((e) =>
      AuditEvent.parse(e),
    );
    assert.ok(
      audit?.some(
        (e) =>
          e.type === 'job.dangerous_op.challenge' && e.details?.approvalId === record.approvalId,
      ),
    );
  });

  test('when neither Slack nor SNS reaches anyone, the link goes to the log and that is recorded', async () => {
    const { record, link } = await pending([
      slack,
      { channel: 'sns', announce: async () => ({ ok: false, detail: 'AccessDenied' }) },
    ]);
    assert.deepEqual(
      record.deliveries.map((d) => [d.channel, d.ok]),
      [
        ['slack', false],
        ['sns', false],
        ['log', true],
      ],
    );
    assert.ok(logged.some((l) => l.includes(link)));
    assert.ok(!logged.some((l) => l.includes(TOKEN)));
  });

  test('GET and HEAD on the link only render the confirmation page: nothing changes', async () => {
    const { record, http } = await pending();
    const get = await http('GET');
    const head = await http('HEAD');
    assert.equal(get.status, 200);
    assert.ok(get.body.includes(record.challenge) && get.body.includes('purge 3 run records'));
    assert.deepEqual([head.status, head.body], [200, '']);
    assert.equal(await statusOf(record.approvalId), 'PENDING');
    assert.deepEqual(taskCalls, []);
    assert.deepEqual(await attemptsOf(record.approvalId), ['viewed', 'viewed']);
  });

  test('a forged, truncated or re-dated signature is refused and audited', async () => {
    const { record, url, http } = await pending();
    const sig = url.searchParams.get('sig') as string;
    const exp = url.searchParams.get('exp') as string;
    const forged = `${sig[0] === 'a' ? 'b' : 'a'}${sig.slice(1)}`;
    for (const query of [
      { exp, sig: forged },
      { exp, sig: sig.slice(0, 40) },
      { exp: String(Number(exp) + 3600), sig },
      { exp },
    ]) {
      const response = await http('POST', {
        query,
        identity: 'bob',
        form: { decision: 'approve', challenge: record.challenge },
      });
      assert.equal(response.status, 403);
    }
    assert.equal(await statusOf(record.approvalId), 'PENDING');
    assert.deepEqual(await attemptsOf(record.approvalId), Array(4).fill('refused_bad_signature'));
    assert.deepEqual(taskCalls, []);
  });

  test('an expired link is refused', async () => {
    const { record, http } = await pending();
    now = new Date(Date.parse(record.expiresAt) + 1000);
    assert.equal((await http('GET')).status, 410);
    assert.equal(
      (
        await http('POST', {
          identity: 'bob',
          form: { decision: 'approve', challenge: record.challenge },
        })
      ).status,
      410,
    );
    assert.deepEqual(await attemptsOf(record.approvalId), ['refused_expired', 'refused_expired']);
  });

  test('the requester, an approver outside the list, nobody, and a wrong challenge are each refused and audited', async () => {
    const { record, http } = await pending();
    const post = (identity: string | null, challenge = record.challenge) =>
      http('POST', { identity, form: { decision: 'approve', challenge } });
    assert.equal((await post('alice')).status, 403);
    assert.equal((await post('mallory')).status, 403);
    assert.equal((await post(null)).status, 401);
    assert.equal((await post('bob', 'retention-000000')).status, 400);
    assert.equal(await statusOf(record.approvalId), 'PENDING');
    assert.deepEqual(await attemptsOf(record.approvalId), [
      'refused_requester',
      'refused_not_allowed',
      'refused_unauthenticated',
      'refused_wrong_challenge',
    ]);
    assert.deepEqual(taskCalls, []);
  });

  test('an allowed approver with the challenge approves once; the run learns who; a replay of the used link is refused', async () => {
    const { run, record, http } = await pending();
    const approve = await http('POST', {
      identity: 'bob',
      form: { decision: 'approve', challenge: record.challenge, reason: 'checked the counts' },
    });
    assert.equal(approve.status, 200);
    assert.equal(taskCalls.length, 1);
    assert.match(taskCalls[0]!, /^succeed true .*"decidedBy":"bob"/);
    const stored = (await deps.approvals.getApproval(record.approvalId))!.record;
    assert.deepEqual(
      [stored.status, stored.decidedBy, stored.reason],
      ['APPROVED', 'bob', 'checked the counts'],
    );
    const confirm = (await runtime.deps.state.getRun(run.jobRunId))?.audit.find(
      (e) => e.type === 'job.dangerous_op.confirm',
    );
    assert.equal(confirm?.actor.id, 'bob');
    assert.equal(confirm?.details?.userAgent, 'test-agent/1.0');

    const replay = await http('POST', {
      identity: 'bob',
      form: { decision: 'approve', challenge: record.challenge },
    });
    assert.equal(replay.status, 409);
    assert.equal(taskCalls.length, 1, 'the task is resolved once');
    assert.deepEqual((await attemptsOf(record.approvalId))?.slice(-2), [
      'approved',
      'refused_already_decided',
    ]);
  });

  test('a rejection (no challenge needed to say no) fails the waiting task with ApprovalRejected', async () => {
    const { record, http } = await pending();
    const reject = await http('POST', {
      identity: 'bob',
      form: { decision: 'reject', reason: 'not today' },
    });
    assert.equal(reject.status, 200);
    assert.match(taskCalls[0]!, /^fail true ApprovalRejected rejected by bob: not today$/);
    assert.equal(await statusOf(record.approvalId), 'REJECTED');
  });

  test('a decision that arrives after the run stopped waiting (TaskTimedOut / InvalidToken) expires the request', async () => {
    const { record, http } = await pending();
    taskGone = true;
    const late = await http('POST', {
      identity: 'bob',
      form: { decision: 'approve', challenge: record.challenge },
    });
    assert.equal(late.status, 410);
    assert.equal(await statusOf(record.approvalId), 'EXPIRED');
  });

  test('every attempt is on the approval record with identity and user agent (never the task token), and logged; pending ones are listed', async () => {
    const { record, http } = await pending();
    await http('POST', {
      identity: 'alice',
      form: { decision: 'approve', challenge: record.challenge },
    });
    assert.ok(
      (await deps.approvals.listPendingApprovals()).some((p) => p.approvalId === record.approvalId),
    );
    const attempts = (await deps.approvals.getApproval(record.approvalId))!.attempts;
    assert.deepEqual(
      attempts.map((a) => [a.outcome, a.identity, a.userAgent, a.method]),
      [['refused_requester', 'alice', 'test-agent/1.0', 'POST']],
    );
    assert.ok(logged.some((l) => l.includes('refused_requester') && l.includes(record.approvalId)));
    assert.ok(!logged.some((l) => l.includes(TOKEN)));
  });
});
