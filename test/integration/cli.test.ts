import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };

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

describe('opsrail CLI on the embedded local stack', () => {
  test('jobs lists the catalog with the next three run times in each job’s own time zone', async () => {
    const { code, stdout } = await opsrail(['jobs', '--json']);
    assert.equal(code, 0);
    const { stage, jobs } = JSON.parse(stdout);
    assert.equal(stage, 'local');
    const check = jobs.find((j: { jobId: string }) => j.jobId === 'evidence_integrity_check');
    assert.deepEqual(
      [check.jobVersion, check.jobClass, check.enabled, check.dangerous, check.timezone],
      ['1.0.0', 'VALIDATION', true, false, 'Asia/Tokyo'],
    );
    assert.equal(check.nextRuns.length, 3);
    for (const t of check.nextRuns) assert.match(t, /^\d{4}-\d{2}-\d{2}T\d{2}:00:00\+09:00$/);
    const table = await opsrail(['jobs']);
    assert.match(
      table.stdout,
      /evidence_integrity_check\s+1\.0\.0\s+VALIDATION\s+true\s+false\s+cron\(0 \* \* \* \? \*\)\s+Asia\/Tokyo/,
    );
  });

  test('run: UNKNOWN with nothing to check exits 4, the same tick again exits 3 (duplicate_suppressed), the next tick verifies the first bundle and exits 0', async () => {
    const env = { OPSRAIL_HOME: mkdtempSync(join(tmpdir(), 'opsrail-cli-')) };

    const first = await opsrail(
      ['run', 'evidence_integrity_check', '--at', '2026-01-01T00:00:00Z', '--json'],
      env,
    );
    assert.equal(first.code, 4, first.stderr);
    const firstReport = JSON.parse(first.stdout);
    assert.deepEqual(
      [firstReport.jobRunId, firstReport.status, firstReport.quality],
      ['evidence_integrity_check/2026-01-01T00:00:00Z', 'ok', 'UNKNOWN'],
    );
    assert.equal(
      firstReport.evidencePrefix,
      's3://opsrail-local-evidence/stage=local/dt=2026-01-01/job_id=evidence_integrity_check/',
    );
    assert.equal(
      firstReport.manifestKey,
      'stage=local/dt=2026-01-01/job_id=evidence_integrity_check/manifest/run=20260101T000000Z.json',
    );

    const again = await opsrail(
      ['run', 'evidence_integrity_check', '--at', '2026-01-01T00:00:00Z', '--json'],
      env,
    );
    assert.equal(again.code, 3, again.stderr);
    assert.equal(JSON.parse(again.stdout).status, 'duplicate_suppressed');
    assert.equal(JSON.parse(again.stdout).evidencePrefix, null);

    const next = await opsrail(
      ['run', 'evidence_integrity_check', '--at', '2026-01-01T01:00:00Z'],
      env,
    );
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stdout, /status: +ok \(quality OK\)/);
  });

  test('bad usage exits 2 with a reason', async () => {
    const home = { OPSRAIL_HOME: mkdtempSync(join(tmpdir(), 'opsrail-cli-')) };
    const badTime = await opsrail(['run', 'evidence_integrity_check', '--at', 'yesterday'], home);
    assert.equal(badTime.code, 2);
    assert.match(badTime.stderr, /--at must be an ISO 8601 time/);
    const unknownJob = await opsrail(['run', 'no_such_job'], home);
    assert.equal(unknownJob.code, 2);
    assert.match(unknownJob.stderr, /unknown job 'no_such_job'/);
    assert.equal((await opsrail(['frobnicate'])).code, 2);
    assert.equal((await opsrail(['jobs', '--stage', 'moon'])).code, 2);
    for (const days of [
      ['query', '--named', 'failures_by_job', '--days', 'week'],
      ['query', '--named', 'failures_by_job', '--days', '0'],
      ['query', 'SELECT 1', '--days', '7'],
    ]) {
      const bad = await opsrail(days, home);
      assert.equal(bad.code, 2, days.join(' '));
      assert.match(bad.stderr, /--days N \(a whole number of days, 1 or more\) goes with --named/);
    }
  });

  test('--version prints the package’s version; <command> --help prints that command’s usage and exits 0', async () => {
    const version = await opsrail(['--version']);
    assert.equal(version.code, 0);
    assert.equal(version.stdout.trim(), `opsrail ${packageJson.version}`);
    const help = await opsrail(['run', '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^usage: opsrail run /);
    assert.match(help.stdout, /run <jobId> \[--at <ISO time>\]/);
    assert.match(help.stdout, /--resume takes over a run/, 'its continuation lines too');
    assert.doesNotMatch(help.stdout, /approvals \[--json\]/, 'only its own lines');
    assert.match(help.stdout, /exit codes: 0 ok/);
    const approve = await opsrail(['approve', '-h']);
    assert.match(approve.stdout, /approve\|reject <approvalId> --stage S/);
  });

  test('a broken policy file exits 2 naming the file and the field', async () => {
    const { policyFixture } = await import('../support/local');
    const dir = policyFixture({
      'local.json': (p) => ({ ...p, thresholds: { quarantineAfterConsecutiveFailures: -1 } }),
    });
    const result = await opsrail(['jobs'], { OPSRAIL_POLICY_DIR: dir });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /local\.json: thresholds\.quarantineAfterConsecutiveFailures/);
  });
});
