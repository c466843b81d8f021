import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { createPreflightHandler } from '../../functions/preflight/handler';
import { RunRefusedError } from '../../functions/core/errors';
import { LocalRuntime } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { countingJob } from '../support/jobs';
import { policyFixture, testStack, withTestJobs } from '../support/local';

/** Faults a new user meets on the local stack, each fixed (see docs/handlers.md). */

const BIN = resolve(import.meta.dirname, '..', '..', 'cli', 'bin', 'opsrail.mjs');

function opsrail(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, ...env }, timeout: 120_000 },
      (error, stdout, stderr) => {
        done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const MINUTE = 60_000;

describe('a run with a future scheduled time is refused before anything is claimed', () => {
  let stack: LocalStack;
  const job = countingJob('early_job');

  beforeAll(async () => {
    stack = await testStack({ policyDir: withTestJobs([{ jobId: 'early_job' }]) });
  });
  afterAll(async () => stack.stop());

  test('refused as inputs_unpinned with no claim and no bundle; the real tick then runs, not suppressed', async () => {
    const now = Date.now();
    const tick = new Date(Math.floor((now + 15 * MINUTE) / MINUTE) * MINUTE).toISOString();
    const early = new LocalRuntime(stack.env, [job], { clock: { now: () => new Date(now) } });

    const refused = await early.run({ jobId: 'early_job', scheduledTime: tick, trigger: 'manual' });
    assert.equal(refused.kind, 'refused');
    assert.ok(refused.kind === 'refused');
    assert.deepEqual(
      [refused.summary.status, refused.summary.error?.kind, refused.summary.manifestKey],
      ['skipped', 'inputs_unpinned', null],
    );
    assert.match(refused.summary.error?.message ?? '', /in the future.*nothing was claimed/);
    assert.equal(await early.deps.state.getRun(refused.jobRunId), undefined, 'no claim');
    assert.deepEqual(
      await early.deps.evidence.list(`stage=local/dt=${tick.slice(0, 10)}/job_id=early_job/`),
      [],
      'no evidence',
    );
    assert.equal(job.effects.length, 0);

    // Preflight itself refuses it, before its claim: the handler throws the refusal and writes
    // nothing.
    const preflight = createPreflightHandler(early.deps);
    await assert.rejects(
      preflight(
        {
          executionId: 'exec-early',
          request: { jobId: 'early_job', scheduledTime: tick, trigger: 'schedule' },
        },
        {} as never,
      ),
      (e: unknown) =>
        e instanceof RunRefusedError && e.name === 'InputsUnpinnedError' && !e.retryable,
    );
    assert.equal(await early.deps.state.getRun(refused.jobRunId), undefined);

    // At its time the scheduler's tick runs once, as if the early attempt had never been made.
    const onTime = new LocalRuntime(stack.env, [job], {
      clock: { now: () => new Date(Date.parse(tick) + 30_000) },
    });
    const real = await onTime.run({ jobId: 'early_job', scheduledTime: tick, trigger: 'schedule' });
    assert.equal(real.kind, 'completed');
    assert.deepEqual(job.effects, [real.jobRunId]);
    // Within the tolerance (a scheduler a little early) a tick is not "in the future".
    const soon = new Date(Math.floor((Date.now() + 2 * MINUTE) / MINUTE) * MINUTE).toISOString();
    assert.equal(
      (
        await new LocalRuntime(stack.env, [job]).run({
          jobId: 'early_job',
          scheduledTime: soon,
          trigger: 'manual',
        })
      ).kind,
      'completed',
    );
  });
});

describe('local faults through the CLI', () => {
  const home = { OPSRAIL_HOME: mkdtempSync(join(tmpdir(), 'opsrail-faults-')) };

  test('run --at 15 minutes ahead exits 3 (inputs_unpinned) and claims nothing', async () => {
    const at = new Date(Date.now() + 15 * MINUTE).toISOString();
    const run = await opsrail(['run', 'evidence_integrity_check', '--at', at, '--json'], home);
    assert.equal(run.code, 3, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.deepEqual(
      [report.status, report.error?.kind, report.manifestKey],
      ['skipped', 'inputs_unpinned', null],
    );
    assert.match(report.error?.message ?? '', /nothing was claimed/);
  });

  test('query with SQL that does not parse exits 2 naming the error, before any stack starts; verify --job of an unknown job exits 2', async () => {
    const bad = await opsrail(['query', 'SELEC x'], home);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(
      bad.stderr,
      /invalid input: query: sql: Parser Error: syntax error at or near "SELEC"/,
    );

    const unknown = await opsrail(['verify', '--all', '--job', 'no_such_job'], home);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /unknown job 'no_such_job'; known: .*evidence_integrity_check/);
    assert.doesNotMatch(unknown.stdout, /UNKNOWN/);
  });

  test('a job enabled without an implementation is a policy error at load, naming the job (exit 2)', async () => {
    const dir = withTestJobs([{ jobId: 'ghost_impl' }]);
    const jobs = await opsrail(['jobs'], { ...home, OPSRAIL_POLICY_DIR: dir });
    assert.equal(jobs.code, 2, jobs.stderr);
    assert.match(
      jobs.stderr,
      /local\.json: jobs\.ghost_impl\.enabled: enables job 'ghost_impl', which has no implementation/,
    );
    const run = await opsrail(['run', 'evidence_integrity_check'], {
      ...home,
      OPSRAIL_POLICY_DIR: dir,
    });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /ghost_impl/);
  });

  describe('npm start with the approval page port taken', () => {
    let holder: Server;
    let port: number;
    beforeAll(async () => {
      holder = createServer();
      await new Promise<void>((listening) => holder.listen(0, '127.0.0.1', () => listening()));
      port = (holder.address() as { port: number }).port;
    });
    afterAll(async () => new Promise<void>((closed) => holder.close(() => closed())));

    test('fails at once with a startup error naming the address, instead of running without approvals', async () => {
      const dir = policyFixture({
        'local.json': (p) => ({
          ...p,
          approvals: { ...p.approvals, linkBaseUrl: `http://127.0.0.1:${port}` },
        }),
      });
      const started = Date.now();
      const start = await opsrail(['start'], {
        OPSRAIL_HOME: mkdtempSync(join(tmpdir(), 'opsrail-port-')),
        OPSRAIL_POLICY_DIR: dir,
      });
      assert.equal(start.code, 1, start.stdout + start.stderr);
      assert.match(
        start.stderr,
        new RegExp(
          `ApprovalPortInUseError: cannot serve the approval page on 127\\.0\\.0\\.1:${port}: the port is already in use`,
        ),
      );
      assert.doesNotMatch(
        start.stdout,
        /opsrail local stack|scheduling \d+ enabled job/,
        'checked before any part of the stack starts',
      );
      assert.ok(Date.now() - started < 60_000);
    });
  });
});
