import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { startLocalStack, type LocalStack } from '../../local/stack';

const BIN = resolve(import.meta.dirname, '..', '..', 'cli', 'bin', 'opsrail.mjs');

describe('opsrail status, kill and safety on a running local stack', () => {
  let stack: LocalStack;
  const home = mkdtempSync(join(tmpdir(), 'opsrail-cli-controls-'));
  // As with `npm start` in another terminal: the CLI attaches to the stack this process runs.
  beforeAll(async () => (stack = await startLocalStack({ home, attach: false })));
  afterAll(async () => stack.stop());

  const opsrail = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(
        process.execPath,
        [BIN, ...args],
        { env: { ...process.env, OPSRAIL_HOME: home }, timeout: 120_000 },
        (error, stdout, stderr) =>
          done({
            code: error ? Number((error as { code?: number }).code ?? 1) : 0,
            stdout,
            stderr,
          }),
      );
    });

  test('status starts NORMAL with nothing engaged and lists every job with its next run', async () => {
    const { code, stdout } = await opsrail('status', '--json');
    assert.equal(code, 0);
    const report = JSON.parse(stdout);
    assert.equal(report.safety.mode, 'NORMAL');
    assert.deepEqual(report.killSwitches, []);
    assert.deepEqual(report.quarantined, []);
    const check = report.jobs.find(
      (j: { jobId: string }) => j.jobId === 'evidence_integrity_check',
    );
    assert.equal(check.enabled, true);
    assert.match(check.nextRun, /^\d{4}-\d{2}-\d{2}T\d{2}:00:00/);
    assert.equal(check.monitors, null);
    // The latency monitor (disabled, never run): its configured endpoint, with no heartbeat yet.
    const monitor = report.jobs.find(
      (j: { jobId: string }) => j.jobId === 'endpoint_latency_monitor',
    );
    assert.deepEqual(monitor.monitors, {
      jobRunId: null,
      stateKey: null,
      endpoints: [
        {
          endpoint: 'health',
          lastSuccessAt: null,
          lastBreachAt: null,
          pendingAlerts: 0,
          level: null,
          streak: 0,
        },
      ],
    });
  });

  test('safety toward EMERGENCY_STOP is immediate and audited; toward NORMAL it is refused (exit 3) and says why', async () => {
    assert.equal(
      (await opsrail('safety', 'SAFE', '--as', 'alice', '--reason', 'incident 7')).code,
      0,
    );
    const relax = await opsrail('safety', 'NORMAL', '--as', 'alice', '--reason', 'over');
    assert.equal(relax.code, 3);
    assert.match(relax.stderr, /dangerous op.*approval/);
    const status = JSON.parse((await opsrail('status', '--json')).stdout);
    assert.deepEqual(
      [status.safety.mode, status.safety.changedBy, status.safety.reason],
      ['SAFE', 'alice', 'incident 7'],
    );
    assert.equal((await opsrail('safety', 'SAFE')).code, 2, 'who and why are required');
    assert.equal((await opsrail('safety', 'CALM', '--as', 'a', '--reason', 'r')).code, 2);
  });

  test('kill engage refuses the job’s next run (exit 3); release is a dangerous op', async () => {
    const engage = await opsrail(
      'kill',
      'engage',
      'endpoint_health_check',
      '--as',
      'bob',
      '--reason',
      'flapping',
    );
    assert.equal(engage.code, 0, engage.stderr);
    assert.match(engage.stdout, /kill-switch engaged: endpoint_health_check by bob/);

    const refused = await opsrail(
      'run',
      'endpoint_health_check',
      '--at',
      '2026-01-02T00:00:00Z',
      '--json',
    );

    assert.equal(refused.code, 3);
    const report = JSON.parse(refused.stdout);
    assert.deepEqual(
      [report.outcome, report.status, report.error.kind],
      ['refused', 'skipped', 'refused_kill_switch'],
    );
    assert.equal(
      (
        await opsrail(
          'kill',
          'release',
          'endpoint_health_check',
          '--as',
          'bob',
          '--reason',
          'fixed',
        )
      ).code,
      3,
    );
    assert.equal(
      (await opsrail('kill', 'engage', 'no_such_job', '--as', 'bob', '--reason', 'x')).code,
      2,
    );
    const status = await opsrail('status');
    assert.match(status.stdout, /kill-switches: endpoint_health_check \(by bob/);
    assert.match(status.stdout, /endpoint_health_check\s+false\s+KILLED/);
    // A disabled latency monitor that never ran has no heartbeat section.
    assert.doesNotMatch(status.stdout, /latency monitors of/);
  });

  test('verify --all exits 0 on untouched evidence; query --named answers from it', async () => {
    // The refused run of the previous test left a bundle: the check verifies it, so quality OK.
    // An hour ago, so the named queries' 7-day window sees it.
    const at = new Date(Math.floor(Date.now() / 3600_000) * 3600_000 - 3600_000)
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
    const run = await opsrail('run', 'evidence_integrity_check', '--at', at);
    assert.equal(run.code, 0, run.stdout + run.stderr);

    const verify = await opsrail('verify', '--all');
    assert.equal(verify.code, 0, verify.stdout);
    assert.match(verify.stdout, /verified: \d+ manifest\(s\), \d+ object\(s\), 0 problem\(s\)/);
    const one = await opsrail('verify', `evidence_integrity_check/${at}`);
    assert.equal(one.code, 0);
    const missing = await opsrail('verify', 'evidence_integrity_check/2026-01-04T00:00:00Z');
    assert.equal(missing.code, 1);
    assert.match(
      missing.stdout,
      /missing_object +stage=local\/dt=2026-01-04\/job_id=evidence_integrity_check\/manifest\/run=20260104T000000Z\.json/,
    );
    assert.equal((await opsrail('verify')).code, 2);
    const nothing = await opsrail('verify', '--all', '--job', 'run_record_retention');
    assert.equal(nothing.code, 4, 'a job with no evidence at all is not reported as verified');
    assert.match(nothing.stdout, /UNKNOWN \(nothing to verify\): 0 manifest\(s\)/);

    const query = await opsrail('query', '--named', 'success_rate_and_p95_duration', '--json');
    assert.equal(query.code, 0, query.stderr);
    assert.ok(
      JSON.parse(query.stdout).some(
        (r: { job_id: string }) => r.job_id === 'evidence_integrity_check',
      ),
    );
    // job_kpis: its days in the stage's time zone (Asia/Tokyo), as Athena's named query has them.
    const kpis = await opsrail('query', '--named', 'job_kpis', '--json');
    assert.equal(kpis.code, 0, kpis.stderr);
    const tokyoDay = DateTime.fromISO(at, { zone: 'Asia/Tokyo' }).toISODate();
    assert.ok(
      JSON.parse(kpis.stdout).some(
        (r: { granularity: string; job_id: string; period_start: string }) =>
          r.granularity === 'day' &&
          r.job_id === 'evidence_integrity_check' &&
          r.period_start === tokyoDay,
      ),
      kpis.stdout,
    );
    const adHoc = await opsrail(
      'query',
      "SELECT count(*) AS n FROM run_records WHERE job_id = 'endpoint_health_check'",
      '--json',
    );
    assert.equal(Number(JSON.parse(adHoc.stdout)[0].n), 1);
    assert.equal((await opsrail('query', '--named', 'no_such_query')).code, 2);
  });

  test('a dangerous run waits for a second person: run --no-wait prints the link, approvals lists it, approve decides it once', async () => {
    // An earlier test left SAFE on, under which the job would be refused before anyone is asked:
    // reset it.
    const { buildDependencies } = await import('../../functions/adapters/dependencies');
    await buildDependencies(stack.env).state.setSafetyState({
      schemaVersion: 1,
      mode: 'NORMAL',
      reason: 'test reset',
      changedBy: 'test',
      changedAt: new Date().toISOString(),
    });
    const started = await opsrail('run', 'run_record_retention', '--as', 'alice', '--no-wait');
    assert.equal(started.code, 3, started.stdout + started.stderr);
    const [, approvalId] =
      /approval ([a-f0-9]{32}) pending: http:\/\/127\.0\.0\.1:8787\/approvals\/[a-f0-9]{32}\?exp=\d+&sig=[a-f0-9]{64}/.exec(
        started.stdout,
      ) ?? [];
    assert.ok(approvalId, started.stdout);

    const listed = JSON.parse((await opsrail('approvals', '--json')).stdout);
    const request = listed.find((a: { approvalId: string }) => a.approvalId === approvalId);
    assert.deepEqual(
      [request.requestedBy, request.allowedApprovers, request.opKind],
      ['alice', ['bob'], 'retention'],
    );

    assert.equal(
      (
        await opsrail(
          'approve',
          approvalId as string,
          '--as',
          'alice',
          '--challenge',
          request.challenge,
        )
      ).code,
      3,
      'not the requester',
    );
    assert.equal(
      (await opsrail('approve', approvalId as string, '--as', 'bob', '--challenge', 'wrong')).code,
      2,
    );
    const approved = await opsrail(
      'approve',
      approvalId as string,
      '--as',
      'bob',
      '--challenge',
      request.challenge,
    );
    assert.equal(approved.code, 0, approved.stdout);
    assert.match(approved.stdout, /^200 Approved/);
    assert.equal(
      (
        await opsrail(
          'approve',
          approvalId as string,
          '--as',
          'bob',
          '--challenge',
          request.challenge,
        )
      ).code,
      3,
      'a link works once',
    );
    for (
      let i = 0;
      i < 100 &&
      JSON.parse(
        (
          await opsrail(
            'query',
            "SELECT count(*) AS n FROM run_records WHERE job_id = 'run_record_retention'",
            '--json',
          )
        ).stdout,
      )[0].n === 0;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 300));
    }
    const rows = JSON.parse(
      (await opsrail('query', '--named', 'dangerous_op_decisions', '--json')).stdout,
    );
    assert.deepEqual(
      rows.map((r: { decision: string; decided_by: string }) => [r.decision, r.decided_by]),
      [['job.dangerous_op.confirm', 'bob']],
    );
  });
});
