import assert from 'node:assert/strict';
import { beforeAll, describe, test } from 'vitest';
import {
  type AuditEvent,
  type GateResults,
  type RunContext,
  stageResourceNames,
} from '../../contracts';
import { MemoryStateStore } from '../../functions/adapters/memory-state-store';
import type { SealedOutcome } from '../../functions/core/ports';
import {
  formatDuration,
  formatRunDetail,
  formatRuns,
  parseSince,
  qualityReason,
  runDetail,
  runHistory,
} from '../../functions/core/run-history';

/**
 * The fixture: four runs of two jobs in a memory state store, written through the port as the run
 * handlers write them. backup_job (Asia/Tokyo) succeeded on 03-01, failed on 03-02 with a known
 * reason, and is running on 03-03; purge_job (UTC) was approved by bob and ended DEGRADED.
 */
const ZONES: Record<string, string> = { backup_job: 'Asia/Tokyo', purge_job: 'UTC' };
const zoneOf = (jobId: string) => ZONES[jobId] ?? 'UTC';

function context(jobId: string, day: string, trigger: string): RunContext {
  const start = `2026-03-${day}T00:00:00Z`;
  return {
    stage: 'local',
    jobId,
    jobVersion: '1.2.0',
    jobRunId: `${jobId}/${start}`,
    scheduledTime: start,
    trigger,
    executionId: `exec-${jobId}-${day}`,
    window: { start, end: `2026-03-${day}T01:00:00Z` },
    evidencePrefix: `stage=local/dt=2026-03-${day}/job_id=${jobId}/`,
    policySnapshot: { stage: 'local', sha256: 'a'.repeat(64) },
    jobConfigSha256: 'b'.repeat(64),
    datasetRefs: jobId === 'purge_job' ? ['opsrail.evidence'] : [],
    outputDatasetId: `opsrail.outputs.${jobId}`,
    requestedBy: trigger === 'manual' ? 'alice' : 'scheduler',
    params: jobId === 'purge_job' ? { days: 30 } : {},
    approvalRequired: jobId === 'purge_job',
    jobFunction: stageResourceNames('local').jobFunction(jobId),
    claimedAt: `2026-03-${day}T00:00:01Z`,
  };
}

const event = (
  run: RunContext,
  type: AuditEvent['type'],
  at: string,
  extra: Partial<AuditEvent> = {},
): AuditEvent => ({
  schemaVersion: 1,
  eventId: `${run.jobRunId}#${type}${extra.retry ? `#${extra.retry.count}` : ''}`,
  type,
  at,
  stage: 'local',
  jobId: run.jobId,
  jobRunId: run.jobRunId,
  actor: { kind: type === 'job.run.start' ? 'scheduler' : 'system', id: 'opsrail' },
  ...extra,
});

const gate: GateResults = {
  schemaVersion: 1,
  jobRunId: 'purge_job/2026-03-02T00:00:00Z',
  gate: 'human_approval',
  approvalId: 'f'.repeat(32),
  opKind: 'retention',
  requestedBy: 'alice',
  decision: 'approved',
  decidedBy: 'bob',
  decidedAt: '2026-03-02T00:05:00Z',
  minApprovals: 1,
  decisions: [
    { by: 'bob', decision: 'approve', at: '2026-03-02T00:05:00Z', source: 'local', reason: null },
  ],
  attempts: [
    {
      at: '2026-03-02T00:04:00Z',
      method: 'GET',
      identity: 'bob',
      userAgent: 'opsrail-cli',
      outcome: 'shown',
    },
    {
      at: '2026-03-02T00:05:00Z',
      method: 'POST',
      identity: 'bob',
      userAgent: 'opsrail-cli',
      outcome: 'approved',
    },
  ],
};

async function finish(
  store: MemoryStateStore,
  run: RunContext,
  outcome: Omit<SealedOutcome, 'integrityReport' | 'effect'> & { effect?: SealedOutcome['effect'] },
) {
  await store.sealOutcome(run.jobRunId, {
    integrityReport: null,
    effect: { kind: 'neutral' },
    ...outcome,
  });
  const manifestKey = `${run.evidencePrefix}manifest/run=${run.scheduledTime.replace(/[-:]/g, '')}.json`;
  await store.linkChain(
    run.jobId,
    run.jobRunId,
    (await store.getJobState(run.jobId))?.chainHead?.sequence ?? 0,
    {
      sequence: ((await store.getJobState(run.jobId))?.chainHead?.sequence ?? 0) + 1,
      manifestKey,
      manifestSha256: 'c'.repeat(64),
      previous: null,
    },
  );
  await store.completeRun(
    {
      jobRunId: run.jobRunId,
      jobId: run.jobId,
      status: outcome.status,
      quality: outcome.quality,
      evidencePrefix: run.evidencePrefix,
      manifestKey,
      error: outcome.error,
    },
    outcome.endedAt,
    outcome.effect ?? { kind: 'neutral' },
  );
}

describe('run history (opsrail runs, opsrail show) on the memory state store', () => {
  const store = new MemoryStateStore();
  const ok = context('backup_job', '01', 'schedule');
  const failed = context('backup_job', '02', 'schedule');
  const running = context('backup_job', '03', 'schedule');
  const approved = context('purge_job', '02', 'manual');

  beforeAll(async () => {
    for (const run of [ok, failed, running, approved])
      await store.claimRun(
        run,
        event(run, 'job.run.start', run.claimedAt, {
          inputsRefs: {
            datasetRefs: run.datasetRefs,
            policySnapshot: run.policySnapshot,
            replayPointersRef: `${run.evidencePrefix}replay_pointers/run=x.json`,
          },
        }),
        '2026-03-09T00:00:00Z',
      );
    await finish(store, ok, {
      status: 'ok',
      quality: 'OK',
      startedAt: '2026-03-01T00:00:01Z',
      endedAt: '2026-03-01T00:00:03.500Z',
      attempts: 1,
      diagnostics: [{ level: 'info', code: 'rows', message: '12 rows' }],
      error: null,
      events: [
        event(ok, 'job.run.end', '2026-03-01T00:00:03.500Z', {
          status: 'ok',
          quality: 'OK',
          outputsRefs: [`${ok.evidencePrefix}outputs/run=20260301T000000Z/rows.json`],
        }),
      ],
      effect: { kind: 'success' },
    });
    await store.appendAudit(failed.jobRunId, [
      event(failed, 'job.run.retry', '2026-03-02T00:00:30Z', {
        retry: { count: 1, reason: 'DependencyError: GET https://backup.example.com failed: 503' },
      }),
    ]);
    await finish(store, failed, {
      status: 'error',
      quality: 'UNKNOWN',
      startedAt: '2026-03-02T00:00:01Z',
      endedAt: '2026-03-02T00:01:06Z',
      attempts: 3,
      diagnostics: [],
      error: {
        kind: 'dependency',
        name: 'DependencyError',
        message: 'GET https://backup.example.com failed: 503',
      },
      events: [
        event(failed, 'job.run.fail', '2026-03-02T00:01:06Z', {
          error: {
            kind: 'dependency',
            name: 'DependencyError',
            message: 'GET https://backup.example.com failed: 503',
          },
          evidenceRefs: [`${failed.evidencePrefix}error/run=20260302T000000Z.json`],
        }),
      ],
      effect: { kind: 'failure', quarantine: null },
    });
    await store.recordDuplicate(
      {
        ...event(failed, 'job.run.duplicate_suppressed', '2026-03-02T00:02:00Z'),
        jobRunId: failed.jobRunId,
      },
      'exec-again',
    );
    await finish(store, approved, {
      status: 'ok',
      quality: 'DEGRADED',
      startedAt: '2026-03-02T00:00:01Z',
      endedAt: '2026-03-02T02:05:01Z',
      attempts: 1,
      diagnostics: [{ level: 'warning', code: 'partial', message: '2 of 3 buckets purged' }],
      error: null,
      events: [],
      gate,
    });
  });

  test('runs: newest window first, each job’s times in its own zone, the reason of every quality that is not OK', async () => {
    // Prepare
    const items = await store.listRuns({});

    // Act
    const lines = formatRuns(runHistory(items), zoneOf);

    // Assess
    assert.deepEqual(
      lines.map((l) => l.split(/ {2,}/)),
      [
        ['WINDOW', 'JOB', 'STATUS', 'QUALITY', 'DURATION', 'ATTEMPTS', 'TRIGGER', 'REASON'],
        [
          '2026-03-03T09:00:00+09:00 .. 2026-03-03T10:00:00+09:00',
          'backup_job',
          'running',
          '-',
          '-',
          '0',
          'schedule',
        ],
        [
          '2026-03-02T09:00:00+09:00 .. 2026-03-02T10:00:00+09:00',
          'backup_job',
          'error',
          'UNKNOWN',
          '1m 05s',
          '3',
          'schedule',
          'dependency: GET https://backup.example.com failed: 503',
        ],
        [
          '2026-03-02T00:00:00Z .. 2026-03-02T01:00:00Z',
          'purge_job',
          'ok',
          'DEGRADED',
          '2h 05m',
          '1',
          'manual',
          'partial: 2 of 3 buckets purged',
        ],
        [
          '2026-03-01T09:00:00+09:00 .. 2026-03-01T10:00:00+09:00',
          'backup_job',
          'ok',
          'OK',
          '2.5s',
          '1',
          'schedule',
        ],
      ],
    );
  });

  test('runs narrowed by job, by --since (the store) and by status (the history); --utc shows UTC', async () => {
    // Prepare
    const since = parseSince('2026-03-02T00:00:00Z', new Date('2026-03-10T00:00:00Z')) as string;

    // Act
    const backup = runHistory(await store.listRuns({ jobId: 'backup_job', since }));
    const errors = runHistory(await store.listRuns({}), { status: 'error' });
    const utc = formatRuns(errors, () => 'UTC');

    // Assess
    assert.deepEqual(
      backup.map((r) => r.jobRunId),
      ['backup_job/2026-03-03T00:00:00Z', 'backup_job/2026-03-02T00:00:00Z'],
    );
    assert.deepEqual(
      errors.map((r) => r.jobRunId),
      ['backup_job/2026-03-02T00:00:00Z'],
    );
    assert.match(utc[1] as string, /^2026-03-02T00:00:00Z \.\. 2026-03-02T01:00:00Z {2}backup_job/);
    assert.deepEqual(formatRuns([], zoneOf), ['no runs']);
  });

  test('runs --json: one element per run, every field of the shape', async () => {
    // Act
    const rows = JSON.parse(JSON.stringify(runHistory(await store.listRuns({}))));

    // Assess
    const failedRow = rows.find((r: { jobRunId: string }) => r.jobRunId === failed.jobRunId);
    assert.deepEqual(failedRow, {
      jobRunId: 'backup_job/2026-03-02T00:00:00Z',
      jobId: 'backup_job',
      jobVersion: '1.2.0',
      scheduledTime: '2026-03-02T00:00:00Z',
      window: { start: '2026-03-02T00:00:00Z', end: '2026-03-02T01:00:00Z' },
      status: 'error',
      quality: 'UNKNOWN',
      qualityReason: 'dependency: GET https://backup.example.com failed: 503',
      startedAt: '2026-03-02T00:00:01Z',
      endedAt: '2026-03-02T00:01:06Z',
      durationMs: 65_000,
      attempts: 3,
      trigger: 'schedule',
      requestedBy: 'scheduler',
      error: {
        kind: 'dependency',
        name: 'DependencyError',
        message: 'GET https://backup.example.com failed: 503',
      },
    });
    for (const row of rows) assert.deepEqual(Object.keys(row), Object.keys(failedRow));
  });

  test('show of the failed run: why, window, pinned inputs, evidence and the timeline in plain words', async () => {
    // Prepare
    const item = await store.getRun(failed.jobRunId);
    assert.ok(item);

    // Act
    const lines = formatRunDetail(
      runDetail(item, await store.listDuplicates(failed.jobRunId)),
      'Asia/Tokyo',
    );

    // Assess
    assert.deepEqual(lines, [
      'run backup_job/2026-03-02T00:00:00Z',
      '  job          backup_job 1.2.0, stage local',
      '  status       error, quality UNKNOWN',
      '  why          dependency: GET https://backup.example.com failed: 503',
      '  window       2026-03-02T09:00:00+09:00 to 2026-03-02T10:00:00+09:00 (scheduled 2026-03-02T09:00:00+09:00)',
      '  trigger      schedule, requested by scheduler',
      '  timing       claimed 2026-03-02T09:00:01+09:00, started 2026-03-02T09:00:01+09:00, ended 2026-03-02T09:01:06+09:00 (1m 05s), 3 attempts',
      '  execution    exec-backup_job-02',
      'pinned inputs',
      `  policy       local snapshot sha256 ${'a'.repeat(64)}`,
      `  job config   sha256 ${'b'.repeat(64)}`,
      '  datasets     none',
      '  params       none',
      '  replay       stage=local/dt=2026-03-02/job_id=backup_job/replay_pointers/run=x.json',
      '  runs in      opsrail-local-job-backup_job',
      'diagnostics  none',
      'approval     none (not a dangerous op)',
      'outputs      none',
      'evidence',
      '  prefix       stage=local/dt=2026-03-02/job_id=backup_job/',
      `  manifest     stage=local/dt=2026-03-02/job_id=backup_job/manifest/run=20260302T000000Z.json (chain #2, sha256 ${'c'.repeat(64)})`,
      '  also         stage=local/dt=2026-03-02/job_id=backup_job/error/run=20260302T000000Z.json',
      'timeline',
      '  2026-03-02T09:00:01+09:00  job.run.start                scheduler:opsrail',
      '  2026-03-02T09:00:30+09:00  job.run.retry                system:opsrail  retry 1: DependencyError: GET https://backup.example.com failed: 503',
      '  2026-03-02T09:01:06+09:00  job.run.fail                 system:opsrail  dependency: GET https://backup.example.com failed: 503',
      '  and 1 later delivery of this window suppressed (job.run.duplicate_suppressed)',
    ]);
  });

  test('show of the approved run: the decision, who decided, the attempts, the params and the DEGRADED reason', async () => {
    // Prepare
    const item = await store.getRun(approved.jobRunId);
    assert.ok(item);

    // Act
    const detail = runDetail(item);
    const lines = formatRunDetail(detail, 'UTC');

    // Assess
    assert.equal(lines[3], '  why          partial: 2 of 3 buckets purged');
    assert.equal(lines[5], '  trigger      manual, requested by alice');
    assert.ok(lines.includes('  datasets     opsrail.evidence'));
    assert.ok(lines.includes('  params       days=30'));
    assert.ok(lines.includes('  warning  partial: 2 of 3 buckets purged'));
    const approval = lines.indexOf(
      `approval     retention approved by bob at 2026-03-02T00:05:00Z (request ${'f'.repeat(32)}, requested by alice, 1 needed)`,
    );
    assert.notEqual(approval, -1, lines.join('\n'));
    assert.deepEqual(lines.slice(approval + 1, approval + 3), [
      '  approve  bob at 2026-03-02T00:05:00Z via local',
      '  attempts   2 attempts recorded',
    ]);
    // --json: the same facts as data.
    assert.deepEqual(
      [detail.approval?.decidedBy, detail.approvalRequired, detail.pinnedInputs.params],
      ['bob', true, { days: 30 }],
    );
  });

  test('show of the successful run lists its outputs; a running one says it is not finalized', async () => {
    // Act
    const okLines = formatRunDetail(runDetail((await store.getRun(ok.jobRunId))!), 'UTC');
    const runningLines = formatRunDetail(runDetail((await store.getRun(running.jobRunId))!), 'UTC');

    // Assess
    assert.equal(okLines[2], '  status       ok, quality OK');
    assert.equal(okLines[3]?.startsWith('  window'), true, 'no "why" line for quality OK');
    const outputs = okLines.indexOf('outputs');
    assert.equal(
      okLines[outputs + 1],
      '  stage=local/dt=2026-03-01/job_id=backup_job/outputs/run=20260301T000000Z/rows.json',
    );
    assert.ok(okLines.includes('  info     rows: 12 rows'));
    assert.equal(runningLines[2], '  status       running (claimed, not finalized yet)');
    assert.ok(runningLines.includes('  manifest     not written'));
  });
});

describe('the rules under runs and show', () => {
  test('--since takes an ISO time with a zone or a duration back from now; anything else is refused', () => {
    // Prepare
    const now = new Date('2026-03-10T12:00:00Z');

    // Act
    const parsed = ['24h', '7d', '30m', '2w', '2026-03-01T09:00:00+09:00', '2026-03-01'].map((s) =>
      parseSince(s, now),
    );
    const refused = ['yesterday', '24', '-1d', '2026-03-01T00:00:00', '5y', ''].map((s) =>
      parseSince(s, now),
    );

    // Assess
    assert.deepEqual(parsed, [
      '2026-03-09T12:00:00.000Z',
      '2026-03-03T12:00:00.000Z',
      '2026-03-10T11:30:00.000Z',
      '2026-02-24T12:00:00.000Z',
      '2026-03-01T00:00:00.000Z',
      '2026-03-01T00:00:00.000Z',
    ]);
    assert.deepEqual(refused, [null, null, null, null, null, null]);
  });

  test('a quality that is not OK always has a reason: the error, else the warnings, else that the job gave none', () => {
    // Act / Assess
    assert.equal(qualityReason('OK', [{ level: 'warning', code: 'w', message: 'm' }], null), null);
    assert.equal(qualityReason(null, [], null), null);
    assert.equal(
      qualityReason('UNKNOWN', [{ level: 'warning', code: 'w', message: 'm' }], {
        kind: 'timeout',
        message: 't',
      }),
      'timeout: t',
    );
    assert.equal(
      qualityReason(
        'DEGRADED',
        [
          { level: 'info', code: 'i', message: 'not this' },
          { level: 'warning', code: 'a', message: 'one' },
          { level: 'error', code: 'b', message: 'two' },
        ],
        null,
      ),
      'a: one; b: two',
    );
    assert.equal(
      qualityReason('UNKNOWN', [{ level: 'info', code: 'i', message: 'x' }], null),
      'the job reported UNKNOWN without a warning or error saying why',
    );
  });

  test('durations read as seconds, minutes or hours', () => {
    assert.deepEqual([null, 0, 1_234, 59_000, 65_000, 3_600_000 + 5 * 60_000].map(formatDuration), [
      '-',
      '0.0s',
      '1.2s',
      '59.0s',
      '1m 05s',
      '1h 05m',
    ]);
  });
});
