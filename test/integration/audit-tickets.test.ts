import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { AuditTicket, RISK_LEVELS, RunRecord, type RunSummary } from '../../contracts';
import type { Clock } from '../../functions/core/clock';
import { approvalGate } from '../../functions/adapters/dependencies';
import { handleApprovalHttp } from '../../functions/core/approvals';
import { engageKillSwitch } from '../../functions/core/controls';
import { errorForHttpStatus } from '../../functions/core/errors';
import type { EvidenceStore } from '../../functions/core/ports';
import { recordFailure } from '../../functions/core/run/record-failure';
import {
  formatRunDetail,
  formatRuns,
  runDetail,
  runHistory,
} from '../../functions/core/run-history';
import { createExecuteHandler } from '../../functions/execute/handler';
import { createPreflightHandler } from '../../functions/preflight/handler';
import type { JobImplementation } from '../../functions/jobs/types';
import { mirrorEvidence, runNamedQuery } from '../../local/query';
import { LocalRuntime, type ExecutionOutcome } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { CANARIES, CUSTOM_PATTERN } from '../support/canaries';
import { readVerifiedBundle } from '../support/evidence';
import { waitingJob } from '../support/jobs';
import { FakeEndpoint } from '../support/fake-http';
import { testStack, withTestJobs } from '../support/local';

const LEASE_SECONDS = 5;
const SECRET_REF = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ticket-token-AbCdEf';
/** A Lambda context with Execute's 900 s. */
const lambda900 = { getRemainingTimeInMillis: () => 900_000 } as never;

/** Yesterday (UTC) at `hour`: inside open_tickets' window. */
const yesterdayAt = (hour: number) => {
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  return `${day}T${String(hour).padStart(2, '0')}:00:00Z`;
};

/** Every canary in one failure message, as a careless dependency's answer might carry them. */
const CANARY_MESSAGE = `POST https://api.example.test/hook ${Object.values(CANARIES).join(' ')}`;

/** A job whose dependency refuses it with a message full of secrets. */
function leakyJob(jobId: string): JobImplementation {
  return {
    jobId,
    async run() {
      throw errorForHttpStatus(403, CANARY_MESSAGE);
    },
  };
}

/** A dangerous op whose dependency refuses it (HTTP 403) once it is approved. */
function forbiddenJob(jobId: string): JobImplementation {
  return {
    jobId,
    async run() {
      throw errorForHttpStatus(403, 'POST https://vault.example.test/rotate');
    },
  };
}

/** Lets `allowed` puts through, then fails: a process killed mid-bundle. */
function dyingEvidence(inner: EvidenceStore, diesAfter: (key: string) => boolean): EvidenceStore {
  let dead = false;
  return {
    getObject: (key) => inner.getObject(key),
    list: (prefix) => inner.list(prefix),
    putObject: async (key, body, contentType) => {
      if (dead) throw new Error('killed');
      const put = await inner.putObject(key, body, contentType);
      dead = diesAfter(key);
      return put;
    },
  };
}

/**
 * Failing http jobs against a fake endpoint, through the real ASL and handlers on the local stack
 * (DynamoDB Local, the local S3 endpoint): every failed run's bundle holds its ticket.
 */
describe('audit tickets: every failed run gets one in its bundle (docs/evidence.md#tickets)', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  const endpoint = new FakeEndpoint();
  const outcomes: Record<string, ExecutionOutcome> = {};
  const requests: { approvalId: string; link: string }[] = [];
  const waiting = waitingJob('t_wait');
  const HTTP_JOBS: Record<string, { path: string; status: number; delayMs?: number }> = {
    t_403: { path: '/forbidden', status: 403 },
    t_404: { path: '/missing', status: 404 },
    t_422: { path: '/invalid', status: 422 },
    t_500: { path: '/broken', status: 500 },
    t_503: { path: '/unavailable', status: 503 },
    t_timeout: { path: '/slow', status: 200, delayMs: 3_000 },
  };
  const OK_JOB = { path: '/ok', status: 200 };

  beforeAll(async () => {
    // Prepare: the endpoint first (its port goes in the jobs' params), then the jobs and the stack.
    await endpoint.start();
    for (const { path, status, delayMs } of Object.values(HTTP_JOBS))
      endpoint.scripts[path] = [{ delayMs: delayMs ?? 0, status }];
    endpoint.scripts[OK_JOB.path] = [{ delayMs: 0, status: OK_JOB.status }];
    const port = new URL(endpoint.base).port;
    const http = (path: string, extra: Record<string, unknown> = {}) => ({
      implementation: {
        kind: 'http',
        method: 'POST',
        url: `http://127.0.0.1:{{params.port}}${path}`,
        timeoutMs: 300,
        ...extra,
      },
      params: { port },
    });
    const policyDir = withTestJobs(
      [
        ...Object.entries(HTTP_JOBS).map(([jobId, { path }]) => ({ jobId, ...http(path) })),
        {
          jobId: 't_secret',
          ...http('/forbidden', {
            headers: { Authorization: 'Bearer {{secret.token}}' },
            secrets: { token: SECRET_REF },
          }),
        },
        { jobId: 't_ok', ...http(OK_JOB.path) },
        { jobId: 't_canary' },
        { jobId: 't_takeover' },
        { jobId: 't_danger', dangerous: { value: true, opKind: 'secret_rotate' } },
        { jobId: 't_wait' },
      ],
      (policy) => ({
        ...policy,
        retry: { maxAttempts: 2, intervalSeconds: 1, backoffRate: 2, maxDelaySeconds: 2 },
        // The canaries' custom pattern is the stage's own, as a user's policy would add one.
        redaction: { ...policy.redaction, patterns: [CUSTOM_PATTERN] },
        approvals: {
          ...policy.approvals,
          timeoutSeconds: 60,
          approversByOpKind: { ...policy.approvals.approversByOpKind, secret_rotate: ['bob'] },
        },
        thresholds: {
          ...policy.thresholds,
          quarantineAfterConsecutiveFailures: 2,
          runLeaseSeconds: LEASE_SECONDS,
        },
      }),
    );
    stack = await testStack({ policyDir });
    runtime = new LocalRuntime(
      stack.env,
      [leakyJob('t_canary'), leakyJob('t_takeover'), forbiddenJob('t_danger'), waiting],
      { onApprovalRequested: (r) => requests.push(r), killSwitchPollMs: 100 },
    );
    const run = (jobId: string, hour: number) =>
      runtime.run(
        { jobId, scheduledTime: yesterdayAt(hour), trigger: 'manual' },
        { retryPauseMs: 1 },
      );
    // Act: one failed run per job; t_403 fails twice, and its second failure quarantines it.
    for (const jobId of [...Object.keys(HTTP_JOBS), 't_secret', 't_canary'])
      outcomes[jobId] = await run(jobId, 1);
    outcomes.t_403_again = await run('t_403', 2);
  });
  afterAll(async () => {
    await stack.stop();
    await endpoint.stop();
  });

  async function bundleOf(outcome: ExecutionOutcome | undefined) {
    assert.ok(outcome?.kind === 'failed', JSON.stringify(outcome));
    const summary = outcome.summary as RunSummary;
    const bundle = await readVerifiedBundle(runtime.deps.evidence, summary.manifestKey as string);
    const ticket = AuditTicket.parse(JSON.parse(bundle.objects['ticket.json'] as string));
    return { summary, bundle, ticket, markdown: bundle.objects['ticket_md.md'] as string };
  }

  test('tickets classified for 403, 404, 422, 500, 503 and a timeout, through the real http job', async () => {
    const expected: Record<string, [string, number | null, string]> = {
      t_403: ['permission', 403, 'medium'],
      t_404: ['not_found', 404, 'medium'],
      t_422: ['configuration', 422, 'medium'],
      t_500: ['transient', 500, 'low'],
      t_503: ['transient', 503, 'low'],
      t_timeout: ['transient', null, 'low'],
    };
    for (const [jobId, [category, status, risk]] of Object.entries(expected)) {
      // Act
      const { summary, ticket, markdown } = await bundleOf(outcomes[jobId]);
      // Assess
      assert.deepEqual(
        [ticket.classification.category, ticket.classification.http_status, ticket.risk],
        [category, status, risk],
        jobId,
      );
      assert.equal(ticket.job_id, jobId);
      assert.equal(ticket.run_id, summary.jobRunId);
      assert.equal(ticket.failed.step, 'execute');
      assert.equal(ticket.failed.error_code, summary.error?.kind);
      assert.match(markdown, new RegExp(`^# Audit ticket ${ticket.ticket_id}: ${risk} risk`));
    }
    // The 5xx and the timeout were retried (retry.maxAttempts 2) before they failed; the 4xx were
    // not.
    for (const jobId of ['t_500', 't_503', 't_timeout'])
      assert.equal((await bundleOf(outcomes[jobId])).ticket.failed.attempts, 3, jobId);
    assert.equal((await bundleOf(outcomes.t_403)).ticket.failed.attempts, 1);
  });

  test('a missing secret is secret_missing; a second failure that quarantines the job raises the risk', async () => {
    const secret = (await bundleOf(outcomes.t_secret)).ticket;
    assert.equal(secret.classification.category, 'secret_missing');
    assert.match(secret.suggested_action, /secret_ref/);
    const again = (await bundleOf(outcomes.t_403_again)).ticket;
    assert.deepEqual([again.quarantined, again.risk], [true, 'high']);
    assert.notEqual(again.ticket_id, (await bundleOf(outcomes.t_403)).ticket.ticket_id);
  });

  test('a permission problem on a dangerous op, approved and then refused by its dependency, is high risk', async () => {
    // Prepare: alice asks, bob approves at the gate.
    const pending = runtime.run(
      { jobId: 't_danger', scheduledTime: yesterdayAt(4), trigger: 'manual', requestedBy: 'alice' },
      { retryPauseMs: 1 },
    );
    while (requests.length === 0) await new Promise((r) => setTimeout(r, 50));
    const gate = await approvalGate(runtime.deps)();
    const request = requests[0] as { approvalId: string; link: string };
    const url = new URL(request.link);
    const challenge = (await gate.approvals.getApproval(request.approvalId))?.record.challenge;
    const approved = await handleApprovalHttp(gate, {
      method: 'POST',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      form: { decision: 'approve', challenge: challenge as string },
      identity: 'bob',
      userAgent: 'test',
      source: 'local',
    });
    assert.equal(approved.status, 200, approved.message);
    // Act
    const { bundle, ticket } = await bundleOf(await pending);
    // Assess
    assert.deepEqual(
      [ticket.classification.category, ticket.dangerous, ticket.risk, ticket.failed.step],
      ['permission', true, 'high', 'execute'],
    );
    assert.ok(ticket.risk_reasons.some((r) => /dangerous op/.test(r)));
    assert.ok('gate_results.json' in bundle.objects);
    assert.ok(ticket.evidence_refs.some((k) => k.includes('/gate_results/')));
  });

  test('a run stopped by a kill-switch (recorded by ExecutionEnded) gets a ticket too: unknown, in execute', async () => {
    // Prepare
    const running = runtime.run(
      { jobId: 't_wait', scheduledTime: yesterdayAt(7), trigger: 'manual' },
      { retryPauseMs: 1 },
    );
    await waiting.started;
    // Act: engaged from another process; the runtime's watchdog aborts the execution.
    await engageKillSwitch(
      {
        ...runtime.deps,
        executions: { stopRunning: async () => [] },
        schedules: { disable: async () => [] },
      },
      't_wait',
      { by: 'carol', reason: 'runaway job' },
    );
    const stopped = await running;
    waiting.release();
    // Assess
    assert.ok(stopped.kind === 'stopped' && stopped.summary, JSON.stringify(stopped));
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      stopped.summary.manifestKey as string,
    );
    const ticket = AuditTicket.parse(JSON.parse(bundle.objects['ticket.json'] as string));
    assert.deepEqual(
      [ticket.failed.error_code, ticket.classification.category, ticket.failed.step, ticket.risk],
      ['stopped', 'unknown', 'execute', 'medium'],
    );
  });

  test('the ticket is in the manifest, refers to the bundle’s other objects, and opens when the run ended', async () => {
    // Act
    const { summary, bundle, ticket } = await bundleOf(outcomes.t_404);
    // Assess
    const names = bundle.manifest.objects.map((o) => o.name.split('/')[0]);
    assert.ok(names.includes('ticket') && names.includes('ticket_md'), names.join());
    const keys = bundle.manifest.objects
      .filter((o) => !o.name.startsWith('ticket'))
      .map((o) => `${bundle.manifest.prefix}${o.name}`);
    assert.deepEqual(ticket.evidence_refs.sort(), [...keys, summary.manifestKey].sort());
    const record = RunRecord.parse(JSON.parse(bundle.objects['run_record.json'] as string));
    assert.equal(ticket.opened_at, record.endedAt);
  });

  test('control: a run that succeeded has no ticket', async () => {
    // Act
    const ok = await runtime.run(
      { jobId: 't_ok', scheduledTime: yesterdayAt(1), trigger: 'manual' },
      { retryPauseMs: 1 },
    );
    // Assess
    assert.ok(ok.kind === 'completed', JSON.stringify(ok));
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      ok.summary.manifestKey as string,
    );
    assert.ok('run_record.json' in bundle.objects);
    assert.ok(!('ticket.json' in bundle.objects) && !('ticket_md.md' in bundle.objects));
  });

  test('a canary secret in a failure message appears in no report (show, runs), ticket, bundle object or summary', async () => {
    // Act
    const { summary, bundle, ticket } = await bundleOf(outcomes.t_canary);
    // Assess
    assert.equal(ticket.classification.category, 'permission');
    // `opsrail show` and `opsrail runs`, the reports an operator reads, from the state table.
    const item = await runtime.deps.state.getRun(summary.jobRunId);
    assert.ok(item);
    const show = formatRunDetail(runDetail(item), 'UTC').join('\n');
    const runs = formatRuns(runHistory([item]), () => 'UTC').join('\n');
    assert.match(
      show,
      new RegExp(`also +${bundle.manifest.prefix}ticket/`),
      'show lists the ticket',
    );
    const everything = [JSON.stringify(summary), show, runs, ...Object.values(bundle.objects)].join(
      '\n',
    );
    for (const [name, canary] of Object.entries(CANARIES))
      for (const leaked of [canary, decodeURIComponent(canary)])
        assert.ok(!everything.includes(leaked), `${name} leaked`);
    assert.match(ticket.failed.message, /\[REDACTED\]/);
  });

  test('open_tickets lists the open tickets by risk, highest first, then newest', async () => {
    // Prepare: the tickets as their bundles hold them, in the order the query promises.
    const tickets = await Promise.all(
      Object.values(outcomes)
        .filter((o) => o.kind === 'failed')
        .map(async (o) => (await bundleOf(o)).ticket),
    );
    const rank = (risk: string) => RISK_LEVELS.indexOf(risk as (typeof RISK_LEVELS)[number]);
    const expected = tickets
      .sort(
        (a, b) =>
          rank(b.risk) - rank(a.risk) ||
          b.opened_at.localeCompare(a.opened_at) ||
          a.ticket_id.localeCompare(b.ticket_id),
      )
      .map((t) => [t.ticket_id, t.risk, t.classification.category]);
    // Act
    const root = await mirrorEvidence(runtime.deps.evidence, 'local');
    const rows = await runNamedQuery(root, 'open_tickets');
    // Assess
    const mine = new Set(tickets.map((t) => t.ticket_id));
    const listed = rows.filter((r) => mine.has(String(r.ticket_id)));
    assert.deepEqual(
      listed.map((r) => [r.ticket_id, r.risk, r.category]),
      expected,
    );
    assert.equal(expected.length, 9);
    assert.deepEqual(
      [listed[0]?.job_id, listed[0]?.risk, listed[0]?.http_status, listed[0]?.failed_step],
      ['t_403', 'high', 403, 'execute'],
    );
    assert.equal(listed.at(-1)?.risk, 'low');
    assert.deepEqual(
      rows.map((r) => r.risk),
      rows.map((r) => r.risk).sort((a, b) => rank(String(b)) - rank(String(a))),
      'every open ticket, highest risk first',
    );
    // A ticket 40 days old is outside the default window of 30 days; --days 60 reaches it.
    const old = new Date(Date.now() - 40 * 86_400_000).toISOString().slice(0, 10);
    const folder = join(root, `stage=local/dt=${old}/job_id=t_404/ticket`);
    mkdirSync(folder, { recursive: true });
    const planted = { ...tickets[0], ticket_id: 'tkt-0000000000000040', risk: 'critical' };
    writeFileSync(join(folder, 'run=old.json'), `${JSON.stringify(planted)}\n`);
    const ids = async (days?: number) =>
      (await runNamedQuery(root, 'open_tickets', days)).map((r) => r.ticket_id);
    assert.ok(!(await ids()).includes(planted.ticket_id));
    assert.equal((await ids(60))[0], planted.ticket_id);
  });

  test('a failed run taken over after its holder died mid-bundle writes the same ticket bytes', async () => {
    // Prepare: holder A claims, the job fails, and RecordFailure dies right after writing the
    // ticket's JSON, before its Markdown and the manifest.
    const deliver = {
      jobId: 't_takeover',
      scheduledTime: yesterdayAt(3),
      trigger: 'schedule' as const,
    };
    const run = await createPreflightHandler(runtime.deps)(
      { executionId: 'exec-A', request: deliver },
      {} as never,
    );
    const failure = await createExecuteHandler(runtime.deps)({ run }, lambda900).then(
      () => assert.fail('the job fails'),
      (error: Error) => error,
    );
    const caught = {
      Error: failure.name,
      Cause: JSON.stringify({ errorMessage: failure.message }),
    };
    await assert.rejects(
      recordFailure(
        {
          ...runtime.deps,
          evidence: dyingEvidence(runtime.deps.evidence, (k) => k.includes('/ticket/')),
        },
        { ...deliver, run, error: caught },
        'exec-A',
      ),
      /killed/,
    );
    const item = await runtime.deps.state.getRun(run.jobRunId);
    assert.ok(item?.chain && !item.summary, 'linked, not finished');
    const ticketKey = (await runtime.deps.evidence.list(run.evidencePrefix)).find((k) =>
      k.includes('/ticket/'),
    );
    assert.ok(ticketKey, 'the ticket JSON was written before the holder died');
    const written = await runtime.deps.evidence.getObject(ticketKey);

    // Act: after the lease, another delivery takes the run over and finishes its evidence.
    const afterLease: Clock = { now: () => new Date(Date.now() + (LEASE_SECONDS + 1) * 1000) };
    const jobs = [leakyJob('t_canary'), leakyJob('t_takeover'), forbiddenJob('t_danger'), waiting];
    const restarted = new LocalRuntime(stack.env, jobs, {
      clock: afterLease,
    });
    const outcome = await restarted.run(deliver, { retryPauseMs: 1 });

    // Assess: the bundle verifies against the link A reserved, and its ticket is A's bytes.
    assert.ok('summary' in outcome && outcome.summary, JSON.stringify(outcome));
    assert.equal(outcome.summary.status, 'error');
    const bundle = await readVerifiedBundle(restarted.deps.evidence, item.chain.manifestKey);
    assert.equal(bundle.manifestSha256, item.chain.manifestSha256);
    assert.equal(bundle.objects['ticket.json'], new TextDecoder().decode(written as Uint8Array));
    assert.ok('ticket_md.md' in bundle.objects);
    const ticket = AuditTicket.parse(JSON.parse(bundle.objects['ticket.json'] as string));
    assert.equal(ticket.classification.category, 'permission');
  });
});
