import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'vitest';
import { runOpsrail as opsrail } from '../support/cli';
import { policyFixture } from '../support/local';

/** The built-in jobs rescheduled: each schedule below is one the lint has something to say of. */
function lintFixture(schedules: Record<string, { expression: string; timezone: string }>): string {
  return policyFixture({
    'catalog.json': (catalog) => ({
      ...catalog,
      jobs: catalog.jobs.map((job: { jobId: string }) =>
        schedules[job.jobId] ? { ...job, schedule: schedules[job.jobId] } : job,
      ),
    }),
  });
}

describe('opsrail jobs --lint', () => {
  test('prints the DST, rate and dangerous-job findings of the policy directory, exit 0', async () => {
    // Prepare
    const dir = lintFixture({
      evidence_integrity_check: { expression: 'cron(30 2 * * ? *)', timezone: 'America/New_York' },
      schedule_ledger: { expression: 'cron(30 1 * * ? *)', timezone: 'Europe/London' },
      endpoint_health_check: { expression: 'rate(1 day)', timezone: 'America/New_York' },
    });
    // Act
    const text = await opsrail(['jobs', '--lint'], { OPSRAIL_POLICY_DIR: dir });
    const json = await opsrail(['jobs', '--lint', '--json'], { OPSRAIL_POLICY_DIR: dir });
    // Assess
    assert.equal(text.code, 0, text.stderr);
    const catalog = JSON.parse(readFileSync(join(dir, 'catalog.json'), 'utf8')) as { jobs: [] };
    assert.ok(
      text.stdout.startsWith(`stage local: 5 findings in ${catalog.jobs.length} jobs`),
      text.stdout,
    );
    assert.match(
      text.stdout,
      /warning evidence_integrity_check dst_skipped_time: cron\(30 2 \* \* \? \*\) in America\/New_York: 02:30 on \d{4}-03-\d{2} does not exist/,
    );
    assert.match(
      text.stdout,
      /warning schedule_ledger dst_repeated_time: .* 01:30 on \d{4}-10-\d{2} happens twice/,
    );
    assert.match(text.stdout, /warning endpoint_health_check \(disabled\) rate_in_dst_zone: /);
    assert.match(text.stdout, /warning run_record_retention \(disabled\) dangerous_recurring: /);
    assert.equal(json.code, 0, json.stderr);
    const { stage, findings } = JSON.parse(json.stdout);
    assert.equal(stage, 'local');
    assert.deepEqual(
      findings.map((f: { jobId: string; code: string }) => `${f.jobId} ${f.code}`),
      [
        'evidence_integrity_check dst_skipped_time',
        'endpoint_health_check rate_in_dst_zone',
        'schedule_ledger dst_skipped_time',
        'schedule_ledger dst_repeated_time',
        'run_record_retention dangerous_recurring',
      ],
    );
    const skipped = findings[0] as { dates: string[] };
    assert.equal(skipped.dates.length, 1);
    assert.match(skipped.dates[0] ?? '', /^\d{4}-03-\d{2}$/);
  });

  test('an expression AWS rejects exits 2 naming the file, schedule.expression, the cron field and the rule', async () => {
    // Prepare
    const dir = lintFixture({
      evidence_integrity_check: { expression: 'cron(0 9 ? * *#3 *)', timezone: 'UTC' },
    });
    // Act
    const result = await opsrail(['jobs', '--lint'], { OPSRAIL_POLICY_DIR: dir });
    // Assess
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /catalog\.json: jobs\.0\.schedule\.expression: cron day-of-week field: .*rule hash-single-day/,
    );
  });
});
