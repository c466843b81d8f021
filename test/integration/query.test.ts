import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { DateTime } from 'luxon';
import { loadNamedQueries } from '../../contracts/named-queries';
import { LocalRuntime } from '../../local/runtime';
import { mirrorEvidence, queryEvidence, runNamedQuery, type Row } from '../../local/query';
import type { LocalStack } from '../../local/stack';
import { countingJob, failingJob, flakyJob } from '../support/jobs';
import { testStack, withTestJobs } from '../support/local';

/**
 * A fixture of real runs (through the real ASL and handlers) on the local stack: yesterday's 03:00
 * Tokyo tick of each daily job, a job that fails into quarantine, one that needs two retries, one
 * that never ran, and schedule_ledger recording what was due. Dangerous-op decisions come from a
 * synthetic audit file until the approval gate produces them.
 */
describe('named queries run locally (DuckDB) on a fixture of runs and return the expected rows', () => {
  let stack: LocalStack;
  let root: string;
  const yesterday3am = DateTime.now()
    .setZone('Asia/Tokyo')
    .startOf('day')
    .minus({ days: 1 })
    .set({ hour: 3 });
  const tick = (hours = 0) =>
    yesterday3am.plus({ hours }).toUTC().toISO({ suppressMilliseconds: true }) as string;
  const num = (v: unknown) => Number(v);

  beforeAll(async () => {
    const daily = { schedule: { expression: 'cron(0 3 * * ? *)', timezone: 'Asia/Tokyo' } };
    const policyDir = withTestJobs(
      [
        { jobId: 'q_ok', ...daily },
        { jobId: 'q_flaky', ...daily },
        { jobId: 'q_fail', ...daily },
        { jobId: 'q_missed', ...daily },
        { jobId: 'q_slow', ...daily, overlap: 'skip' },
      ],
      (p) => ({
        ...p,
        jobs: {
          ...p.jobs,
          evidence_integrity_check: { enabled: false },
          schedule_ledger: { enabled: false },
        },
        thresholds: { ...p.thresholds, quarantineAfterConsecutiveFailures: 3 },
      }),
    );
    stack = await testStack({ policyDir });
    const runtime = new LocalRuntime(stack.env, [
      countingJob('q_ok'),
      flakyJob('q_flaky', 2),
      failingJob('q_fail'),
      countingJob('q_missed'),
      countingJob('q_slow', 1_500),
    ]);
    const run = (
      jobId: string,
      scheduledTime: string,
      trigger: 'schedule' | 'manual' = 'schedule',
    ) => runtime.run({ jobId, scheduledTime, trigger }, { retryPauseMs: 1 });
    assert.equal((await run('q_ok', tick())).kind, 'completed');
    assert.equal((await run('q_flaky', tick())).kind, 'completed');
    for (const h of [0, 1, 2])
      assert.equal((await run('q_fail', tick(h), h === 0 ? 'schedule' : 'manual')).kind, 'failed');
    assert.equal((await run('q_fail', tick(3), 'manual')).kind, 'refused');
    // A tick of another window while q_slow's run is open: skipped (overlap skip), on its audit.
    const slow = run('q_slow', tick());
    while (!(await runtime.deps.state.getRun(`q_slow/${tick()}`)))
      await new Promise((r) => setTimeout(r, 50));
    assert.equal((await run('q_slow', tick(1), 'manual')).kind, 'tick_skipped');
    assert.equal((await slow).kind, 'completed');
    const ledgerTick = DateTime.now()
      .setZone('Asia/Tokyo')
      .startOf('day')
      .plus({ minutes: 5 })
      .toUTC()
      .toISO({ suppressMilliseconds: true }) as string;
    assert.equal((await run('schedule_ledger', ledgerTick, 'manual')).kind, 'completed');

    root = await mirrorEvidence(runtime.deps.evidence, 'local');
    const today = new Date().toISOString().slice(0, 10);
    const decision = (type: string, by: string, at: string) =>
      JSON.stringify({
        schemaVersion: 1,
        eventId: `q_danger/x#${type}`,
        type,
        at,
        stage: 'local',
        jobId: 'q_danger',
        jobVersion: '1.0.0',
        jobRunId: `q_danger/${today}T00:00:00Z`,
        actor: { kind: 'operator', id: by },
      });
    mkdirSync(join(root, `stage=local/dt=${today}/job_id=q_danger/audit`), { recursive: true });
    writeFileSync(
      join(root, `stage=local/dt=${today}/job_id=q_danger/audit/run=x.jsonl`),
      `${[decision('job.dangerous_op.challenge', 'requester', `${today}T00:00:01Z`), decision('job.dangerous_op.reject', 'frank', `${today}T00:01:00Z`), decision('job.dangerous_op.confirm', 'grace', `${today}T00:02:00Z`)].join('\n')}\n`,
    );
    // A decision 100 days ago: outside dangerous_op_decisions' default window of 90 days.
    const old = new Date(Date.now() - 100 * 86_400_000).toISOString().slice(0, 10);
    mkdirSync(join(root, `stage=local/dt=${old}/job_id=q_danger/audit`), { recursive: true });
    writeFileSync(
      join(root, `stage=local/dt=${old}/job_id=q_danger/audit/run=old.jsonl`),
      `${decision('job.dangerous_op.confirm', 'heidi', `${old}T00:02:00Z`)}\n`,
    );
  });
  afterAll(async () => stack.stop());

  const named = async (name: string): Promise<Row[]> => runNamedQuery(root, name);

  test('every named query in the file is tested here', () => {
    assert.deepEqual(
      loadNamedQueries()
        .map((q) => q.name)
        .sort(),
      [
        'dangerous_op_decisions',
        'failures_by_job',
        // Held equal to computeKpis over real runs: test/integration/kpis-query.test.ts.
        'job_kpis',
        // Run on the latency jobs' own evidence: test/integration/latency-jobs-local.test.ts.
        'latency_breaches',
        'latency_samples_recent',
        'missed_ticks',
        // Run on failed runs' tickets: test/integration/audit-tickets.test.ts.
        'open_tickets',
        'quarantine_history',
        'retries_by_job',
        'skipped_ticks',
        'success_rate_and_p95_duration',
      ],
    );
  });

  test('failures_by_job', async () => {
    const rows = await named('failures_by_job');
    assert.deepEqual(
      rows.map((r) => [r.job_id, num(r.failures)]),
      [['q_fail', 3]],
    );
    assert.match(String(rows[0]?.last_failure_at), /^\d{4}-\d{2}-\d{2}T/);
  });

  test('success_rate_and_p95_duration', async () => {
    const rows = await named('success_rate_and_p95_duration');
    assert.deepEqual(
      rows.map((r) => [r.job_id, num(r.runs), num(r.success_rate)]),
      [
        ['q_fail', 3, 0],
        ['q_flaky', 1, 1],
        ['q_ok', 1, 1],
        ['q_slow', 1, 1],
        ['schedule_ledger', 1, 1],
      ],
    );
    for (const r of rows) assert.ok(num(r.p95_duration_ms) >= 0);
  });

  test('retries_by_job', async () => {
    const rows = await named('retries_by_job');
    assert.deepEqual(
      rows.map((r) => [r.job_id, num(r.retries), num(r.runs_with_retries)]),
      [['q_flaky', 2, 1]],
    );
  });

  test('dangerous_op_decisions, with who decided', async () => {
    const rows = await named('dangerous_op_decisions');
    assert.deepEqual(
      rows.map((r) => [r.decision, r.decided_by]),
      [
        ['job.dangerous_op.confirm', 'grace'],
        ['job.dangerous_op.reject', 'frank'],
      ],
    );
  });

  test('a named query reads only its window’s partitions: the decision of 100 days ago needs --days 120', async () => {
    const deciders = (rows: Row[]) => rows.map((r) => r.decided_by);
    assert.deepEqual(deciders(await named('dangerous_op_decisions')), ['grace', 'frank']);
    assert.deepEqual(deciders(await runNamedQuery(root, 'dangerous_op_decisions', 120)), [
      'grace',
      'frank',
      'heidi',
    ]);
    assert.deepEqual(deciders(await runNamedQuery(root, 'dangerous_op_decisions', 1)), [
      'grace',
      'frank',
    ]);
  });

  test('quarantine_history', async () => {
    const rows = await named('quarantine_history');
    assert.deepEqual(
      rows.map((r) => [r.job_id, r.event]),
      [['q_fail', 'job.run.quarantine.enter']],
    );
    assert.match(String(rows[0]?.details), /consecutive failures/);
  });

  test('skipped_ticks: ticks not run because a run of the job was open', async () => {
    const rows = await named('skipped_ticks');
    assert.deepEqual(
      rows.map((r) => [r.job_id, num(r.skipped)]),
      [['q_slow', 1]],
    );
    assert.match(String(rows[0]?.last_skipped_at), /^\d{4}-\d{2}-\d{2}T/);
  });

  test('missed_ticks: due by the schedule, never run', async () => {
    const rows = await named('missed_ticks');
    assert.deepEqual(
      rows.map((r) => [r.job_id, r.jobrunid]),
      [['q_missed', `q_missed/${tick().replace(/\.\d{3}Z$/, 'Z')}`]],
    );
  });

  test('ad-hoc SQL sees the same tables and partition columns as Athena', async () => {
    const rows = await queryEvidence(
      root,
      "SELECT job_id, stage, count(*) AS n FROM run_records WHERE job_id = 'q_ok' GROUP BY job_id, stage",
    );
    assert.deepEqual(
      rows.map((r) => [r.job_id, r.stage, num(r.n)]),
      [['q_ok', 'local', 1]],
    );
    const manifests = await queryEvidence(
      root,
      "SELECT max(sequence) AS s FROM manifests WHERE job_id = 'q_fail'",
    );
    assert.equal(num(manifests[0]?.s), 4);
  });
});
