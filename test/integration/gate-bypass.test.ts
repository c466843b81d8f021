import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { AuditEvent, ExecutionInput, GateResults, RunContext } from '../../contracts';
import { createApprovalEndpointHandler } from '../../functions/approval-endpoint/handler';
import { approvalGate } from '../../functions/adapters/dependencies';
import {
  handleApprovalHttp,
  MAX_STORED_ATTEMPTS,
  type ApprovalDependencies,
} from '../../functions/core/approvals';
import { renderPage, SECURITY_HEADERS } from '../../functions/approval-endpoint/page';
import { setSafetyMode } from '../../functions/core/controls';
import { executeJob } from '../../functions/core/run/execute';
import { startApprovalServer } from '../../local/approval-server';
import { LocalRuntime, type ExecutionOutcome } from '../../local/runtime';
import { readVerifiedBundle } from '../support/evidence';
import { countingJob } from '../support/jobs';
import { withTestJobs } from '../support/local';
import { memoryStack } from '../support/memory';

const auditOf = (jsonl: string) =>
  jsonl
    .trim()
    .split('\n')
    .map((line) => AuditEvent.parse(JSON.parse(line)));
/**
 * A tick `hoursAgo` hours before now, on the hour: recent, so never in the future nor past
 * retention.
 */
const hoursAgo = (hours: number) =>
  new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - hours * 3_600_000)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z');
const PORT = 20_000 + Math.floor(Math.random() * 20_000);

describe('the approval gate cannot be bypassed: re-admission, identities, bounded attempts, plan binding', () => {
  let stack: ReturnType<typeof memoryStack>;
  let runtime: LocalRuntime;
  let gate: ApprovalDependencies;
  const purge = countingJob('bypass_purge');
  const requests: { executionId: string; approvalId: string; link: string }[] = [];

  beforeAll(async () => {
    // Several cases hold a run of their own window at the gate at once: the job allows overlap.
    const jobs = [
      { jobId: 'bypass_purge', dangerous: { value: true, opKind: 'retention' }, overlap: 'allow' },
    ];
    const policyDir = withTestJobs(jobs, (p) => ({
      ...p,
      approvals: { ...p.approvals, timeoutSeconds: 60, linkBaseUrl: `http://127.0.0.1:${PORT}` },
      retention: { ...p.retention, runRecordDays: 30 },
    }));
    // Core rules over the in-memory ports (their contract suites prove them equal to DynamoDB and
    // S3).
    stack = memoryStack({ policyDir });
    runtime = new LocalRuntime(stack.env, [purge], {
      ports: stack.ports,
      onApprovalRequested: (r) => requests.push(r),
    });
    gate = await approvalGate(runtime.deps)();
  });
  afterAll(async () => stack.stop());

  async function startGated(
    jobId: string,
    scheduledTime: string,
    requestedBy = 'alice',
    params: Record<string, string> = {},
  ) {
    const asked = requests.length;
    const outcome = runtime.run({ jobId, scheduledTime, trigger: 'manual', requestedBy, params });
    while (requests.length === asked) await new Promise((r) => setTimeout(r, 50));
    const request = requests.at(-1)!;
    const url = new URL(request.link);
    const query = Object.fromEntries(url.searchParams);
    const http = (
      method: string,
      identity: string | null,
      form: Record<string, string> = {},
      userAgent = 'test',
    ) =>
      // The core's answer as the endpoint renders it (functions/approval-endpoint/page.ts).
      handleApprovalHttp(gate, {
        method,
        path: url.pathname,
        query,
        form,
        identity,
        userAgent,
        source: 'local',
      }).then((r) => renderPage(r, { method, signedInAs: null, signInUrl: null, csrfToken: null }));
    const stored = async () => (await gate.approvals.getApproval(request.approvalId))!;
    return { outcome, request, url, http, stored, challenge: (await stored()).record.challenge };
  }

  async function bundleOf(outcome: ExecutionOutcome) {
    assert.ok('summary' in outcome && outcome.summary, `a summary (${outcome.kind})`);
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      outcome.summary.manifestKey as string,
    );
    const gateResults = GateResults.parse(
      JSON.parse(bundle.objects['gate_results.json'] as string),
    );
    return { gate: gateResults, audit: auditOf(bundle.objects['audit.jsonl'] as string) };
  }

  const normal = () =>
    runtime.deps.state.setSafetyState({
      schemaVersion: 1,
      mode: 'NORMAL',
      reason: 'test reset',
      changedBy: 'test',
      changedAt: new Date().toISOString(),
    });

  test('SAFE engaged while the run waits: the approved run is refused at Execute, skipped, audited; the job never runs', async () => {
    const { outcome, http, challenge, request } = await startGated('bypass_purge', hoursAgo(1));
    await setSafetyMode(runtime.deps, 'SAFE', { by: 'carol', reason: 'incident while waiting' });
    assert.equal((await http('POST', 'bob', { decision: 'approve', challenge })).status, 200);
    const done = await outcome;
    await normal();

    assert.equal(done.kind, 'refused');
    assert.ok(done.kind === 'refused');
    assert.deepEqual(
      [done.summary.status, done.summary.error?.kind, done.summary.error?.name],
      ['skipped', 'refused_safety', 'SafetyRefusedError'],
    );
    assert.deepEqual(purge.effects, [], 'an approval never outlasts SAFE');
    const { gate: results, audit } = await bundleOf(done);
    assert.deepEqual(
      [results.decision, results.decidedBy, results.approvalId],
      ['approved', 'bob', request.approvalId],
    );
    const fail = audit.find((e) => e.type === 'job.run.fail');
    assert.equal(fail?.error?.kind, 'refused_safety');
    assert.equal(fail?.details?.refused, true);
    assert.ok(audit.some((e) => e.type === 'job.dangerous_op.confirm' && e.actor.id === 'bob'));
    assert.equal(
      (await runtime.deps.state.getJobState('bypass_purge'))?.consecutiveFailures ?? 0,
      0,
      'a refusal is not a failure',
    );
  });

  test('EMERGENCY_STOP or a kill-switch engaged while waiting refuse the approved run the same way', async () => {
    const stopped = await startGated('bypass_purge', hoursAgo(2));
    await setSafetyMode(runtime.deps, 'EMERGENCY_STOP', { by: 'carol', reason: 'stop everything' });
    await stopped.http('POST', 'bob', { decision: 'approve', challenge: stopped.challenge });
    const first = await stopped.outcome;
    await normal();
    assert.ok(first.kind === 'refused' && first.summary.error?.kind === 'refused_safety');

    const killed = await startGated('bypass_purge', hoursAgo(3));
    // The switch alone (as if StopExecution had not reached this execution): Execute still refuses.
    await runtime.deps.state.setKillSwitch({
      schemaVersion: 1,
      jobId: 'bypass_purge',
      engaged: true,
      reason: 'runaway',
      changedBy: 'carol',
      changedAt: new Date().toISOString(),
    });
    await killed.http('POST', 'bob', { decision: 'approve', challenge: killed.challenge });
    const second = await killed.outcome;
    // Locally the watchdog may stop the execution first (StopExecution in AWS); either way it never
    // runs.
    assert.ok(
      second.kind === 'stopped' ||
        (second.kind === 'refused' && second.summary.error?.kind === 'refused_kill_switch'),
      second.kind,
    );
    assert.deepEqual(purge.effects, []);
    // And Execute itself refuses the approved run while the switch is engaged.
    const run = RunContext.parse(await runtime.deps.state.getRun(second.jobRunId));
    assert.equal(
      (await gate.approvals.getApproval(killed.request.approvalId))?.record.status,
      'APPROVED',
    );
    await assert.rejects(
      executeJob(runtime.deps, run),
      (e: Error) => e.name === 'KillSwitchEngagedError',
    );
    await runtime.deps.state.setKillSwitch({
      schemaVersion: 1,
      jobId: 'bypass_purge',
      engaged: false,
      reason: 'test reset',
      changedBy: 'test',
      changedAt: new Date().toISOString(),
    });
    assert.deepEqual(purge.effects, []);
  });

  test('requested as "alice " (space) the request cannot be approved by alice, ALICE or " Alice"; names with inner spaces or control characters are refused', async () => {
    const { outcome, http, challenge, stored } = await startGated(
      'bypass_purge',
      hoursAgo(4),
      'alice ',
    );
    assert.equal((await stored()).record.requestedBy, 'alice', 'stored trimmed');
    assert.deepEqual((await stored()).record.allowedApprovers, ['bob']);
    for (const self of ['alice', 'ALICE', ' Alice', 'alice\t']) {
      const response = await http('POST', self, { decision: 'approve', challenge });
      assert.equal(response.status, 403, self);
    }
    for (const odd of ['bo b', 'bob\u0000', 'b\u200bob', '\u202ebob'])
      assert.equal(
        (await http('POST', odd, { decision: 'approve', challenge })).status,
        400,
        JSON.stringify(odd),
      );
    assert.equal((await stored()).record.status, 'PENDING');
    assert.deepEqual(purge.effects, []);

    // Case does not make another person: BOB is bob (names and e-mails compare without case).
    assert.equal((await http('POST', 'BOB', { decision: 'approve', challenge })).status, 200);
    const done = await outcome;
    assert.equal(done.kind, 'completed');
    const { gate: results } = await bundleOf(done);
    assert.deepEqual(
      results.attempts.map((a) => a.outcome),
      [...Array(4).fill('refused_requester'), ...Array(4).fill('refused_bad_identity'), 'approved'],
    );
    assert.ok(
      !ExecutionInput.safeParse({
        jobId: 'bypass_purge',
        scheduledTime: hoursAgo(1),
        requestedBy: 'al ice',
      }).success,
      'an inner space is refused at the contract',
    );
  });

  test('the challenge is random per request: not derivable from the link, never twice the same', async () => {
    const first = await startGated('bypass_purge', hoursAgo(5));
    const second = await startGated('bypass_purge', hoursAgo(6));
    assert.notEqual(first.challenge, second.challenge);
    for (const g of [first, second]) {
      assert.ok(
        !g.request.link.includes(g.challenge.split('-').pop()!),
        'the link does not carry it',
      );
      const page = await g.http('GET', null);
      assert.ok(page.body.includes(g.challenge), 'the page shows it');
      await g.http('POST', 'bob', { decision: 'reject', reason: 'test' });
      assert.equal((await g.outcome).kind, 'refused');
    }
  });

  test('100 attempts with 15,000-character User-Agents, then a real approval: it completes with its bundle; attempts are capped and counted', async () => {
    const { outcome, http, challenge, stored } = await startGated('bypass_purge', hoursAgo(7));
    const longAgent = `Mozilla/5.0 ${'A'.repeat(15_000)}`;
    for (let i = 0; i < 100; i++) {
      const response =
        i % 2
          ? await http('GET', null, {}, longAgent)
          : await http(
              'POST',
              'bob',
              { decision: 'approve', challenge: 'retention-000000' },
              longAgent,
            );
      assert.equal(response.status, i % 2 ? 200 : 400);
    }
    const approve = await http(
      'POST',
      'bob',
      { decision: 'approve', challenge, reason: 'x'.repeat(5000) },
      longAgent,
    );
    assert.equal(approve.status, 200);
    const done = await outcome;

    assert.equal(done.kind, 'completed');
    assert.ok(done.kind === 'completed');
    assert.equal(done.summary.status, 'ok');
    assert.ok(purge.effects.includes(done.jobRunId));
    const { gate: results } = await bundleOf(done);
    assert.equal(results.attempts.length, MAX_STORED_ATTEMPTS);
    assert.equal(results.attemptsNotStored, 101 - MAX_STORED_ATTEMPTS);
    assert.ok(results.attempts.every((a) => (a.userAgent?.length ?? 0) <= 256));
    assert.deepEqual(
      results.decisions?.map((d) => [d.by, d.decision]),
      [['bob', 'approve']],
      'the decision itself is never dropped',
    );
    assert.ok((results.decisions?.[0]?.reason?.length ?? 0) <= 1000);
    assert.equal((await stored()).attemptsNotStored, 101 - MAX_STORED_ATTEMPTS);
  });

  test('a 1 MiB body gets 413 and is recorded, over HTTP and through the Lambda entry point; a 405 keeps the security headers', async () => {
    const { outcome, url, http, stored } = await startGated('bypass_purge', hoursAgo(8));
    const server = await startApprovalServer(gate);
    assert.ok(server, `the approval server listens on ${PORT}`);
    try {
      const big = Buffer.alloc(1024 * 1024, 'a');
      const answer = await new Promise<{ status: number; headers: Record<string, unknown> }>(
        (resolve, reject) => {
          const req = httpRequest(
            `${server.url}${url.pathname}${url.search}`,
            {
              method: 'POST',
              headers: {
                'x-opsrail-approver': 'bob',
                'content-type': 'application/x-www-form-urlencoded',
              },
            },
            (res) => {
              res.resume();
              res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
            },
          );
          req.on('error', reject);
          req.end(big);
        },
      );
      assert.equal(answer.status, 413);
      assert.equal(answer.headers['x-frame-options'], 'DENY');
    } finally {
      await server.close();
    }
    const lambda = createApprovalEndpointHandler(runtime.deps);
    const event = {
      rawPath: url.pathname,
      queryStringParameters: Object.fromEntries(url.searchParams),
      body: Buffer.alloc(1024 * 1024, 'b').toString('base64'),
      isBase64Encoded: true,
      requestContext: {
        http: { method: 'POST', userAgent: 'curl/8' },
        authorizer: { iam: { userArn: 'arn:aws:iam::111111111111:user/bob' } },
      },
    };
    assert.equal((await lambda(event, {} as never)).statusCode, 413);

    const put = await http('PUT', 'bob');
    assert.equal(put.status, 405);
    assert.equal(put.headers.allow, 'GET, HEAD, POST');
    for (const [name, value] of Object.entries(SECURITY_HEADERS))
      assert.equal(put.headers[name], value, name);

    const outcomes = (await stored()).attempts.map((a) => a.outcome);
    assert.deepEqual(outcomes, ['refused_too_large', 'refused_too_large', 'refused_method']);
    assert.equal((await stored()).record.status, 'PENDING', 'nothing was decided');
    await http('POST', 'bob', { decision: 'reject' });
    await outcome;
  });

  test('the Lambda entry point answers an event without requestContext (or with anything malformed) with 400, never a TypeError', async () => {
    const lambda = createApprovalEndpointHandler(runtime.deps);
    for (const event of [
      { rawPath: '/approvals/x' },
      null,
      'GET /',
      { requestContext: { http: {} } },
      { rawPath: 1, requestContext: { http: { method: 'GET' } } },
    ]) {
      const result = await lambda(event, {} as never);
      assert.equal(result.statusCode, 400, JSON.stringify(event));
      assert.equal(result.headers?.['x-frame-options'], 'DENY');
    }
  });

  test('attempts after the run closed are evidenced under control/ (write-once), not only in the state table', async () => {
    const { outcome, http, challenge, request } = await startGated('bypass_purge', hoursAgo(9));
    await http('POST', 'bob', { decision: 'approve', challenge });
    assert.equal((await outcome).kind, 'completed');
    const prefix = `stage=local/dt=${new Date().toISOString().slice(0, 10)}/control/`;
    const before = (await stack.ports.evidence.list(prefix)).filter((k) =>
      k.includes('gate.attempt'),
    );

    assert.equal((await http('GET', null, {}, 'late-viewer/1')).status, 200);
    assert.equal(
      (await http('POST', 'bob', { decision: 'approve', challenge }, 'late-approver/1')).status,
      409,
    );

    const added = (await stack.ports.evidence.list(prefix)).filter(
      (k) => k.includes('gate.attempt') && !before.includes(k),
    );
    assert.equal(added.length, 2);
    const events = await Promise.all(
      added.map(async (k) =>
        AuditEvent.parse(
          JSON.parse(new TextDecoder().decode(await runtime.deps.evidence.getObject(k))),
        ),
      ),
    );
    assert.deepEqual(events.map((e) => e.details?.outcome).sort(), [
      'refused_already_decided',
      'viewed',
    ]);
    assert.ok(
      events.every(
        (e) => e.details?.approvalId === request.approvalId && e.type === 'gate.attempt',
      ),
    );
  });

  test('plan-bound: run records that become eligible after the plan was shown make Execute refuse with plan_changed; nothing is purged', async () => {
    const { outcome, http, challenge, stored } = await startGated(
      'run_record_retention',
      new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    );
    assert.match((await stored()).record.plan.summary, /^purge 0 run record\(s\)/);
    assert.match((await stored()).record.planSha256 ?? '', /^[a-f0-9]{64}$/);
    // A run from long ago finishes now: one more record than the approvers were shown becomes
    // eligible.
    const past = new LocalRuntime(stack.env, [purge], {
      ports: stack.ports,
      clock: { now: () => new Date('2025-01-10T00:00:00Z') },
    });
    assert.equal(
      (
        await past.run({
          jobId: 'evidence_integrity_check',
          scheduledTime: '2025-01-09T00:00:00Z',
          trigger: 'manual',
        })
      ).kind,
      'completed',
    );
    await http('POST', 'bob', { decision: 'approve', challenge });
    const done = await outcome;

    assert.equal(done.kind, 'refused');
    assert.ok(done.kind === 'refused');
    assert.deepEqual(
      [done.summary.status, done.summary.error?.kind, done.summary.error?.name],
      ['skipped', 'plan_changed', 'PlanChangedError'],
    );
    assert.ok(
      await runtime.deps.state.getRun('evidence_integrity_check/2025-01-09T00:00:00Z'),
      'never run on a plan nobody approved',
    );
    const { gate: results, audit } = await bundleOf(done);
    assert.equal(results.decision, 'approved');
    assert.equal(results.planSha256, (await stored()).record.planSha256);
    assert.equal(audit.find((e) => e.type === 'job.run.fail')?.error?.kind, 'plan_changed');
  });
});
