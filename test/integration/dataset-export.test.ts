import assert from 'node:assert/strict';
import { logOnlyNotify } from '../../functions/core/notifications';
import { execFile } from 'node:child_process';
import { unavailableSecrets, unavailableWebhooks } from '../../functions/core/run/execute';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  type ExportDataset,
  ExportManifestEntry,
  type RunContext,
  stageResourceNames,
} from '../../contracts';
import { exportFileKey, exportManifestKey } from '../../functions/core/exports';
import { sha256Hex } from '../../functions/core/hashing';
import { findJob } from '../../functions/core/policy';
import type { EvidenceStore } from '../../functions/core/ports';
import { verifyEvidence } from '../../functions/core/verify';
import { datasetExportJob } from '../../functions/jobs/dataset-export';
import { LocalRuntime } from '../../local/runtime';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { policyFixture } from '../support/local';

const BIN = resolve(import.meta.dirname, '..', '..', 'cli', 'bin', 'opsrail.mjs');

/**
 * dataset_export end to end on one local stack (DynamoDB Local, the local S3 endpoint, the ASL
 * interpreter): four exports of four days at once, a restarted export on DynamoDB and S3, and
 * `opsrail verify --all` finding a deleted manifest entry (docs/exports.md).
 */
describe('dataset_export on the local stack', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  const home = mkdtempSync(join(tmpdir(), 'opsrail-export-'));
  // The 4 exports below run 4 windows at once, on purpose: the job allows overlap here.
  const policyDir = policyFixture({
    'catalog.json': (catalog) => ({
      ...catalog,
      jobs: catalog.jobs.map((j: { jobId: string }) =>
        j.jobId === 'dataset_export' ? { ...j, overlap: 'allow' } : j,
      ),
    }),
  });
  beforeAll(async () => {
    stack = await startLocalStack({ home, attach: false, policyDir });
    runtime = new LocalRuntime(stack.env);
  });
  afterAll(async () => stack.stop());

  const entryOf = async (dataset: ExportDataset, n: number) => {
    const bytes = await runtime.deps.evidence.getObject(exportManifestKey('local', dataset, n));
    assert.ok(bytes, `${dataset} #${n} is stored`);
    return ExportManifestEntry.parse(JSON.parse(new TextDecoder().decode(bytes)));
  };

  test('4 exports of 4 days at once: sequences 1..4 per dataset, rows and checksums as stored', async () => {
    // Prepare: two runs on 2026-10-01 (JST, the local stage's time zone) to export.
    for (const at of ['2026-10-01T01:00:00Z', '2026-10-01T02:00:00Z'])
      assert.equal(
        (
          await runtime.run({
            jobId: 'evidence_integrity_check',
            scheduledTime: at,
            trigger: 'manual',
          })
        ).kind,
        'completed',
      );
    // Act
    const outcomes = await Promise.all(
      ['02', '03', '04', '05'].map((d) =>
        runtime.run({
          jobId: 'dataset_export',
          scheduledTime: `2026-10-${d}T00:20:00Z`,
          // Disabled in every stage until its stage file enables it: run by hand.
          trigger: 'manual',
        }),
      ),
    );
    // Assess
    for (const o of outcomes) {
      assert.equal(o.kind, 'completed');
      assert.equal(o.kind === 'completed' && o.summary.quality, 'OK');
    }
    // Each dataset numbers its own exports (latency_rollups too: no monitor ran, 0 rows each).
    for (const dataset of ['run_records', 'job_kpis', 'latency_rollups'] as const) {
      const entries = await Promise.all([1, 2, 3, 4].map((n) => entryOf(dataset, n)));
      assert.deepEqual(entries.map((e) => e.provenance.inputs.window.start).sort(), [
        '2026-09-30T15:00:00Z',
        '2026-10-01T15:00:00Z',
        '2026-10-02T15:00:00Z',
        '2026-10-03T15:00:00Z',
      ]);
    }
    const first = (await Promise.all([1, 2, 3, 4].map((n) => entryOf('run_records', n)))).find(
      (e) => e.provenance.inputs.window.start === '2026-09-30T15:00:00Z',
    )!;
    assert.equal(first.row_count, 2);
    const jsonl = await runtime.deps.evidence.getObject(
      exportFileKey('local', 'run_records', first.sequence, 'jsonl'),
    );
    assert.equal(sha256Hex(jsonl as Uint8Array), first.checksum_sha256);
    console.log(`sample export manifest entry:\n${JSON.stringify(first, null, 2)}`);
  });

  test('an export that dies after allocating (DynamoDB Local, local S3) is re-run with its number', async () => {
    // Prepare: the first attempt dies writing its run_records entry, after its files.
    const deps = runtime.deps;
    const window = { start: '2026-10-04T15:00:00Z', end: '2026-10-05T15:00:00Z' };
    const run: RunContext = {
      stage: 'local',
      jobId: 'dataset_export',
      jobVersion: '1.0.0',
      jobRunId: `dataset_export/${window.start}`,
      scheduledTime: '2026-10-06T00:20:00Z',
      trigger: 'schedule',
      executionId: 'exec-restart',
      window,
      evidencePrefix: 'stage=local/dt=2026-10-04/job_id=dataset_export/',
      policySnapshot: deps.policy.snapshot,
      jobConfigSha256: 'b'.repeat(64),
      datasetRefs: [],
      outputDatasetId: 'opsrail.outputs.dataset_export',
      requestedBy: 'scheduler',
      params: {},
      approvalRequired: false,
      jobFunction: stageResourceNames('local').jobFunction('dataset_export'),
      claimedAt: new Date().toISOString(),
    };
    let dying = true;
    const crashing: EvidenceStore = {
      getObject: (k) => deps.evidence.getObject(k),
      list: (p) => deps.evidence.list(p),
      putObject: async (k, b, c) => {
        if (dying && k === exportManifestKey('local', 'run_records', 5))
          throw new Error('process died');
        return deps.evidence.putObject(k, b, c);
      },
    };
    const context = (evidence: EvidenceStore) => ({
      job: findJob(deps.policy, 'dataset_export')!,
      run,
      policy: deps.policy,
      clock: deps.clock,
      state: deps.state,
      evidence,
      codeVersion: deps.codeVersion,
      secrets: unavailableSecrets,
      webhooks: unavailableWebhooks,
      notify: logOnlyNotify(
        () => {},
        () => new Date(),
      ),
      log: () => {},
      control: { ...deps, evidence },
    });
    const job = datasetExportJob(() => Promise.reject(new Error('no copy')));
    await assert.rejects(job.run(context(crashing)), /process died/);
    // Act: the takeover of the same run.
    dying = false;
    const retried = await job.run(context(deps.evidence));
    // Assess
    assert.equal(retried.quality, 'OK');
    assert.equal((await entryOf('run_records', 5)).provenance.job_run_id, run.jobRunId);
    assert.equal((await entryOf('job_kpis', 5)).provenance.job_run_id, run.jobRunId);
    assert.equal((await entryOf('latency_rollups', 5)).provenance.job_run_id, run.jobRunId);
    const report = await verifyEvidence(deps, {});
    assert.deepEqual(
      report.problems.filter((p) => p.key.includes('/exports/')),
      [],
    );
  });

  test('opsrail verify --all reports a deleted manifest entry as sequence_gap (exit 1)', async () => {
    // Prepare: the local S3 endpoint has no Object Lock; in AWS this delete would be refused.
    const s3 = new S3Client({
      region: stack.env.AWS_REGION,
      endpoint: stack.env.AWS_ENDPOINT_URL_S3,
      forcePathStyle: true,
    });
    const deleted = exportManifestKey('local', 'run_records', 2);
    await s3.send(
      new DeleteObjectCommand({ Bucket: stack.env.EVIDENCE_BUCKET_NAME, Key: deleted }),
    );
    // Act
    const result = await new Promise<{ code: number; stdout: string }>((done) =>
      execFile(
        process.execPath,
        [BIN, 'verify', '--all'],
        {
          env: { ...process.env, OPSRAIL_HOME: home, OPSRAIL_POLICY_DIR: policyDir },
          timeout: 120_000,
        },
        (error, stdout) =>
          done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout }),
      ),
    );
    // Assess
    console.log(`opsrail verify --all (exit ${result.code}):\n${result.stdout}`);
    assert.equal(result.code, 1);
    const gaps = result.stdout.split('\n').filter((l) => l.startsWith('sequence_gap'));
    assert.deepEqual(gaps, [
      `sequence_gap       ${deleted}: export run_records #2 is missing between #1 and #5`,
    ]);
  });
});
