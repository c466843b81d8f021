import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { GateResults } from '../../contracts';
import { approvalGate } from '../../functions/adapters/dependencies';
import {
  decideApproval,
  handleApprovalHttp,
  type ApprovalDependencies,
} from '../../functions/core/approvals';
import { directoryPolicySource } from '../../functions/adapters/policy-sources';
import { loadPolicy } from '../../functions/core/policy';
import { LocalRuntime } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { readVerifiedBundle } from '../support/evidence';
import { countingJob } from '../support/jobs';
import { policyFixture, testStack, withTestJobs } from '../support/local';

const hoursAgo = (hours: number) =>
  new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - hours * 3_600_000)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z');

describe('N of M: minApprovals distinct allowed approvers release the run; any rejection ends it', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  let gate: ApprovalDependencies;
  const rotate = countingJob('quorum_rotate');
  const requests: { approvalId: string; link: string }[] = [];

  beforeAll(async () => {
    const policyDir = withTestJobs(
      [{ jobId: 'quorum_rotate', dangerous: { value: true, opKind: 'secret_rotate' } }],
      (p) => ({
        ...p,
        approvals: {
          ...p.approvals,
          timeoutSeconds: 60,
          approversByOpKind: {
            ...p.approvals.approversByOpKind,
            secret_rotate: ['alice', 'bob', 'carol', 'arn:aws:iam::111111111111:user/Dave'],
          },
          minApprovalsByOpKind: { secret_rotate: 2 },
        },
      }),
    );
    stack = await testStack({ policyDir });
    runtime = new LocalRuntime(stack.env, [rotate], {
      onApprovalRequested: (r) => requests.push(r),
    });
    gate = await approvalGate(runtime.deps)();
  });
  afterAll(async () => stack.stop());

  async function startGated(scheduledTime: string) {
    const asked = requests.length;
    const outcome = runtime.run({
      jobId: 'quorum_rotate',
      scheduledTime,
      trigger: 'manual',
      requestedBy: 'alice',
    });
    while (requests.length === asked) await new Promise((r) => setTimeout(r, 50));
    const request = requests.at(-1)!;
    const url = new URL(request.link);
    const post = (identity: string, form: Record<string, string>) =>
      handleApprovalHttp(gate, {
        method: 'POST',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        form,
        identity,
        userAgent: 'test',
        source: 'local',
      });
    const stored = async () => (await gate.approvals.getApproval(request.approvalId))!;
    let settled = false;
    void outcome.then(() => (settled = true));
    return {
      outcome,
      request,
      post,
      stored,
      challenge: (await stored()).record.challenge,
      settled: () => settled,
    };
  }

  test('minApprovals 2: one approval leaves the run waiting, the same approver twice counts once, a second distinct approver releases it', async () => {
    const { outcome, post, stored, challenge, settled } = await startGated(hoursAgo(1));
    assert.equal((await stored()).record.minApprovals, 2);

    const first = await post('bob', { decision: 'approve', challenge });
    assert.equal(first.status, 200);
    assert.match(first.message, /1 more needed/);
    for (const again of ['bob', 'BOB', ' bob '])
      assert.equal((await post(again, { decision: 'approve', challenge })).status, 409, again);
    await new Promise((r) => setTimeout(r, 600)); // longer than the local gate's poll
    assert.equal(settled(), false, 'one approval is not enough');
    assert.equal((await stored()).record.status, 'PENDING');
    assert.deepEqual(rotate.effects, []);

    assert.equal((await post('carol', { decision: 'approve', challenge })).status, 200);
    const done = await outcome;
    assert.equal(done.kind, 'completed');
    assert.equal(rotate.effects.length, 1);
    assert.ok('summary' in done && done.summary);
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      done.summary.manifestKey as string,
    );
    const results = GateResults.parse(JSON.parse(bundle.objects['gate_results.json'] as string));
    assert.deepEqual(
      [results.decision, results.decidedBy, results.minApprovals],
      ['approved', 'carol', 2],
    );
    assert.deepEqual(
      results.decisions?.map((d) => [d.by, d.decision, d.source]),
      [
        ['bob', 'approve', 'local'],
        ['carol', 'approve', 'local'],
      ],
    );
    assert.deepEqual(
      results.attempts.map((a) => a.outcome),
      [
        'approval_recorded',
        'refused_duplicate_approver',
        'refused_duplicate_approver',
        'refused_duplicate_approver',
        'approved',
      ],
    );
    const confirms = bundle.objects['audit.jsonl']!.split('\n').filter((l) =>
      l.includes('"job.dangerous_op.confirm"'),
    );
    assert.equal(confirms.length, 2, 'each decision is audited');
  });

  test('after one approval, any rejection ends the run (refused, approval_rejected), both decisions kept', async () => {
    const { outcome, post, challenge } = await startGated(hoursAgo(2));
    assert.equal((await post('carol', { decision: 'approve', challenge })).status, 200);
    assert.equal((await post('bob', { decision: 'reject', reason: 'wrong secret' })).status, 200);
    const done = await outcome;
    assert.ok(done.kind === 'refused');
    assert.equal(done.summary.error?.kind, 'approval_rejected');
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      done.summary.manifestKey as string,
    );
    const results = GateResults.parse(JSON.parse(bundle.objects['gate_results.json'] as string));
    assert.deepEqual(
      results.decisions?.map((d) => [d.by, d.decision]),
      [
        ['carol', 'approve'],
        ['bob', 'reject'],
      ],
    );
    assert.deepEqual([results.decision, results.decidedBy], ['rejected', 'bob']);
  });

  test('ARNs compare exactly: a differently cased ARN is not the listed approver; decideApproval takes a verified identity from any source', async () => {
    const { outcome, request, challenge, stored } = await startGated(hoursAgo(3));
    const decide = (approver: string, source: 'iam' | 'slack') =>
      decideApproval(gate, {
        approvalId: request.approvalId,
        approver,
        source,
        challenge,
        decision: 'approve',
        reason: undefined,
        userAgent: 'slack-test',
        method: 'SLACK',
      });
    assert.equal(
      (await decide('arn:aws:iam::111111111111:user/dave', 'iam')).outcome,
      'refused_not_allowed',
    );
    const dave = await decide('arn:aws:iam::111111111111:user/Dave', 'iam');
    assert.deepEqual([dave.outcome, dave.remaining], ['approval_recorded', 1]);
    // Two at once: one completes the quorum; the other finds the request decided (never both, never
    // lost).
    const concurrent = await Promise.all([decide('bob', 'slack'), decide('carol', 'slack')]);
    assert.deepEqual(concurrent.map((c) => c.outcome).sort(), [
      'approved',
      'refused_already_decided',
    ]);
    const done = await outcome;
    assert.equal(done.kind, 'completed');
    const { record } = await stored();
    assert.deepEqual(record.decisions.map((d) => d.by)[0], 'arn:aws:iam::111111111111:user/Dave');
    assert.equal(
      record.decisions.length,
      2,
      'the quorum closes the request: the later decision finds it decided',
    );
  });

  test('a policy asking for more approvals than people besides the requester is refused at load', () => {
    const dir = policyFixture({
      'local.json': (p) => ({
        ...p,
        approvals: { ...p.approvals, minApprovalsByOpKind: { retention: 2 } },
      }),
    });
    assert.throws(
      () => loadPolicy(directoryPolicySource(dir), 'local'),
      /minApprovalsByOpKind\.retention.*needs 2 approvals/,
    );
    const twice = policyFixture({
      'local.json': (p) => ({
        ...p,
        approvals: { ...p.approvals, approversByOpKind: { retention: ['bob', 'Bob', 'carol'] } },
      }),
    });
    assert.throws(() => loadPolicy(directoryPolicySource(twice), 'local'), /listed twice/);
    const spaced = policyFixture({
      'local.json': (p) => ({
        ...p,
        approvals: { ...p.approvals, approversByOpKind: { retention: ['bo b', 'carol'] } },
      }),
    });
    assert.throws(() => loadPolicy(directoryPolicySource(spaced), 'local'), /whitespace/);
  });
});
