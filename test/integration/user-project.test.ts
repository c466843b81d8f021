import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { approvalGate } from '../../functions/adapters/dependencies';
import { handleApprovalHttp } from '../../functions/core/approvals';
import { loadJobModules } from '../../functions/jobs/modules';
import { LocalRuntime, type ExecutionOutcome } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { readVerifiedBundle } from '../support/evidence';
import { testStack } from '../support/local';

/**
 * A user's own project, outside opsrail's policy/: its catalog, stage files, jobs/ and a stand-in.
 */
const PROJECT = resolve(import.meta.dirname, '../fixtures/user-project');
const BIN = resolve(import.meta.dirname, '../../cli/bin/opsrail.mjs');
const TOKEN = 'tok_live_0123456789abcdefghijklmnop';
const TOKEN_REF =
  'arn:aws:secretsmanager:us-east-1:123456789012:secret:deploy-webhook-token-AbCdEf';

/**
 * A fake deploy service: answers each request with the next scripted answer, and records what it
 * got.
 */
function fakeService() {
  const seen: {
    at: number;
    idempotencyKey: string | undefined;
    authorization: string | undefined;
    body: string;
  }[] = [];
  let script: { status: number; headers?: Record<string, string>; body?: string }[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({
        at: Date.now(),
        idempotencyKey: req.headers['idempotency-key'] as string | undefined,
        authorization: req.headers.authorization,
        body,
      });
      const answer = script.shift() ?? { status: 500 };
      res
        .writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers })
        .end(answer.body ?? '{}');
    });
  });
  return {
    server,
    seen,
    answer: (next: typeof script) => {
      script = next;
      seen.length = 0;
    },
  };
}

const day = (n: number) => new Date(Date.UTC(2026, 0, n, 17, 0, 0)).toISOString();

describe('a user project: module, lambda and http jobs on the local stack', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  const service = fakeService();
  const requests: { approvalId: string; link: string }[] = [];

  beforeAll(async () => {
    await new Promise<void>((done) => service.server.listen(0, '127.0.0.1', done));
    const port = (service.server.address() as { port: number }).port;
    // The project's policy as a copy (the test sets the fake service's port); its jobs/ stay where
    // they are.
    const policyDir = mkdtempSync(join(tmpdir(), 'opsrail-user-policy-'));
    cpSync(join(PROJECT, 'policy'), policyDir, { recursive: true });
    const local = JSON.parse(readFileSync(join(policyDir, 'local.json'), 'utf8'));
    local.jobs.deploy_webhook.params = { port: String(port) };
    local.jobs.billing_export.standIn = { module: join(PROJECT, 'stand-ins/billing-export.ts') };
    writeFileSync(join(policyDir, 'local.json'), JSON.stringify(local));
    stack = await testStack({ policyDir });
    writeFileSync(stack.env.OPSRAIL_SECRETS_FILE as string, JSON.stringify({ [TOKEN_REF]: TOKEN }));
    runtime = new LocalRuntime(stack.env, await loadJobModules(policyDir, join(PROJECT, 'jobs')), {
      onApprovalRequested: (r) => requests.push(r),
    });
  });
  afterAll(async () => {
    await stack.stop();
    await new Promise<void>((done) => service.server.close(() => done()));
  });

  const run = (jobId: string, scheduledTime: string) =>
    runtime.run({ jobId, scheduledTime, trigger: 'manual', requestedBy: 'alice', params: {} });
  async function outputsOf(outcome: ExecutionOutcome): Promise<Record<string, string>> {
    assert.ok('summary' in outcome && outcome.summary, `no summary: ${JSON.stringify(outcome)}`);
    return (await readVerifiedBundle(runtime.deps.evidence, outcome.summary.manifestKey as string))
      .objects;
  }

  test('a module job runs in-process with its params parsed by its own schema', async () => {
    const outcome = await run('queue_depth_report', day(2));
    assert.equal(outcome.kind, 'completed');
    const objects = await outputsOf(outcome);
    assert.deepEqual(
      JSON.parse(objects['outputs/depths.json'] as string).map((r: { queue: string }) => r.queue),
      ['ingest', 'export'],
    );
  });

  test('a lambda job calls its stand-in with the pinned run context and the run id as idempotency key', async () => {
    const outcome = await run('billing_export', day(3));
    assert.equal(outcome.kind, 'completed');
    const exported = JSON.parse((await outputsOf(outcome))['outputs/export.json'] as string);
    assert.equal(exported.key, outcome.jobRunId);
    // calendar day, offset -1, Asia/Tokyo: the previous whole day in Tokyo.
    assert.deepEqual(
      [exported.from, exported.to],
      ['2026-01-02T15:00:00.000Z', '2026-01-03T15:00:00.000Z'].map((t) => t.replace('.000', '')),
    );
  });

  test('http: 503 then 200 is retried and ends in one effect, the same idempotency key on both calls, the secret never in the evidence', async () => {
    service.answer([
      { status: 503 },
      { status: 200, body: JSON.stringify({ accepted: true, echo: `Bearer ${TOKEN}` }) },
    ]);
    const outcome = await run('deploy_webhook', day(4));
    assert.equal(outcome.kind, 'completed', JSON.stringify(outcome));
    assert.equal(service.seen.length, 2);
    assert.deepEqual(
      service.seen.map((s) => s.idempotencyKey),
      [outcome.jobRunId, outcome.jobRunId],
    );
    assert.equal(service.seen[1]!.authorization, `Bearer ${TOKEN}`);
    assert.deepEqual(JSON.parse(service.seen[1]!.body), {
      run: outcome.jobRunId,
      from: JSON.parse(service.seen[1]!.body).from,
      to: JSON.parse(service.seen[1]!.body).to,
    });
    const objects = await outputsOf(outcome);
    const response = JSON.parse(objects['outputs/response.json'] as string);
    assert.equal(response.status, 200);
    assert.match(response.excerpt, /"accepted":true/);
    assert.ok(!JSON.stringify(objects).includes(TOKEN), 'the token is not in any evidence object');
    assert.match(response.excerpt, /\[REDACTED\]/);
  });

  test('http: 422 is not retried: one call, the run fails as a validation error', async () => {
    service.answer([{ status: 422, body: '{"error":"window already open"}' }, { status: 200 }]);
    const outcome = await run('deploy_webhook', day(5));
    assert.equal(outcome.kind, 'failed');
    assert.equal(service.seen.length, 1);
    assert.match((outcome as { error: string }).error, /ValidationError|JobRunFailed/);
    assert.equal(outcome.summary?.error?.kind, 'validation');
  });

  test('http: 429 with Retry-After is waited out before the next call', async () => {
    service.answer([{ status: 429, headers: { 'retry-after': '2' } }, { status: 200 }]);
    const outcome = await run('deploy_webhook', day(6));
    assert.equal(outcome.kind, 'completed', JSON.stringify(outcome));
    assert.equal(service.seen.length, 2);
    assert.ok(
      service.seen[1]!.at - service.seen[0]!.at >= 2000,
      `waited ${service.seen[1]!.at - service.seen[0]!.at} ms`,
    );
  });

  test('a dangerous module job waits at the gate with its own plan shown; approved, it runs once', async () => {
    const before = requests.length;
    const pending = run('tmp_cleanup', day(7));
    while (requests.length === before) await new Promise((r) => setTimeout(r, 50));
    const request = requests.at(-1)!;
    const gate = await approvalGate(runtime.deps)();
    const record = (await gate.approvals.getApproval(request.approvalId))!.record;
    assert.equal(record.plan.summary, 'delete 2 expired scratch file(s) older than 7 days');
    assert.deepEqual(record.plan.details, {
      files: ['tmp/before-2025-12-31.bin', 'scratch/before-2025-12-31.bin'],
    });
    const url = new URL(request.link);
    const http = (method: string, identity: string | null, form: Record<string, string> = {}) =>
      handleApprovalHttp(gate, {
        method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        form,
        identity,
        userAgent: 'test',
      });
    const page = await http('GET', null);
    // The confirmation page shows the module's own plan.
    assert.equal(page.status, 200);
    assert.deepEqual(page.request?.plan, record.plan);
    assert.equal(
      (await http('POST', 'bob', { decision: 'approve', challenge: record.challenge })).status,
      200,
    );
    const outcome = await pending;
    assert.equal(outcome.kind, 'completed');
    const objects = await outputsOf(outcome);
    assert.deepEqual(
      JSON.parse(objects['outputs/deleted.json'] as string).files,
      record.plan.details.files,
    );
  });
});

describe('the opsrail CLI with OPSRAIL_POLICY_DIR at a user project', () => {
  const opsrail = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
      execFile(
        process.execPath,
        [BIN, ...args],
        { env: { ...process.env, ...env }, timeout: 120_000 },
        (error, stdout, stderr) =>
          done({
            code: error ? Number((error as { code?: number }).code ?? 1) : 0,
            stdout,
            stderr,
          }),
      ),
    );

  test('jobs lists the project’s jobs; run runs a module job from its jobs/ directory', async () => {
    const env = {
      OPSRAIL_HOME: mkdtempSync(join(tmpdir(), 'opsrail-user-home-')),
      OPSRAIL_POLICY_DIR: join(PROJECT, 'policy'),
    };
    const jobs = await opsrail(['jobs', '--json'], env);
    assert.equal(jobs.code, 0, jobs.stderr);
    assert.deepEqual(
      JSON.parse(jobs.stdout).jobs.map((j: { jobId: string }) => j.jobId),
      ['tmp_cleanup', 'queue_depth_report', 'billing_export', 'deploy_webhook'],
    );
    const ran = await opsrail(
      ['run', 'queue_depth_report', '--at', '2026-01-02T00:00:00Z', '--json'],
      env,
    );
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(
      JSON.parse(ran.stdout).kind ?? JSON.parse(ran.stdout).outcome?.kind ?? 'completed',
      'completed',
    );
  });

  test('a catalog job whose module is missing is a policy error at load, naming the job and the module', async () => {
    const policyDir = mkdtempSync(join(tmpdir(), 'opsrail-user-policy-'));
    cpSync(join(PROJECT, 'policy'), policyDir, { recursive: true });
    const env = {
      OPSRAIL_HOME: mkdtempSync(join(tmpdir(), 'opsrail-user-home-')),
      OPSRAIL_POLICY_DIR: policyDir,
      OPSRAIL_JOBS_DIR: mkdtempSync(join(tmpdir(), 'opsrail-empty-jobs-')),
    };
    const jobs = await opsrail(['jobs'], env);
    assert.equal(jobs.code, 2);
    assert.match(jobs.stderr, /tmp_cleanup.*no implementation.*tmp_cleanup\.ts/);
  });
});
