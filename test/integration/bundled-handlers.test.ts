import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { AuditEvent, GateResults } from '../../contracts';
import { approvalGate } from '../../functions/adapters/dependencies';
import { handleApprovalHttp, type ApprovalDependencies } from '../../functions/core/approvals';
import { setSafetyMode } from '../../functions/core/controls';
import { buildBundle, loadBundle } from '../../local/bundles';
import { LocalRuntime, type ExecutionOutcome } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { readVerifiedBundle } from '../support/evidence';
import { policyFixture, testStack } from '../support/local';

const auditOf = (jsonl: string) =>
  jsonl
    .trim()
    .split('\n')
    .map((line) => AuditEvent.parse(JSON.parse(line)));

/**
 * The scenarios of a run through the shipped bundles: each handler built by local/bundles.ts with
 * the options of infra/bundling.ts (what CDK deploys), loaded as Lambda loads it, under the real
 * ASL. Only built-in jobs exist in a bundle, so the throttled dependency is a real HTTP server.
 */
describe('OPSRAIL_HANDLERS=bundled: the real ASL over the shipped bundles', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  let gate: ApprovalDependencies;
  let server: Server;
  const answers: number[] = [];
  let requestsSeen = 0;
  const approvals: { approvalId: string; link: string }[] = [];
  const bundleDir = mkdtempSync(join(tmpdir(), 'opsrail-bundles-'));

  beforeAll(async () => {
    server = createServer((_req, res) => {
      requestsSeen++;
      res.writeHead(answers.shift() ?? 200).end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/health`;
    const policyDir = policyFixture({
      'local.json': (p) => ({
        ...p,
        jobs: {
          ...p.jobs,
          endpoint_health_check: { enabled: true, params: { url, timeoutMs: 2000 } },
          run_record_retention: { enabled: true },
        },
      }),
    });
    stack = await testStack({ policyDir });
    runtime = new LocalRuntime(stack.env, [], {
      handlers: 'bundled',
      bundleDir,
      onApprovalRequested: (r) => approvals.push(r),
    });
    gate = await approvalGate(runtime.deps)();
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await stack.stop();
  });

  async function bundleOf(outcome: ExecutionOutcome) {
    assert.ok('summary' in outcome && outcome.summary, `a summary for ${outcome.kind}`);
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      outcome.summary.manifestKey as string,
    );
    return { objects: bundle.objects, audit: auditOf(bundle.objects['audit.jsonl'] as string) };
  }

  test('the bundled runtime refuses what a bundle cannot hold: test jobs, a fake clock', () => {
    assert.throws(
      () =>
        new LocalRuntime(stack.env, [{ jobId: 'x', run: async () => ({}) as never }], {
          handlers: 'bundled',
          bundleDir,
        }),
      /bundled/,
    );
  });

  test('a successful run: completed, quality OK, a bundle that verifies', async () => {
    const done = await runtime.run({
      jobId: 'endpoint_health_check',
      scheduledTime: '2026-03-01T00:00:00Z',
      trigger: 'manual',
    });
    assert.equal(done.kind, 'completed');
    assert.ok(done.kind === 'completed');
    assert.deepEqual([done.summary.status, done.summary.quality], ['ok', 'OK']);
    const { audit, objects } = await bundleOf(done);
    assert.deepEqual(
      audit.map((e) => e.type),
      ['job.run.start', 'job.run.end'],
    );
    assert.equal(
      JSON.parse(Object.entries(objects).find(([k]) => k.endsWith('probe.json'))![1] as string)
        .status,
      200,
    );
  });

  test('the same tick twice: one effect, one DuplicateSuppressed (DuplicateRunError matched by name)', async () => {
    const tick = {
      jobId: 'endpoint_health_check',
      scheduledTime: '2026-03-01T01:00:00Z',
      trigger: 'schedule' as const,
    };
    const before = requestsSeen;
    const first = await runtime.run(tick);
    const second = await runtime.run(tick);
    assert.deepEqual([first.kind, second.kind], ['completed', 'duplicate_suppressed']);
    assert.equal(requestsSeen - before, 1, 'the dependency was called once');
    const item = await runtime.deps.state.getRun('endpoint_health_check/2026-03-01T01:00:00Z');
    assert.equal(item?.summary?.status, 'ok');
  });

  test('the Preflight bundle itself throws DuplicateRunError by that name', async () => {
    // Prepare: a run of this tick exists (this test's own, whatever ran before it).
    const tick = {
      jobId: 'endpoint_health_check',
      scheduledTime: '2026-03-01T07:00:00Z',
      trigger: 'schedule' as const,
    };
    assert.equal((await runtime.run(tick)).kind, 'completed');
    const { handler } = loadBundle<{ handler: (e: unknown, c: unknown) => Promise<unknown> }>(
      buildBundle('preflight', bundleDir),
    );
    Object.assign(process.env, stack.env);
    const event = {
      executionId: 'arn:aws:states:us-east-1:000000000000:execution:x:other',
      request: tick,
    };
    await assert.rejects(
      handler(event, { getRemainingTimeInMillis: () => 30_000 }),
      // What Lambda reports as errorType, and the head of the logged stack.
      (e: Error) =>
        e.name === 'DuplicateRunError' && e.stack?.startsWith('DuplicateRunError: run ') === true,
    );
  });

  test('a throttled dependency (HTTP 429) is retried by the ASL and the run completes', async () => {
    answers.push(429, 503);
    const before = requestsSeen;
    const done = await runtime.run(
      { jobId: 'endpoint_health_check', scheduledTime: '2026-03-01T02:00:00Z', trigger: 'manual' },
      { retryPauseMs: 10 },
    );
    assert.equal(done.kind, 'completed');
    assert.equal(requestsSeen - before, 3, 'two retries, then the answer');
    const { audit } = await bundleOf(done);
    assert.deepEqual(
      audit.filter((e) => e.type === 'job.run.retry').map((e) => e.retry?.count),
      [1, 2],
    );
  });

  test('a non-retryable answer (HTTP 403) fails the run at once as PermissionError', async () => {
    answers.push(403);
    const before = requestsSeen;
    const done = await runtime.run(
      { jobId: 'endpoint_health_check', scheduledTime: '2026-03-01T03:00:00Z', trigger: 'manual' },
      { retryPauseMs: 10 },
    );
    assert.equal(done.kind, 'failed');
    assert.equal(requestsSeen - before, 1, 'not retried');
    assert.ok(done.kind === 'failed');
    assert.equal(done.summary?.error?.kind, 'permission');
  });

  test('a refusal: under SAFE a dangerous op is refused (SafetyRefusedError caught by name) and evidenced', async () => {
    await setSafetyMode(runtime.deps, 'SAFE', { by: 'carol', reason: 'incident' });
    try {
      const done = await runtime.run({
        jobId: 'run_record_retention',
        scheduledTime: '2026-03-02T00:00:00Z',
        trigger: 'manual',
        requestedBy: 'alice',
      });
      assert.ok(done.kind === 'refused', done.kind);
      assert.equal(done.summary.error?.kind, 'refused_safety');
      assert.equal(done.summary.status, 'skipped');
      await bundleOf(done);
    } finally {
      await runtime.deps.state.setSafetyState({
        schemaVersion: 1,
        mode: 'NORMAL',
        reason: 'test reset',
        changedBy: 'test',
        changedAt: new Date().toISOString(),
      });
    }
  });

  test('a dangerous op waits at the gate, is approved by a second person, runs once, and gate_results say who', async () => {
    const asked = approvals.length;
    const outcome = runtime.run({
      jobId: 'run_record_retention',
      scheduledTime: '2026-03-08T03:00:00Z',
      trigger: 'manual',
      requestedBy: 'alice',
    });
    while (approvals.length === asked) await new Promise((r) => setTimeout(r, 50));
    const request = approvals.at(-1)!;
    const url = new URL(request.link);
    const challenge = (await gate.approvals.getApproval(request.approvalId))!.record.challenge;
    const answer = await handleApprovalHttp(gate, {
      method: 'POST',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      form: { decision: 'approve', challenge },
      identity: 'bob',
      userAgent: 'test',
    });
    assert.equal(answer.status, 200);
    const done = await outcome;
    assert.equal(done.kind, 'completed');
    const { objects, audit } = await bundleOf(done);
    const results = GateResults.parse(JSON.parse(objects['gate_results.json'] as string));
    assert.deepEqual(
      [results.decision, results.decidedBy, results.requestedBy],
      ['approved', 'bob', 'alice'],
    );
    assert.ok(audit.some((e) => e.type === 'job.dangerous_op.confirm'));
  });
});
