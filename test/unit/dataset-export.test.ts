import assert from 'node:assert/strict';
import { logOnlyNotify } from '../../functions/core/notifications';
import { describe, test } from 'vitest';
import { unavailableSecrets, unavailableWebhooks } from '../../functions/core/run/execute';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import {
  type AuditEvent,
  DatasetExportParams,
  type ExportDataset,
  ExportManifestEntry,
  type RunContext,
  stageResourceNames,
} from '../../contracts';
import { S3ExportCopier } from '../../functions/adapters/export-copier';
import { MemoryEvidenceStore } from '../../functions/adapters/memory-evidence-store';
import { MemoryStateStore } from '../../functions/adapters/memory-state-store';
import { directoryPolicySource } from '../../functions/adapters/policy-sources';
import { exportFileKey, exportManifestKey } from '../../functions/core/exports';
import { canonicalJson, sha256Hex } from '../../functions/core/hashing';
import { evidencePrefix } from '../../functions/core/ids';
import { outputName } from '../../functions/core/layout';
import { findJob, loadPolicy } from '../../functions/core/policy';
import type { EvidenceStore, SealedOutcome } from '../../functions/core/ports';
import { createRedactor } from '../../functions/core/redaction';
import { verifyEvidence } from '../../functions/core/verify';
import { datasetExportJob, type ExportCopier } from '../../functions/jobs/dataset-export';
import { jobRegistry } from '../../functions/jobs/registry';
import type { JobContext } from '../../functions/jobs/types';
import { DEFAULT_POLICY_DIR } from '../../local/stack';

const policy = loadPolicy(directoryPolicySource(DEFAULT_POLICY_DIR), 'local', jobRegistry());
const clock = { now: () => new Date('2026-03-02T00:20:05Z') };
const DAY = { start: '2026-03-01T00:00:00Z', end: '2026-03-02T00:00:00Z' };
const noCopy: () => Promise<ExportCopier> = () => Promise.reject(new Error('no copy expected'));

/** The run of dataset_export for `window`, claimed at `claimedAt`. */
function exportRun(window = DAY, claimedAt = '2026-03-02T00:20:01Z'): RunContext {
  const jobRunId = `dataset_export/${window.start}`;
  return {
    stage: 'local',
    jobId: 'dataset_export',
    jobVersion: '1.0.0',
    jobRunId,
    scheduledTime: window.end,
    trigger: 'schedule',
    executionId: `exec-${window.start}`,
    window,
    evidencePrefix: `stage=local/dt=${window.start.slice(0, 10)}/job_id=dataset_export/`,
    policySnapshot: policy.snapshot,
    jobConfigSha256: 'b'.repeat(64),
    datasetRefs: [],
    outputDatasetId: 'opsrail.outputs.dataset_export',
    requestedBy: 'scheduler',
    params: {},
    approvalRequired: false,
    jobFunction: stageResourceNames('local').jobFunction('dataset_export'),
    claimedAt,
  };
}

function contextOf(
  state: MemoryStateStore,
  evidence: EvidenceStore,
  run: RunContext,
  params: Record<string, unknown> = {},
): JobContext {
  const job = findJob(policy, 'dataset_export')!;
  const control = {
    policy,
    state,
    evidence,
    clock,
    redactor: createRedactor(policy.settings.redaction),
  };
  return {
    job: { ...job, params: DatasetExportParams.parse({ ...job.params, ...params }) },
    run,
    policy,
    clock,
    state,
    evidence,
    codeVersion: '0.1.0-test',
    secrets: unavailableSecrets,
    webhooks: unavailableWebhooks,
    notify: logOnlyNotify(
      () => {},
      () => new Date(),
    ),
    log: () => {},
    control,
  };
}

/** A finished run of `jobId` as the state table seals it. */
async function sealedRun(
  state: MemoryStateStore,
  jobId: string,
  scheduledTime: string,
  outcome: { status: SealedOutcome['status']; attempts: number; ms: number; endedAt?: string },
) {
  const jobRunId = `${jobId}/${scheduledTime}`;
  const run = { ...exportRun(), jobId, jobRunId, scheduledTime, executionId: `x-${jobRunId}` };
  const start = { type: 'job.run.start', eventId: `${jobRunId}#start` } as AuditEvent;
  await state.claimRun(run, start, '2026-03-01T23:00:00Z');
  const endedAt = outcome.endedAt ?? new Date(Date.parse(scheduledTime) + 60_000).toISOString();
  await state.sealOutcome(jobRunId, {
    status: outcome.status,
    quality: 'OK',
    startedAt: new Date(Date.parse(endedAt) - outcome.ms).toISOString(),
    endedAt,
    attempts: outcome.attempts,
    diagnostics: [],
    error:
      outcome.status === 'error'
        ? { kind: 'dependency', name: 'DependencyError', message: '503' }
        : null,
    integrityReport: null,
    events: [],
    effect: { kind: 'neutral' },
  });
}

/** Four runs of a_job, one of b_job in the window; three runs that must not be exported. */
async function fixture(state = new MemoryStateStore()) {
  await sealedRun(state, 'a_job', '2026-03-01T01:00:00Z', { status: 'ok', attempts: 1, ms: 1000 });
  await sealedRun(state, 'a_job', '2026-03-01T02:00:00Z', { status: 'ok', attempts: 2, ms: 3000 });
  await sealedRun(state, 'a_job', '2026-03-01T03:00:00Z', {
    status: 'error',
    attempts: 3,
    ms: 2000,
  });
  await sealedRun(state, 'b_job', '2026-03-01T05:00:00Z', {
    status: 'dry_run',
    attempts: 1,
    ms: 500,
  });
  // Outside the window; ended after the export was claimed; claimed and never sealed.
  await sealedRun(state, 'a_job', '2026-02-28T23:00:00Z', { status: 'ok', attempts: 1, ms: 10 });
  await sealedRun(state, 'b_job', '2026-03-01T23:00:00Z', {
    status: 'ok',
    attempts: 1,
    ms: 10,
    endedAt: '2026-03-02T00:30:00Z',
  });
  await state.claimRun(
    { ...exportRun(), jobId: 'b_job', jobRunId: 'b_job/2026-03-01T22:00:00Z' },
    { type: 'job.run.start' } as AuditEvent,
    '2026-03-02T01:00:00Z',
  );
  return state;
}

/** The findings about exports (the fixture's runs are claimed, never finalized: unfinished_run). */
const exportProblems = (report: { problems: { kind: string; key: string; detail: string }[] }) =>
  report.problems.filter((p) => p.key.includes('/exports/'));

const text = async (evidence: EvidenceStore, key: string) =>
  new TextDecoder().decode((await evidence.getObject(key)) as Uint8Array);
const entryAt = async (evidence: EvidenceStore, dataset: ExportDataset, n: number) =>
  ExportManifestEntry.parse(
    JSON.parse(await text(evidence, exportManifestKey('local', dataset, n))),
  );

describe('dataset_export on a fixture of run records', () => {
  test('row counts, checksums and KPI numbers', async () => {
    // Prepare
    const state = await fixture();
    const evidence = new MemoryEvidenceStore();
    // Act
    const result = await datasetExportJob(noCopy).run(contextOf(state, evidence, exportRun()));
    // Assess: the four runs in the window that were sealed before the export was claimed.
    assert.equal(result.quality, 'OK');
    const runs = await entryAt(evidence, 'run_records', 1);
    assert.equal(runs.row_count, 4);
    const jsonl = await text(evidence, exportFileKey('local', 'run_records', 1, 'jsonl'));
    assert.deepEqual(
      jsonl
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).jobRunId),
      [
        'a_job/2026-03-01T01:00:00Z',
        'a_job/2026-03-01T02:00:00Z',
        'a_job/2026-03-01T03:00:00Z',
        'b_job/2026-03-01T05:00:00Z',
      ],
    );
    assert.equal(
      jsonl.split('\n')[0],
      '{"jobRunId":"a_job/2026-03-01T01:00:00Z","jobId":"a_job","jobVersion":"1.0.0","scheduledTime":"2026-03-01T01:00:00Z","trigger":"schedule","status":"ok","quality":"OK","startedAt":"2026-03-01T01:00:59.000Z","endedAt":"2026-03-01T01:01:00.000Z","duration_ms":1000,"attempts":1,"error_kind":null}',
    );
    assert.equal(runs.checksum_sha256, sha256Hex(jsonl));
    const csv = await text(evidence, exportFileKey('local', 'run_records', 1, 'csv'));
    assert.equal(csv.trim().split('\n').length, 5); // a header and four rows
    assert.equal(runs.files.find((f) => f.format === 'csv')?.checksum_sha256, sha256Hex(csv));
    assert.equal(
      runs.provenance.inputs.run_ids_sha256,
      sha256Hex(
        [
          'a_job/2026-03-01T01:00:00Z',
          'a_job/2026-03-01T02:00:00Z',
          'a_job/2026-03-01T03:00:00Z',
          'b_job/2026-03-01T05:00:00Z',
        ].join('\n'),
      ),
    );
    assert.deepEqual(runs.provenance.policy_snapshot, policy.snapshot);
    assert.equal(runs.provenance.code_version, '0.1.0-test');
    assert.equal(runs.generated_at, clock.now().toISOString());

    const kpis = await entryAt(evidence, 'job_kpis', 1);
    assert.equal(kpis.row_count, 2);
    assert.equal(kpis.source_hash, runs.source_hash);
    const rows = (await text(evidence, exportFileKey('local', 'job_kpis', 1, 'jsonl')))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(rows, [
      {
        jobId: 'a_job',
        window_start: DAY.start,
        window_end: DAY.end,
        runs: 3,
        succeeded: 2,
        failed: 1,
        skipped: 0,
        success_rate: 0.666667,
        mean_attempts: 2,
        p50_duration_ms: 2000,
        p95_duration_ms: 3000,
      },
      {
        jobId: 'b_job',
        window_start: DAY.start,
        window_end: DAY.end,
        runs: 1,
        succeeded: 1,
        failed: 0,
        skipped: 0,
        success_rate: 1,
        mean_attempts: 1,
        p50_duration_ms: 500,
        p95_duration_ms: 500,
      },
    ]);
    assert.equal(
      await text(evidence, exportFileKey('local', 'job_kpis', 1, 'csv')),
      'jobId,window_start,window_end,runs,succeeded,failed,skipped,success_rate,mean_attempts,p50_duration_ms,p95_duration_ms\n' +
        'a_job,2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,3,2,1,0,0.666667,2,2000,3000\n' +
        'b_job,2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1,1,0,0,1,1,500,500\n',
    );
    // The entry is stored canonically, as the contract describes it.
    assert.equal(
      await text(evidence, exportManifestKey('local', 'job_kpis', 1)),
      `${canonicalJson(kpis)}\n`,
    );
  });
});

const MONITOR = 'endpoint_latency_monitor';

/**
 * A run of the latency monitor over the 15 minutes from `windowStart`: claimed, sealed ok and (unless
 * `finalized: false`) finalized, with the roll-up rows it wrote in its `latency_rollups` table.
 */
async function monitorRun(
  state: MemoryStateStore,
  evidence: EvidenceStore,
  windowStart: string,
  rollups: Record<string, unknown>[],
  options: { endedAt?: string; finalized?: boolean } = {},
) {
  const jobRunId = `${MONITOR}/${windowStart}`;
  const window = {
    start: windowStart,
    end: new Date(Date.parse(windowStart) + 900_000).toISOString().replace('.000Z', 'Z'),
  };
  const prefix = evidencePrefix('local', MONITOR, new Date(windowStart));
  const run = {
    ...exportRun(),
    jobId: MONITOR,
    jobRunId,
    scheduledTime: windowStart,
    window,
    evidencePrefix: prefix,
    executionId: `x-${jobRunId}`,
  };
  await state.claimRun(
    run,
    { type: 'job.run.start', eventId: `${jobRunId}#start` } as AuditEvent,
    '2026-03-02T23:00:00Z',
  );
  const endedAt = options.endedAt ?? new Date(Date.parse(window.end) + 5_000).toISOString();
  await state.sealOutcome(jobRunId, {
    status: 'ok',
    quality: 'OK',
    startedAt: window.end,
    endedAt,
    attempts: 1,
    diagnostics: [],
    error: null,
    integrityReport: null,
    events: [],
    effect: { kind: 'success' },
  });
  const body = rollups.map((r) => `${canonicalJson({ ...r, jobRunId })}\n`).join('');
  if (options.finalized === false) return jobRunId;
  await evidence.putObject(
    `${prefix}${outputName(windowStart, 'latency_rollups.jsonl', 'latency_rollups')}`,
    new TextEncoder().encode(body),
    'application/x-ndjson',
  );
  await state.completeRun(
    {
      jobRunId,
      jobId: MONITOR,
      status: 'ok',
      quality: 'OK',
      evidencePrefix: prefix,
      manifestKey: `${prefix}manifest/x.json`,
      error: null,
    },
    endedAt,
    { kind: 'success' },
  );
  return jobRunId;
}

const rollup = (
  hour: string,
  endpoint: string,
  p95: number | null,
  extra: Partial<{ count: number; failures: number }> = {},
) => ({
  hour,
  endpoint,
  count: extra.count ?? 4,
  failures: extra.failures ?? 0,
  p50_ms: p95 === null ? null : Math.round(p95 / 2),
  p95_ms: p95,
  threshold_ms: 500,
  breach: p95 === null || p95 > 500,
});

/** The monitor's roll-ups around DAY: four rows to export, five that must not be. */
async function rollupFixture(state: MemoryStateStore, evidence: EvidenceStore) {
  const runs = {
    h01: await monitorRun(state, evidence, '2026-03-01T01:45:00Z', [
      rollup('2026-03-01T01:00:00.000Z', 'web', 120),
      rollup('2026-03-01T01:00:00.000Z', 'api', 640),
    ]),
    h02: await monitorRun(state, evidence, '2026-03-01T02:45:00Z', [
      rollup('2026-03-01T02:00:00.000Z', 'api', null, { failures: 3 }),
    ]),
    // A later run that rolled up 01:00 api again (as it would after a lost state): the first
    // stands.
    again: await monitorRun(state, evidence, '2026-03-01T03:45:00Z', [
      rollup('2026-03-01T01:00:00.000Z', 'api', 999),
    ]),
    // The day's last hour, rolled up late by a run of the next UTC day (filed under its dt).
    h23: await monitorRun(state, evidence, '2026-03-02T00:00:00Z', [
      rollup('2026-03-01T23:00:00.000Z', 'api', 90, { count: 1 }),
      rollup('2026-03-02T00:00:00.000Z', 'api', 90),
    ]),
  };
  // The window's first hour by a run before it; a run that ended after the export was claimed.
  await monitorRun(state, evidence, '2026-02-28T23:45:00Z', [
    rollup('2026-02-28T23:00:00.000Z', 'api', 10),
  ]);
  await monitorRun(
    state,
    evidence,
    '2026-03-01T04:45:00Z',
    [rollup('2026-03-01T04:00:00.000Z', 'api', 10)],
    { endedAt: '2026-03-02T00:30:00Z' },
  );
  return runs;
}

describe('the latency_rollups dataset', () => {
  test("rows are the monitor's roll-ups of the window, one per endpoint and hour, with their own provenance", async () => {
    // Prepare
    const state = await fixture();
    const evidence = new MemoryEvidenceStore();
    const runs = await rollupFixture(state, evidence);
    // Act
    const result = await datasetExportJob(noCopy).run(contextOf(state, evidence, exportRun()));
    // Assess
    assert.equal(result.quality, 'OK');
    const entry = await entryAt(evidence, 'latency_rollups', 1);
    const jsonl = await text(evidence, exportFileKey('local', 'latency_rollups', 1, 'jsonl'));
    assert.equal(
      jsonl,
      [
        `{"hour":"2026-03-01T01:00:00.000Z","endpoint":"api","count":4,"failures":0,"p50_ms":320,"p95_ms":640,"threshold_ms":500,"breach":true,"jobRunId":"${runs.h01}"}`,
        `{"hour":"2026-03-01T01:00:00.000Z","endpoint":"web","count":4,"failures":0,"p50_ms":60,"p95_ms":120,"threshold_ms":500,"breach":false,"jobRunId":"${runs.h01}"}`,
        `{"hour":"2026-03-01T02:00:00.000Z","endpoint":"api","count":4,"failures":3,"p50_ms":null,"p95_ms":null,"threshold_ms":500,"breach":true,"jobRunId":"${runs.h02}"}`,
        `{"hour":"2026-03-01T23:00:00.000Z","endpoint":"api","count":1,"failures":0,"p50_ms":45,"p95_ms":90,"threshold_ms":500,"breach":false,"jobRunId":"${runs.h23}"}`,
        '',
      ].join('\n'),
    );
    assert.equal(
      await text(evidence, exportFileKey('local', 'latency_rollups', 1, 'csv')),
      'hour,endpoint,count,failures,p50_ms,p95_ms,threshold_ms,breach,jobRunId\n' +
        `2026-03-01T01:00:00.000Z,api,4,0,320,640,500,true,${runs.h01}\n` +
        `2026-03-01T01:00:00.000Z,web,4,0,60,120,500,false,${runs.h01}\n` +
        `2026-03-01T02:00:00.000Z,api,4,3,,,500,true,${runs.h02}\n` +
        `2026-03-01T23:00:00.000Z,api,1,0,45,90,500,false,${runs.h23}\n`,
    );
    assert.equal(entry.row_count, 4);
    assert.equal(entry.checksum_sha256, sha256Hex(jsonl));
    const rows = jsonl
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(entry.source_hash, sha256Hex(rows.map((r) => canonicalJson(r)).join('\n')));
    assert.notEqual(entry.source_hash, (await entryAt(evidence, 'run_records', 1)).source_hash);
    assert.equal(entry.provenance.inputs.run_count, 3);
    assert.equal(
      entry.provenance.inputs.run_ids_sha256,
      sha256Hex([runs.h01, runs.h02, runs.h23].sort().join('\n')),
    );
    assert.deepEqual(entry.provenance.inputs.window, DAY);
    assert.equal(entry.provenance.job_run_id, exportRun().jobRunId);
    assert.deepEqual(
      JSON.parse(result.outputs[0]!.body).exports.map((e: { dataset: string }) => e.dataset),
      ['job_kpis', 'latency_rollups', 'run_records'],
    );
  });

  test('each dataset has its own gap-free sequence', async () => {
    // Prepare
    const state = await fixture();
    const evidence = new MemoryEvidenceStore();
    await rollupFixture(state, evidence);
    const nextDay = exportRun(
      { start: DAY.end, end: '2026-03-03T00:00:00Z' },
      '2026-03-03T00:20:01Z',
    );
    // Act: only latency_rollups for the first day, then all three for the next.
    await datasetExportJob(noCopy).run(
      contextOf(state, evidence, exportRun(), { datasets: ['latency_rollups'] }),
    );
    await datasetExportJob(noCopy).run(contextOf(state, evidence, nextDay));
    // Assess
    const windowOf = async (dataset: ExportDataset, n: number) =>
      (await entryAt(evidence, dataset, n)).provenance.inputs.window.start;
    assert.deepEqual(
      [await windowOf('latency_rollups', 1), await windowOf('latency_rollups', 2)],
      [DAY.start, DAY.end],
    );
    assert.equal(await windowOf('run_records', 1), DAY.end);
    assert.equal(await windowOf('job_kpis', 1), DAY.end);
    assert.equal(await evidence.getObject(exportManifestKey('local', 'run_records', 2)), undefined);
    assert.deepEqual(
      [
        await state.getExportSequence('run_records'),
        await state.getExportSequence('job_kpis'),
        await state.getExportSequence('latency_rollups'),
      ],
      [1, 1, 2],
    );
    // The next day's one roll-up (its 00:00 hour, rolled up by the same late run).
    assert.equal((await entryAt(evidence, 'latency_rollups', 2)).row_count, 1);
    const report = await verifyEvidence({ policy, evidence, state, clock }, {});
    assert.deepEqual(exportProblems(report), []);
    assert.equal(report.exports, 4);
  });

  test('a monitor run sealed but not yet written fails the attempt retryably, before any number is taken', async () => {
    // Prepare
    const state = await fixture();
    const evidence = new MemoryEvidenceStore();
    const pending = await monitorRun(
      state,
      evidence,
      '2026-03-01T05:45:00Z',
      [rollup('2026-03-01T05:00:00.000Z', 'api', 10)],
      { finalized: false },
    );
    // Act
    const failed = await datasetExportJob(noCopy)
      .run(contextOf(state, evidence, exportRun()))
      .then(
        () => undefined,
        (error: Error & { retryable?: boolean }) => error,
      );
    // Assess
    assert.ok(failed, 'the attempt failed');
    assert.equal(failed.retryable, true);
    assert.match(failed.message, new RegExp(`not written yet \\(${pending}\\)`));
    for (const dataset of ['run_records', 'job_kpis', 'latency_rollups'] as const)
      assert.equal(await state.getExportSequence(dataset), 0, dataset);
    // Control: the same export without latency_rollups does not wait for the monitor.
    const without = await datasetExportJob(noCopy).run(
      contextOf(state, evidence, exportRun(), { datasets: ['run_records'] }),
    );
    assert.equal(without.quality, 'OK');
  });
});

describe('export sequences', () => {
  test('4 concurrent exports of 4 windows get 1..4 per dataset; verify finds no gap', async () => {
    // Prepare
    const state = await fixture();
    const evidence = new MemoryEvidenceStore();
    const days = [1, 2, 3, 4].map((d) => ({
      start: `2026-03-0${d}T00:00:00Z`,
      end: `2026-03-0${d + 1}T00:00:00Z`,
    }));
    // Act
    await Promise.all(
      days.map((w) =>
        datasetExportJob(noCopy).run(
          contextOf(state, evidence, exportRun(w, `2026-03-0${Number(w.end[9])}T00:20:01Z`)),
        ),
      ),
    );
    const report = await verifyEvidence({ policy, evidence, state, clock }, {});
    // Assess
    for (const dataset of ['run_records', 'job_kpis', 'latency_rollups'] as const) {
      const entries = await Promise.all([1, 2, 3, 4].map((n) => entryAt(evidence, dataset, n)));
      assert.deepEqual(
        entries.map((e) => e.provenance.inputs.window.start).sort(),
        days.map((d) => d.start),
      );
    }
    assert.deepEqual(
      report.problems.filter((p) => p.key.includes('/exports/')),
      [],
    );
    assert.equal(report.exports, 12);
  });

  test('a run that dies after allocating is re-run with its number: no gap, same bytes', async () => {
    // Prepare: the first attempt dies writing the run_records entry (after its files).
    const state = await fixture();
    const evidence = new MemoryEvidenceStore();
    let dying = true;
    const crashing: EvidenceStore = {
      getObject: (k) => evidence.getObject(k),
      list: (p) => evidence.list(p),
      putObject: async (k, b, c) => {
        if (dying && k === exportManifestKey('local', 'run_records', 1))
          throw new Error('process died');
        return evidence.putObject(k, b, c);
      },
    };
    await assert.rejects(
      datasetExportJob(noCopy).run(contextOf(state, crashing, exportRun())),
      /process died/,
    );
    // Act: its takeover (the same jobRunId), then the next day's run.
    dying = false;
    const retried = await datasetExportJob(noCopy).run(contextOf(state, evidence, exportRun()));
    await datasetExportJob(noCopy).run(
      contextOf(
        state,
        evidence,
        exportRun({ start: DAY.end, end: '2026-03-03T00:00:00Z' }, '2026-03-03T00:20:01Z'),
      ),
    );
    // Assess
    assert.equal(retried.quality, 'OK');
    assert.equal(
      (await entryAt(evidence, 'run_records', 1)).provenance.job_run_id,
      exportRun().jobRunId,
    );
    assert.equal(
      (await entryAt(evidence, 'run_records', 2)).provenance.inputs.window.start,
      DAY.end,
    );
    assert.equal((await entryAt(evidence, 'job_kpis', 2)).provenance.inputs.window.start, DAY.end);
    const report = await verifyEvidence({ policy, evidence, state, clock }, {});
    assert.deepEqual(exportProblems(report), []);
  });
});

describe('verify and exports', () => {
  async function threeExports() {
    const state = await fixture();
    const evidence = new MemoryEvidenceStore();
    for (const d of [1, 2, 3])
      await datasetExportJob(noCopy).run(
        contextOf(
          state,
          evidence,
          exportRun(
            { start: `2026-03-0${d}T00:00:00Z`, end: `2026-03-0${d + 1}T00:00:00Z` },
            `2026-03-0${d + 1}T00:20:01Z`,
          ),
        ),
      );
    return { state, evidence };
  }

  test('a deleted manifest entry is a sequence_gap', async () => {
    // Prepare
    const { state, evidence } = await threeExports();
    const deleted = exportManifestKey('local', 'run_records', 2);
    const tampered: EvidenceStore = {
      ...evidence,
      getObject: (k) => (k === deleted ? Promise.resolve(undefined) : evidence.getObject(k)),
      list: async (p) => (await evidence.list(p)).filter((k) => k !== deleted),
      putObject: (k, b, c) => evidence.putObject(k, b, c),
    };
    // Act
    const report = await verifyEvidence({ policy, evidence: tampered, state, clock }, {});
    // Assess
    assert.equal(report.ok, false);
    assert.deepEqual(
      exportProblems(report).map((p) => [p.kind, p.key]),
      [['sequence_gap', deleted]],
    );
  });

  test('the newest entry deleted is a sequence_gap too: the state table counted it', async () => {
    // Prepare
    const { state, evidence } = await threeExports();
    const deleted = exportManifestKey('local', 'job_kpis', 3);
    const tampered: EvidenceStore = {
      getObject: (k) => (k === deleted ? Promise.resolve(undefined) : evidence.getObject(k)),
      list: async (p) => (await evidence.list(p)).filter((k) => k !== deleted),
      putObject: (k, b, c) => evidence.putObject(k, b, c),
    };
    // Act
    const report = await verifyEvidence({ policy, evidence: tampered, state, clock }, {});
    // Assess
    assert.deepEqual(
      exportProblems(report).map((p) => [p.kind, p.key]),
      [['sequence_gap', deleted]],
    );
  });

  test('control: a number allocated to an export still running is not a gap yet', async () => {
    // Prepare: a dataset_export run claimed (in its lease) that has its numbers and no entries.
    const { state, evidence } = await threeExports();
    const running = exportRun({ start: '2026-03-04T00:00:00Z', end: '2026-03-05T00:00:00Z' });
    await state.claimRun(running, { type: 'job.run.start' } as AuditEvent, '2026-03-02T01:00:00Z');
    await state.allocateExportSequence('run_records', running.jobRunId, clock.now().toISOString());
    // Act
    const during = await verifyEvidence({ policy, evidence, state, clock }, {});
    const after = await verifyEvidence(
      { policy, evidence, state, clock: { now: () => new Date('2026-03-02T02:00:00Z') } },
      {},
    );
    // Assess: in flight nothing is missing; once its lease is over, #4 is.
    assert.deepEqual(exportProblems(during), []);
    assert.deepEqual(
      exportProblems(after).map((p) => [p.kind, p.key]),
      [['sequence_gap', exportManifestKey('local', 'run_records', 4)]],
    );
  });

  test('a changed export file is a checksum_mismatch', async () => {
    // Prepare
    const { state, evidence } = await threeExports();
    const changed = exportFileKey('local', 'job_kpis', 3, 'csv');
    const tampered: EvidenceStore = {
      getObject: async (k) =>
        k === changed ? new TextEncoder().encode('jobId\nforged\n') : evidence.getObject(k),
      list: (p) => evidence.list(p),
      putObject: (k, b, c) => evidence.putObject(k, b, c),
    };
    // Act
    const report = await verifyEvidence({ policy, evidence: tampered, state, clock }, {});
    // Assess
    assert.deepEqual(
      exportProblems(report).map((p) => [p.kind, p.key]),
      [['checksum_mismatch', changed]],
    );
  });

  test('control: untouched exports verify', async () => {
    const { state, evidence } = await threeExports();
    const report = await verifyEvidence({ policy, evidence, state, clock }, {});
    assert.deepEqual(exportProblems(report), []);
    assert.equal(report.exports, 9);
  });
});

describe('history', () => {
  test('exports older than historyWeeks are listed in an archive manifest once; an archived entry removed later is no gap', async () => {
    // Prepare: three daily exports at the start of March.
    const state = await fixture();
    const evidence = new MemoryEvidenceStore();
    const day = (d: string, e: string) =>
      exportRun(
        { start: `2026-03-${d}T00:00:00Z`, end: `2026-03-${e}T00:00:00Z` },
        `2026-03-${e}T00:20:01Z`,
      );
    const week = { historyWeeks: 1, datasets: ['run_records'] };
    for (const [d, e] of [
      ['01', '02'],
      ['02', '03'],
      ['03', '04'],
    ])
      await datasetExportJob(noCopy).run(contextOf(state, evidence, day(d!, e!), week));
    // Act: a week and more later, twice.
    const later = await datasetExportJob(noCopy).run(
      contextOf(state, evidence, day('20', '21'), week),
    );
    const next = await datasetExportJob(noCopy).run(
      contextOf(state, evidence, day('21', '22'), week),
    );
    // Assess
    const archive = JSON.parse(
      await text(evidence, 'stage=local/exports/dataset=run_records/archive/seq=00000004.json'),
    );
    assert.deepEqual(
      archive.entries.map((e: { sequence: number }) => e.sequence),
      [1, 2, 3],
    );
    assert.equal(archive.cutoff, '2026-03-14T00:00:00Z');
    assert.deepEqual(JSON.parse(later.outputs[0]!.body).exports[0].archived, [1, 2, 3]);
    assert.deepEqual(JSON.parse(next.outputs[0]!.body).exports[0].archived, []);
    // Nothing was deleted: every entry is still stored.
    for (const n of [1, 2, 3, 4, 5])
      assert.ok(await evidence.getObject(exportManifestKey('local', 'run_records', n)));
    // Once its lock has expired an archived entry may be removed: that is not a gap.
    const removed = exportManifestKey('local', 'run_records', 2);
    const expired: EvidenceStore = {
      getObject: (k) => (k === removed ? Promise.resolve(undefined) : evidence.getObject(k)),
      list: async (p) => (await evidence.list(p)).filter((k) => k !== removed),
      putObject: (k, b, c) => evidence.putObject(k, b, c),
    };
    const report = await verifyEvidence({ policy, evidence: expired, state, clock }, {});
    assert.deepEqual(exportProblems(report), []);
  });
});

describe('the optional copy', () => {
  const copyParams = { copy: { bucket: 'acme-reports', prefix: 'opsrail/exports/' } };

  test('each file is PUT under the user prefix with its SHA-256 and content type', async () => {
    // Prepare
    const s3 = mockClient(S3Client);
    s3.on(PutObjectCommand).resolves({});
    const state = await fixture();
    const evidence = new MemoryEvidenceStore();
    const copier = new S3ExportCopier(new S3Client({ region: 'us-east-1' }));
    // Act
    const result = await datasetExportJob(async () => copier).run(
      contextOf(state, evidence, exportRun(), { ...copyParams, datasets: ['run_records'] }),
    );
    // Assess
    const calls = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    const jsonl = await evidence.getObject(exportFileKey('local', 'run_records', 1, 'jsonl'));
    assert.deepEqual(
      calls.map(({ Body: _body, ...rest }) => rest),
      [
        {
          Bucket: 'acme-reports',
          Key: 'opsrail/exports/run_records/seq=00000001/run_records.jsonl',
          ContentType: 'application/x-ndjson',
          ChecksumAlgorithm: 'SHA256',
          ChecksumSHA256: Buffer.from(sha256Hex(jsonl as Uint8Array), 'hex').toString('base64'),
        },
        {
          Bucket: 'acme-reports',
          Key: 'opsrail/exports/run_records/seq=00000001/run_records.csv',
          ContentType: 'text/csv; charset=utf-8',
          ChecksumAlgorithm: 'SHA256',
          ChecksumSHA256: calls[1]!.ChecksumSHA256,
        },
      ],
    );
    assert.deepEqual(Buffer.from(calls[0]!.Body as Uint8Array), Buffer.from(jsonl as Uint8Array));
    assert.equal(result.quality, 'OK');
    assert.deepEqual((await entryAt(evidence, 'run_records', 1)).copy, {
      status: 'copied',
      bucket: 'acme-reports',
      keys: [
        'opsrail/exports/run_records/seq=00000001/run_records.jsonl',
        'opsrail/exports/run_records/seq=00000001/run_records.csv',
      ],
    });
    s3.restore();
  });

  test('a failing copy is upload_failed in the entry and the outputs, and the run DEGRADED', async () => {
    // Prepare
    const s3 = mockClient(S3Client);
    s3.on(PutObjectCommand).rejects(
      Object.assign(new Error('Access Denied'), {
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    const state = await fixture();
    const evidence = new MemoryEvidenceStore();
    const copier = new S3ExportCopier(new S3Client({ region: 'us-east-1' }));
    // Act
    const result = await datasetExportJob(async () => copier).run(
      contextOf(state, evidence, exportRun(), copyParams),
    );
    // Assess
    assert.equal(result.quality, 'DEGRADED');
    const entry = await entryAt(evidence, 'job_kpis', 1);
    assert.equal(entry.copy.status, 'upload_failed');
    assert.match(entry.copy.status === 'upload_failed' ? entry.copy.error : '', /Access Denied/);
    const outputs = JSON.parse(result.outputs[0]!.body);
    assert.deepEqual(
      outputs.exports.map((e: { copy: string }) => e.copy),
      ['upload_failed', 'upload_failed', 'upload_failed'],
    );
    assert.ok(result.diagnostics.some((d) => d.code === 'upload_failed' && d.level === 'error'));
    // The export itself stands: verify finds nothing wrong with it.
    const report = await verifyEvidence({ policy, evidence, state, clock }, {});
    assert.deepEqual(exportProblems(report), []);
    s3.restore();
  });
});
