import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { buildDependencies } from '../../functions/adapters/dependencies';
import type { ExecutionOutcome } from '../../local/runtime';
import { type Dispatch, LocalScheduler } from '../../local/scheduler';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { runOpsrail } from '../support/cli';
import { ManualClock } from '../support/clock';

const CHECK = 'evidence_integrity_check';
const HEALTH = 'endpoint_health_check';

/**
 * The operator's tools (issue 15) on one local stack that this process runs, as `npm start` would in
 * another terminal: every command attaches to it, so no command starts Java of its own.
 */
describe('opsrail run, runs, show, pause, resume and trigger on a running local stack', () => {
  let stack: LocalStack;
  const home = mkdtempSync(join(tmpdir(), 'opsrail-cli-operator-'));
  beforeAll(async () => (stack = await startLocalStack({ home, attach: false })));
  afterAll(async () => stack.stop());

  const opsrail = (...args: string[]) => runOpsrail(args, { OPSRAIL_HOME: home });

  test('the README’s first example exits 4 and says why the quality is UNKNOWN; a failed run exits 1 with its error', async () => {
    // Act
    const first = await opsrail('run', CHECK, '--at', '2026-01-01T00:00:00Z');
    const failed = await opsrail('run', HEALTH, '--at', '2026-01-01T00:00:00Z', '--json');

    // Assess
    assert.equal(first.code, 4, first.stderr);
    assert.deepEqual(first.stdout.trim().split('\n'), [
      `jobRunId: ${CHECK}/2026-01-01T00:00:00Z`,
      'status:   ok (quality UNKNOWN)',
      'why:      quality UNKNOWN: no_evidence: no evidence bundles to check yet',
      `evidence: s3://opsrail-local-evidence/stage=local/dt=2026-01-01/job_id=${CHECK}/manifest/run=20260101T000000Z.json`,
    ]);
    assert.equal(failed.code, 1, failed.stderr);
    const report = JSON.parse(failed.stdout);
    assert.equal(report.status, 'error');
    assert.match(report.error.message, /GET http:\/\/127\.0\.0\.1:8080\/health failed/);
  });

  test('runs lists both, newest first, in each job’s zone (or UTC with --utc), with the reason; --json and --status narrow', async () => {
    // Act
    const table = await opsrail('runs');
    const utc = await opsrail('runs', HEALTH, '--utc');
    const json = await opsrail('runs', '--json', '--status', 'error');

    // Assess
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(
      lines[0] as string,
      /^WINDOW\s+JOB\s+STATUS\s+QUALITY\s+DURATION\s+ATTEMPTS\s+TRIGGER\s+REASON$/,
    );
    assert.equal(lines.length, 3);
    assert.match(
      lines[1] as string,
      new RegExp(
        `^2026-01-01T09:00:00\\+09:00 \\.\\. 2026-01-01T09:15:00\\+09:00\\s+${HEALTH}\\s+error\\s+UNKNOWN\\s+\\d+\\.\\ds\\s+\\d+\\s+manual\\s+dependency: GET http://127\\.0\\.0\\.1:8080/health failed`,
      ),
    );
    assert.match(
      lines[2] as string,
      new RegExp(
        `^2026-01-01T09:00:00\\+09:00 \\.\\. 2026-01-01T10:00:00\\+09:00\\s+${CHECK}\\s+ok\\s+UNKNOWN\\s+\\d+\\.\\ds\\s+1\\s+manual\\s+no_evidence: no evidence bundles to check yet$`,
      ),
    );
    assert.match(
      utc.stdout.split('\n')[1] as string,
      /^2026-01-01T00:00:00Z \.\. 2026-01-01T00:15:00Z/,
    );
    assert.equal(json.code, 0, json.stderr);
    const { stage, runs } = JSON.parse(json.stdout);
    assert.equal(stage, 'local');
    assert.deepEqual(
      runs.map((r: { jobRunId: string; status: string }) => [r.jobRunId, r.status]),
      [[`${HEALTH}/2026-01-01T00:00:00Z`, 'error']],
    );
  });

  test('show of the failed run says in plain words why it failed, what it was pinned to and what it left', async () => {
    // Act
    const shown = await opsrail('show', `${HEALTH}/2026-01-01T00:00:00Z`);
    const missing = await opsrail('show', `${HEALTH}/2020-01-01T00:00:00Z`);

    // Assess
    assert.equal(shown.code, 0, shown.stderr);
    const lines = shown.stdout.split('\n');
    assert.equal(lines[0], `run ${HEALTH}/2026-01-01T00:00:00Z`);
    assert.equal(lines[2], '  status       error, quality UNKNOWN');
    assert.match(
      lines[3] as string,
      /^ {2}why {10}dependency: GET http:\/\/127\.0\.0\.1:8080\/health failed: connect ECONNREFUSED/,
    );
    assert.ok(lines.includes('pinned inputs'));
    assert.match(shown.stdout, /\n {2}policy {7}local snapshot sha256 [a-f0-9]{64}\n/);
    assert.match(
      shown.stdout,
      new RegExp(
        `\\n {2}manifest {5}stage=local/dt=2026-01-01/job_id=${HEALTH}/manifest/run=20260101T000000Z\\.json \\(chain #1`,
      ),
    );
    assert.match(shown.stdout, /\n {2}\S+\+09:00 {2}job\.run\.start {16}operator:manual\n/);
    assert.match(shown.stdout, /job\.run\.retry {16}system:opsrail {2}retry 1: DependencyError/);
    assert.match(shown.stdout, /job\.run\.fail {17}system:opsrail {2}dependency: GET/);
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      /no run 'endpoint_health_check\/2020-01-01T00:00:00Z' in stage local/,
    );
  });

  test('pause: the local scheduler fires no tick of the paused job (its clock driven here), status shows it; resume: the next tick runs; both audited', async () => {
    // Prepare: a scheduler on the stack's own state table, with a stand-in for the runtime.
    const deps = buildDependencies(stack.env, [], { runsJobs: false });
    const clock = new ManualClock(new Date('2026-06-01T00:50:00Z'));
    const dispatched: Dispatch[] = [];
    const skipped: string[] = [];
    const scheduler = new LocalScheduler(
      {
        run: async (request: { jobId: string; scheduledTime: string }) =>
          ({
            kind: 'duplicate_suppressed',
            executionId: 'x',
            jobRunId: `${request.jobId}/${request.scheduledTime}`,
          }) as ExecutionOutcome,
      },
      deps.policy,
      deps.state,
      clock,
      {
        onDispatch: (d) => dispatched.push(d),
        onSkipped: (jobId, tick, why) => skipped.push(`${jobId} ${tick} ${why}`),
      },
    );
    await scheduler.tick(); // first start: every job's cursor begins now
    const ticksOf = (jobId: string) =>
      dispatched.filter((d) => d.jobId === jobId).map((d) => d.scheduledTime);

    // Act
    const pause = await opsrail('pause', CHECK, '--as', 'alice', '--reason', 'vendor maintenance');
    const status = await opsrail('status');
    clock.current = new Date('2026-06-01T01:05:00Z');
    await scheduler.tick();
    await scheduler.drain();
    const whilePaused = ticksOf(CHECK);
    const resume = await opsrail('resume', CHECK, '--as', 'bob', '--reason', 'over');
    clock.current = new Date('2026-06-01T02:05:00Z');
    await scheduler.tick();
    await scheduler.drain();
    const statusAfter = await opsrail('status', '--utc');

    // Assess
    assert.equal(pause.code, 0, pause.stderr);
    assert.match(
      pause.stdout,
      new RegExp(`^paused: ${CHECK} by alice at \\S+ \\(vendor maintenance\\)`),
    );
    assert.match(
      status.stdout,
      new RegExp(`\\npaused: +${CHECK} \\(by alice at \\S+\\+09:00: vendor maintenance\\)`),
    );
    assert.match(status.stdout, new RegExp(`\\n${CHECK}\\s+true\\s+PAUSED\\s`));
    assert.deepEqual(whilePaused, [], 'no tick of a paused job starts a run');
    assert.equal(skipped.length, 1, skipped.join('\n'));
    assert.match(
      skipped[0] as string,
      new RegExp(`^${CHECK} 2026-06-01T01:00:00Z paused by alice at \\S+: schedule disabled$`),
    );
    assert.equal(resume.code, 0, resume.stderr);
    assert.match(
      resume.stdout,
      new RegExp(`^resumed: ${CHECK} by bob \\(over\\); it was paused by alice`),
    );
    assert.deepEqual(ticksOf(CHECK), ['2026-06-01T02:00:00Z'], 'the tick after resume runs');
    assert.match(
      statusAfter.stdout,
      new RegExp(`\\n${CHECK}\\s+true\\s+active\\s.*\\d{4}-\\d{2}-\\d{2}T\\d{2}:00:00Z\\n`),
    );
    const events = (await deps.evidence.list('stage=local/'))
      .filter((k) => k.includes('/control/'))
      .map((k) => /-(schedule\.\w+)-/.exec(k)?.[1])
      .filter(Boolean);
    assert.deepEqual(events, ['schedule.pause', 'schedule.resume']);
  });

  test('trigger starts exactly one run now, through the local runtime, marked manual', async () => {
    // Prepare
    const before = JSON.parse((await opsrail('runs', CHECK, '--json')).stdout).runs.length;

    // Act
    const triggered = await opsrail('trigger', CHECK, '--as', 'carol', '--json');

    // Assess
    assert.ok([0, 4].includes(triggered.code), triggered.stdout + triggered.stderr);
    const report = JSON.parse(triggered.stdout);
    const { runs } = JSON.parse((await opsrail('runs', CHECK, '--json', '--since', '2h')).stdout);
    assert.equal(runs.length, 1);
    assert.deepEqual(
      [runs[0].jobRunId, runs[0].trigger, runs[0].requestedBy],
      [report.jobRunId, 'manual', 'carol'],
    );
    assert.equal(
      JSON.parse((await opsrail('runs', CHECK, '--json')).stdout).runs.length,
      before + 1,
    );
  });
  test('verify --freshness: a job that just succeeded is fresh, an enabled job that never did is stale (exit 1); status shows the heartbeat', async () => {
    // Prepare: a run of a new window now; the health check's failure from the first test
    const ran = await opsrail('run', CHECK, '--at', '2026-01-03T00:00:00Z', '--json');
    assert.equal(JSON.parse(ran.stdout).quality, 'OK', ran.stdout);

    // Act
    const freshness = await opsrail('verify', '--freshness', '--json');
    const text = await opsrail('verify', '--freshness');
    const status = JSON.parse((await opsrail('status', '--json')).stdout);

    // Assess
    assert.equal(freshness.code, 1, freshness.stderr);
    const report = JSON.parse(freshness.stdout);
    const beat = (id: string) => report.jobs.find((j: { jobId: string }) => j.jobId === id);
    assert.equal(beat(CHECK).stale, false);
    assert.equal(beat(CHECK).maxAgeSeconds, 60 * 60 + 30 * 60);
    assert.equal(beat('schedule_ledger').stale, true);
    assert.deepEqual(report.stale, ['schedule_ledger']);
    assert.equal(
      report.jobs.some((j: { jobId: string }) => j.jobId === HEALTH),
      false,
      'disabled: not watched',
    );
    assert.match(
      text.stdout,
      /^STALE {2}schedule_ledger {2}last success never, allowed age \d+ min$/m,
    );
    assert.match(text.stdout, /1 of 2 enabled job\(s\) stale: schedule_ledger/);
    const health = status.jobs.find((j: { jobId: string }) => j.jobId === HEALTH);
    assert.equal(health.heartbeat.lastFailureKind, 'dependency');
    assert.ok(health.heartbeat.lastFailureAt);
  });
});
