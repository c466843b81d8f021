import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { configLines } from '../../functions/core/job-config';
import { runOpsrail as opsrail } from '../support/cli';

describe('opsrail jobs --show (docs/policy.md#a-jobs-resolved-configuration)', () => {
  test("two stages' resolved configurations of one job differ line by line in exactly what their files set differently", async () => {
    // Prepare, Act
    const [local, prod, localJson] = await Promise.all([
      opsrail(['jobs', '--show', 'evidence_integrity_check']),
      opsrail(['jobs', '--show', 'evidence_integrity_check', '--stage', 'prod']),
      opsrail(['jobs', '--show', 'evidence_integrity_check', '--json']),
    ]);
    // Assess
    assert.equal(local.code, 0, local.stderr);
    assert.equal(prod.code, 0, prod.stderr);
    const config = JSON.parse(localJson.stdout);
    assert.equal(config.job.jobId, 'evidence_integrity_check');
    assert.equal(config.stage, 'local');
    assert.match(config.policySnapshot.sha256, /^[a-f0-9]{64}$/);
    // The text form is the JSON form, one sorted line per setting.
    assert.deepEqual(local.stdout.trimEnd().split('\n'), configLines(config));
    const a = new Set(local.stdout.trimEnd().split('\n'));
    const b = new Set(prod.stdout.trimEnd().split('\n'));
    const changed = [...a].filter((line) => !b.has(line)).map((line) => line.split(' = ')[0]);
    assert.ok(changed.includes('stage'));
    assert.ok(changed.includes('policySnapshot.sha256'));
    assert.ok(changed.includes('stageSettings.retention.evidenceDays'), changed.join('\n'));
    assert.ok(!changed.includes('job.jobVersion'), 'the catalog entry is the same in both');
  });

  test('an unknown job id: exit 2, naming the job and the ones there are', async () => {
    // Act
    const result = await opsrail(['jobs', '--show', 'no_such_job']);
    // Assess
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /--show no_such_job: no such job in stage local \(jobs: .*evidence_integrity_check/,
    );
  });
});
