import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { REPORT_JOB_IDS } from '../../contracts';
import { directoryPolicySource } from '../../functions/adapters/policy-sources';
import { ValidationError } from '../../functions/core/errors';
import { deriveJobRunId } from '../../functions/core/ids';
import { findJob, loadPolicy } from '../../functions/core/policy';
import { runWindow } from '../../functions/core/window';
import { DEFAULT_POLICY_DIR } from '../../local/stack';
import { policyFixture } from '../support/local';

const load = (dir = DEFAULT_POLICY_DIR) => loadPolicy(directoryPolicySource(dir), 'local');
const withLocal = (edit: (policy: any) => any) => policyFixture({ 'local.json': edit });
const enabledOf = (dir: string) =>
  Object.fromEntries(REPORT_JOB_IDS.map((id) => [id, findJob(load(dir), id)?.enabled]));

describe('the report jobs in the catalog: calendar windows in the job’s time zone', () => {
  test('the daily report: every tick of one Tokyo day is the same run, covering the day before', () => {
    // Prepare
    const job = findJob(load(), 'daily_observability_report')!;
    const ticks = ['2026-11-18T15:00:00Z', '2026-11-19T00:00:00Z', '2026-11-19T14:59:59Z'];
    // Act
    const windows = ticks.map((t) => runWindow(job, new Date(t)));
    // The run id is keyed by the window's start (as Preflight derives it).
    const runIds = windows.map((w) => deriveJobRunId(job.jobId, new Date(w.start)));
    // Assess
    assert.equal(job.schedule.timezone, 'Asia/Tokyo');
    assert.deepEqual(job.window, { kind: 'calendar', unit: 'day', offset: -1 });
    for (const window of windows)
      assert.deepEqual(window, { start: '2026-11-17T15:00:00Z', end: '2026-11-18T15:00:00Z' });
    assert.equal(new Set(runIds).size, 1);
    // The next Tokyo day is the next window.
    assert.deepEqual(runWindow(job, new Date('2026-11-19T15:00:00Z')), {
      start: '2026-11-18T15:00:00Z',
      end: '2026-11-19T15:00:00Z',
    });
  });

  test('the weekly report and the digest: Monday 00:00 to Sunday 23:59 in the zone is one run; another zone moves the window', () => {
    // Prepare
    const policy = load(
      withLocal((p) => ({
        ...p,
        jobs: {
          ...p.jobs,
          weekly_improvement_digest: { schedule: { timezone: 'America/Los_Angeles' } },
        },
      })),
    );
    const weekly = findJob(policy, 'weekly_observability_report')!;
    const digest = findJob(policy, 'weekly_improvement_digest')!;
    // Act / Assess: Mon 2026-11-23 09:10 JST and Sun 11-29 23:59 JST: the ISO week 2026-W47.
    for (const tick of ['2026-11-23T00:10:00Z', '2026-11-29T14:59:00Z'])
      assert.deepEqual(runWindow(weekly, new Date(tick)), {
        start: '2026-11-15T15:00:00Z',
        end: '2026-11-22T15:00:00Z',
      });
    // Monday 00:00 in Los Angeles (PST) is 08:00 UTC; the Monday-morning tick reports W47 there.
    assert.deepEqual(runWindow(digest, new Date('2026-11-23T17:20:00Z')), {
      start: '2026-11-16T08:00:00Z',
      end: '2026-11-23T08:00:00Z',
    });
  });
});

describe('the switches as the policy resolves them', () => {
  test('off by default: the shipped stages enable no report job, and postToIssue is false', () => {
    // Prepare / Act
    for (const stage of ['local', 'dev', 'stage', 'prod'] as const) {
      const policy = loadPolicy(directoryPolicySource(DEFAULT_POLICY_DIR), stage);
      // Assess
      assert.equal(policy.settings.reports.enabled, false, stage);
      for (const jobId of REPORT_JOB_IDS) {
        const job = findJob(policy, jobId)!;
        assert.equal(job.enabled, false, `${stage} ${jobId}`);
        assert.equal(job.params.postToIssue, false, `${stage} ${jobId}`);
      }
    }
  });

  test('a report job is enabled only when its own switch and reports.enabled are both on; other jobs ignore reports.enabled', () => {
    // Prepare
    const jobsOn = (p: any) => ({
      ...p,
      jobs: {
        ...p.jobs,
        daily_observability_report: { enabled: true },
        weekly_improvement_digest: { enabled: true },
      },
    });
    // Act
    const globalOff = enabledOf(withLocal(jobsOn));
    const bothOn = enabledOf(withLocal((p) => ({ ...jobsOn(p), reports: { enabled: true } })));
    const onlyGlobal = enabledOf(withLocal((p) => ({ ...p, reports: { enabled: true } })));
    // Assess
    assert.deepEqual(globalOff, {
      daily_observability_report: false,
      weekly_observability_report: false,
      weekly_improvement_digest: false,
    });
    assert.deepEqual(bothOn, {
      daily_observability_report: true,
      weekly_observability_report: false,
      weekly_improvement_digest: true,
    });
    assert.deepEqual(onlyGlobal, {
      daily_observability_report: false,
      weekly_observability_report: false,
      weekly_improvement_digest: false,
    });
    assert.equal(findJob(load(withLocal(jobsOn)), 'evidence_integrity_check')?.enabled, true);
  });

  test('a bad threshold or switch fails the load, naming the field', () => {
    // Prepare
    const badThreshold = withLocal((p) => ({
      ...p,
      jobs: {
        ...p.jobs,
        daily_observability_report: { params: { suggestions: { failureRate: 2 } } },
      },
    }));
    const badSwitch = withLocal((p) => ({ ...p, reports: { enabled: 'yes' } }));
    // Act / Assess
    for (const [dir, field] of [
      [badThreshold, 'jobs.daily_observability_report.params.suggestions.failureRate'],
      [badSwitch, 'reports.enabled'],
    ] as const)
      assert.throws(
        () => load(dir),
        (error: unknown) =>
          error instanceof ValidationError &&
          error.source.endsWith('local.json') &&
          error.issues.some((i) => i.path === field),
      );
  });
});
