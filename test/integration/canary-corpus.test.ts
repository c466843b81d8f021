import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { approvalGate } from '../../functions/adapters/dependencies';
import { approvalLink } from '../../functions/core/approvals';
import type { JobImplementation } from '../../functions/jobs/types';
import { startApprovalServer } from '../../local/approval-server';
import { LocalRuntime } from '../../local/runtime';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { CANARIES, CUSTOM_PATTERN } from '../support/canaries';
import { jobModulesDir, withTestJobs } from '../support/local';

/**
 * The canary corpus (a secret per redaction pattern and a policy pattern, each also URL-encoded)
 * sent through every channel an operator or a job can put text into, on a local stack with
 * file-backed DynamoDB Local and S3 endpoint under its own OPSRAIL_HOME, driving the real CLI for
 * the operator's side. Then every file under OPSRAIL_HOME (gzip archives opened) and every printed
 * line is searched.
 */
const BIN = resolve(import.meta.dirname, '..', '..', 'cli', 'bin', 'opsrail.mjs');
const names = Object.keys(CANARIES);
const all = (separator = ' | ') => Object.values(CANARIES).join(separator);
/** What would show a leak: each canary whole, and a distinctive 16-character piece of it. */
const needles = Object.entries(CANARIES).flatMap(([name, canary]) => {
  const piece = canary.replace(/^-----BEGIN RSA PRIVATE KEY-----\n/, '').slice(0, 16);
  return [
    { name, needle: canary },
    { name, needle: piece },
  ];
});
const WINDOW = '2026-05-01T00:00:00Z';
const channels: string[] = [];
const used = (...channel: string[]) => channels.push(...channel);

const canaryJob: JobImplementation = {
  jobId: 'canary_job',
  async run(context) {
    context.log(`calling the API with ${all()}`, {
      ...Object.fromEntries(Object.values(CANARIES).map((c, i) => [c, `value ${i} ${c}`])),
      headers: { authorization: CANARIES.bearer_token! },
    });
    return {
      quality: 'OK',
      outputs: [
        {
          name: 'report.json',
          contentType: 'application/json',
          body: JSON.stringify({ [CANARIES.email!]: all() }),
        },
      ],
      integrityReport: {
        schemaVersion: 1,
        jobRunId: context.run.jobRunId,
        generatedAt: context.clock.now().toISOString(),
        status: 'OK',
        subject: 'run',
        checked: { bundles: 0, objects: 0 },
        bundles: [],
        findings: Object.values(CANARIES).map((c) => ({
          kind: 'missing_object' as const,
          key: c,
          detail: c,
        })),
      },
      diagnostics: [{ level: 'info', code: CANARIES.slack_token!, message: all() }],
    };
  },
};
const canaryFailure: JobImplementation = {
  jobId: 'canary_fail',
  async run() {
    throw Object.assign(new Error(`rejected: ${all()}`), {
      name: `${CANARIES.aws_access_key!}Error`,
    });
  },
};
const canaryGate: JobImplementation = {
  jobId: 'canary_gate',
  async plan() {
    return {
      summary: `purge for ${CANARIES.email!}`,
      details: Object.fromEntries(Object.values(CANARIES).map((c) => [c, [c]])),
    };
  },
  async run() {
    return { quality: 'OK', outputs: [], integrityReport: null, diagnostics: [] };
  },
};

const freePort = () =>
  new Promise<number>((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('no canary reaches a file under OPSRAIL_HOME or a printed line, through any channel', () => {
  const home = mkdtempSync(join(tmpdir(), 'opsrail-canaries-'));
  let stack: LocalStack;
  let runtime: LocalRuntime;
  let policyDir: string;
  const jobsDir = jobModulesDir(['canary_job', 'canary_fail', 'canary_gate']);
  const printed: string[] = [];
  let restore = () => {};
  let stopped = false;

  const opsrail = (...args: string[]) =>
    new Promise<{ code: number; out: string }>((done) => {
      const env = {
        ...process.env,
        OPSRAIL_HOME: home,
        OPSRAIL_POLICY_DIR: policyDir,
        OPSRAIL_JOBS_DIR: jobsDir,
        OPSRAIL_LOG_LEVEL: 'DEBUG',
      };
      execFile(
        process.execPath,
        [BIN, ...args],
        { env, timeout: 180_000, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          printed.push(stdout, stderr);
          done({
            code: error ? Number((error as { code?: number }).code ?? 1) : 0,
            out: `${stdout}${stderr}`,
          });
        },
      );
    });

  beforeAll(async () => {
    const port = await freePort();
    policyDir = withTestJobs(
      [
        { jobId: 'canary_job' },
        { jobId: 'canary_fail' },
        { jobId: 'canary_gate', dangerous: { value: true, opKind: 'retention' } },
      ],
      (p) => ({
        ...p,
        // Declared, not enabled: they run by hand here, so the CLI (which has no code for them)
        // still loads this policy (an enabled job needs an implementation wherever jobs run).
        jobs: {
          ...p.jobs,
          canary_job: { enabled: false },
          canary_fail: { enabled: false },
          canary_gate: { enabled: false },
        },
        redaction: { placeholder: '[REDACTED]', patterns: [CUSTOM_PATTERN] },
        approvals: {
          ...p.approvals,
          linkBaseUrl: `http://127.0.0.1:${port}`,
          approversByOpKind: {
            ...p.approvals.approversByOpKind,
            retention: ['alice', CANARIES.email_urlencoded!, CANARIES.slack_token!],
          },
        },
      }),
    );
    // Not the test run's in-memory DynamoDB Local: one of its own, with its files under this home.
    stack = await startLocalStack({ home, policyDir, attach: false });
    runtime = new LocalRuntime({ ...stack.env, POWERTOOLS_LOG_LEVEL: 'DEBUG' }, [
      canaryJob,
      canaryFailure,
      canaryGate,
    ]);
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream);
      stream.write = ((chunk: string | Uint8Array) => {
        printed.push(chunk.toString());
        return true;
      }) as typeof stream.write;
      const previous = restore;
      restore = () => {
        stream.write = write;
        previous();
      };
    }
  });
  afterAll(async () => {
    restore();
    if (!stopped) await stack?.stop();
  });

  test('every channel, then every file and every printed line: 0 hits', {
    timeout: 600_000,
  }, async () => {
    const params = Object.fromEntries(Object.values(CANARIES).map((c, i) => [`p${i}`, c]));
    // A parameter's name must be a plain name (contracts/execution.ts): a secret as a name is
    // refused before anything is claimed, and the refusal itself must not leak it either.
    const secretNames = Object.fromEntries(
      Object.values(CANARIES)
        .filter((c) => !c.includes('='))
        .map((c) => [c, 'v']),
    );
    // Jobs: log message, log detail keys and values, outputs, diagnostics, the integrity report
    // (also in the idempotency table), run params (keys and values), the requester, error names and
    // messages.
    const ok = await runtime.run({
      jobId: 'canary_job',
      scheduledTime: WINDOW,
      trigger: 'manual',
      requestedBy: CANARIES.github_token!,
      params,
    });
    assert.equal(ok.kind, 'completed');
    await assert.rejects(
      runtime.run({
        jobId: 'canary_job',
        scheduledTime: WINDOW,
        trigger: 'manual',
        params: secretNames,
      }),
      (error: Error) => error.name === 'ValidationError',
    );
    const failed = await runtime.run({
      jobId: 'canary_fail',
      scheduledTime: WINDOW,
      trigger: 'manual',
      requestedBy: CANARIES.openai_key_urlencoded!,
    });
    assert.equal(failed.kind, 'failed');
    used(
      'job log message',
      'job log detail keys',
      'job log detail values',
      'outputs',
      'diagnostics',
      'integrity report',
      'run params keys',
      'run params values',
      'requester id',
      'error name (lastAttemptError)',
      'error message',
    );

    // The gate: plan details (keys and values), approval attempts over HTTP with hostile
    // User-Agents, the requester trying to approve (by the same e-mail address), a decision through
    // the CLI.
    const gate = await approvalGate(runtime.deps)();
    const server = await startApprovalServer(gate);
    assert.ok(server, 'the approval page is served on the test port');
    let approvalId = '';
    const gated = runtime.run({
      jobId: 'canary_gate',
      scheduledTime: WINDOW,
      trigger: 'manual',
      requestedBy: CANARIES.email!,
    });
    try {
      for (let i = 0; i < 200 && !approvalId; i++) {
        approvalId = (await gate.approvals.listPendingApprovals())[0]?.approvalId ?? '';
        await new Promise((r) => setTimeout(r, 100));
      }
      const stored = (await gate.approvals.getApproval(approvalId))!;
      const link = approvalLink(gate.linkBaseUrl, gate.signingKey, stored.record);
      const post = (approver: string, form: Record<string, string>) =>
        fetch(link, {
          method: 'POST',
          headers: {
            'user-agent': `Mozilla/5.0 ${all(' ').replace(/\n/g, ' ')}`,
            'x-opsrail-approver': approver,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: new URLSearchParams(form).toString(),
        });
      assert.equal(
        (await fetch(link, { headers: { 'user-agent': CANARIES.bearer_token_urlencoded! } }))
          .status,
        200,
      );
      assert.equal(
        (await post(CANARIES.email!, { decision: 'approve', challenge: stored.record.challenge }))
          .status,
        403,
        'the requester, by the same address, is refused',
      );
      assert.equal(
        (
          await post(CANARIES.slack_token!, {
            decision: 'approve',
            challenge: `wrong ${all()}`,
            reason: all(),
          })
        ).status,
        400,
      );
      const self = await opsrail(
        'approve',
        approvalId,
        '--as',
        CANARIES.email!,
        '--challenge',
        stored.record.challenge,
      );
      assert.equal(self.code, 3, self.out);
      const approve = await opsrail(
        'approve',
        approvalId,
        '--as',
        CANARIES.email_urlencoded!,
        '--challenge',
        stored.record.challenge,
        '--reason',
        all(),
      );
      assert.equal(approve.code, 0, approve.out);
      const outcome = await gated;
      assert.equal(outcome.kind, 'completed', JSON.stringify(outcome));
    } finally {
      await server?.close();
    }
    used(
      'plan details keys',
      'plan details values',
      'approval User-Agent (GET and POST)',
      'approver id (HTTP header)',
      'approver id (CLI --as)',
      'approval reason',
      'wrong challenge text',
    );

    // The operator's side, through the real CLI attached to this stack.
    const run = await opsrail(
      'run',
      'evidence_integrity_check',
      '--at',
      '2026-05-02T00:00:00Z',
      '--as',
      CANARIES.github_pat!,
      ...Object.entries(params).map(([k, v]) => `--param=${k}=${v}`),
    );
    assert.ok([0, 3, 4].includes(run.code), run.out);
    const refusedNames = await opsrail(
      'run',
      'evidence_integrity_check',
      '--at',
      '2026-05-02T01:00:00Z',
      ...Object.entries(secretNames).map(([k, v]) => `--param=${k}=${v}`),
    );
    assert.equal(refusedNames.code, 2, refusedNames.out);
    const kill = await opsrail(
      'kill',
      'engage',
      'canary_job',
      '--as',
      CANARIES.aws_session_key!,
      '--reason',
      all(),
    );
    assert.equal(kill.code, 0, kill.out);
    const safety = await opsrail(
      'safety',
      'SAFE',
      '--as',
      CANARIES.email_urlencoded!,
      '--reason',
      all(),
    );
    assert.equal(safety.code, 0, safety.out);
    const bundle = await opsrail(
      'support-bundle',
      `canary_job/${WINDOW}`,
      '--as',
      CANARIES.github_user!,
    );
    assert.equal(bundle.code, 0, bundle.out);
    assert.equal((await opsrail('run', `no_such_job_${CANARIES.long_secret!}`)).code, 2);
    assert.equal(
      (await opsrail('kill', 'engage', `job_${CANARIES.custom!}`, '--as', 'x', '--reason', 'y'))
        .code,
      2,
    );
    for (const args of [
      ['status'],
      ['status', '--json'],
      ['approvals'],
      ['verify', '--all'],
      ['query', '--named', 'dangerous_op_decisions'],
      ['query', 'SELECT * FROM control_events'],
    ]) {
      const { code, out } = await opsrail(...args);
      assert.ok(code !== 1 || args[0] === 'verify', `${args.join(' ')}: ${out}`);
    }
    used(
      'CLI run --param keys',
      'CLI run --param values',
      'CLI run --as',
      'kill engage --as',
      'kill engage --reason',
      'safety --as',
      'safety --reason',
      'support-bundle --as',
      'CLI error output',
      'status, approvals, verify and query output',
    );
    const verify = await verifyAll();
    assert.match(
      verify,
      /verified: \d+ manifest\(s\), \d+ object\(s\), 0 problem\(s\); 3 control event\(s\)/,
      'the redacted evidence still verifies',
    );

    restore();
    await stack.stop();
    stopped = true;
    // Everything stored: DynamoDB Local's files, the S3 endpoint's files, support bundles (opened),
    // logs.
    const files = filesUnder(home);
    const contents = files.flatMap((path) => {
      const bytes = readFileSync(path);
      return [
        { path, text: bytes.toString('latin1') },
        ...(path.endsWith('.gz')
          ? [{ path: `${path} (gunzipped)`, text: gunzipSync(bytes).toString('utf8') }]
          : []),
      ];
    });
    assert.ok(
      files.some((f) => f.includes(`${join(home, 'dynamodb')}`)),
      'DynamoDB Local wrote its files under OPSRAIL_HOME',
    );
    assert.ok(
      files.some((f) => f.includes('_S3rver_object')),
      'the S3 endpoint wrote its files under OPSRAIL_HOME',
    );
    const lines = printed.join('').split('\n');
    assert.ok(
      lines.some((l) => l.includes('calling the API')),
      'the job log was printed (DEBUG)',
    );
    assert.ok(
      lines.some((l) => l.includes('[redacted-id:')),
      'ids holding a secret show as pseudonyms',
    );
    const hits = [
      ...contents.map((c) => ({ where: c.path, text: c.text })),
      ...lines.map((l, i) => ({ where: `printed line ${i + 1}`, text: l })),
    ].flatMap(({ where, text }) =>
      needles
        .filter(({ needle }) => text.includes(needle))
        .map(({ name }) => `${name} in ${where}`),
    );
    console.log(
      `canary corpus: ${channels.length} channels, ${names.length} canaries (${names.length / 2} plain + URL-encoded), ${contents.length} files scanned under OPSRAIL_HOME, ${lines.length} printed lines, ${hits.length} hits`,
    );
    assert.deepEqual([...new Set(hits)], []);
  });

  const verifyAll = async () => (await opsrail('verify', '--all')).out;
});
