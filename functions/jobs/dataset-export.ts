import {
  DatasetExportParams,
  type ExportArchiveManifest,
  type ExportCopy,
  type ExportDataset,
  ExportManifestEntry,
  type Quality,
} from '../../contracts';
import { DependencyError } from '../core/errors';
import { evidenceTableRows } from '../core/evidence-tables';
import { canonicalJson, sha256Hex } from '../core/hashing';
import {
  datasetPrefix,
  exportArchiveKey,
  exportCopyKey,
  exportFileKey,
  exportManifestKey,
  JOB_KPI_COLUMNS,
  jobKpiRows,
  LATENCY_ROLLUP_COLUMNS,
  type LatencyRollupRow,
  latencyRollupRows,
  parseExportManifestKey,
  RUN_RECORD_COLUMNS,
  runRecordRows,
  toCsv,
  toJsonLines,
} from '../core/exports';
import type { RunItem } from '../core/ports';
import type { JobContext, JobImplementation, JobResult } from './types';

/**
 * Puts one exported file into the user's bucket (the optional copy, docs/exports.md#copy). Throws
 * when the copy failed; the export itself stands, its entry says `upload_failed`.
 */
export interface ExportCopier {
  put(object: {
    bucket: string;
    key: string;
    body: Uint8Array;
    contentType: string;
    /** SHA-256 of the body, hex: the copy is checked by the bucket against it. */
    sha256: string;
  }): Promise<void>;
}

const CONTENT_TYPES = { jsonl: 'application/x-ndjson', csv: 'text/csv; charset=utf-8' } as const;
const WEEK_MS = 7 * 86_400_000;
/**
 * How long after an hour the monitor may roll it up: it rolls up at most the last 6 completed hours
 * (docs/latency-slo.md), filed under its own window's day; an hour is read back from this far on.
 */
const ROLLUP_LAG_MS = 7 * 3_600_000;
const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

interface DatasetBody {
  jsonl: string;
  csv: string;
  rowCount: number;
  /** SHA-256 of the input rows, one canonical JSON line each. */
  sourceHash: string;
  /** The input runs' jobRunIds, sorted. */
  runIds: string[];
}

interface DatasetExport {
  dataset: ExportDataset;
  sequence: number;
  key: string;
  entry: ExportManifestEntry;
  archived: number[];
}

/**
 * The dataset_export job (docs/exports.md): each dataset of the run's window, as JSON Lines and CSV
 * under the stage's export prefix, and one manifest entry per dataset under a key made of its
 * dataset and sequence. Everything that can fail for good (reading and shaping the rows) happens
 * before a sequence number is allocated; the number is allocated to this run (its jobRunId), so a
 * retry or a takeover of the run gets it back and writes the same bytes under the same keys.
 */
export function datasetExportJob(copier: () => Promise<ExportCopier>): JobImplementation {
  return {
    jobId: 'dataset_export',
    params: DatasetExportParams,
    async run(context: JobContext): Promise<JobResult> {
      const params = DatasetExportParams.parse(context.job.params);
      const { run, policy } = context;
      const state = context.control.state;
      const listed = await state.listRuns({ since: run.window.start });
      const rows = runRecordRows(listed, run.window, run.claimedAt);
      const runInputs = {
        sourceHash: sha256Hex(rows.map((r) => canonicalJson(r)).join('\n')),
        runIds: rows.map((r) => r.jobRunId).sort(),
      };
      const rollups = params.datasets.includes('latency_rollups')
        ? await latencyInputs(context, params.latencyJobId, listed)
        : [];
      const bodies: Record<ExportDataset, DatasetBody> = {
        run_records: {
          jsonl: toJsonLines(rows, RUN_RECORD_COLUMNS),
          csv: toCsv(rows, RUN_RECORD_COLUMNS),
          rowCount: rows.length,
          ...runInputs,
        },
        job_kpis: (() => {
          const kpis = jobKpiRows(rows, run.window);
          return {
            jsonl: toJsonLines(kpis, JOB_KPI_COLUMNS),
            csv: toCsv(kpis, JOB_KPI_COLUMNS),
            rowCount: kpis.length,
            ...runInputs,
          };
        })(),
        latency_rollups: {
          jsonl: toJsonLines(rollups, LATENCY_ROLLUP_COLUMNS),
          csv: toCsv(rollups, LATENCY_ROLLUP_COLUMNS),
          rowCount: rollups.length,
          sourceHash: sha256Hex(rollups.map((r) => canonicalJson(r)).join('\n')),
          runIds: [...new Set(rollups.map((r) => r.jobRunId))].sort(),
        },
      };

      const exports: DatasetExport[] = [];
      for (const dataset of [...params.datasets].sort()) {
        // From here on the number is this run's: every attempt reaches the same entry key.
        const { sequence, allocatedAt } = await state.allocateExportSequence(
          dataset,
          run.jobRunId,
          context.clock.now().toISOString(),
        );
        const key = exportManifestKey(policy.stage, dataset, sequence);
        const stored = await context.evidence.getObject(key);
        let entry: ExportManifestEntry;
        if (stored) {
          // An earlier attempt of this run finished this dataset: its entry stands (copy included).
          entry = ExportManifestEntry.parse(JSON.parse(decode(stored)));
        } else {
          const body = bodies[dataset];
          const files: ExportManifestEntry['files'] = [];
          for (const format of ['jsonl', 'csv'] as const) {
            const bytes = encode(body[format]);
            const fileKey = exportFileKey(policy.stage, dataset, sequence, format);
            await context.control.evidence.putObject(fileKey, bytes, CONTENT_TYPES[format]);
            files.push({
              format,
              key: fileKey,
              checksum_sha256: sha256Hex(bytes),
              size: bytes.byteLength,
            });
          }
          entry = {
            schemaVersion: 1,
            stage: policy.stage,
            dataset,
            sequence,
            generated_at: allocatedAt,
            checksum_sha256: files[0]!.checksum_sha256,
            row_count: body.rowCount,
            source_hash: body.sourceHash,
            files,
            provenance: {
              code_version: context.codeVersion ?? 'unknown',
              policy_snapshot: run.policySnapshot,
              job_run_id: run.jobRunId,
              inputs: {
                window: run.window,
                run_count: body.runIds.length,
                run_ids_sha256: sha256Hex(body.runIds.join('\n')),
              },
            },
            copy: await copyOut(context, params, dataset, sequence, body),
          };
          await context.control.evidence.putObject(
            key,
            encode(`${canonicalJson(ExportManifestEntry.parse(entry))}\n`),
            'application/json',
          );
        }
        exports.push({
          dataset,
          sequence,
          key,
          entry,
          archived: await archiveAged(context, dataset, sequence, params.historyWeeks),
        });
      }

      const failedCopies = exports.filter((e) => e.entry.copy.status === 'upload_failed');
      const quality: Quality = failedCopies.length > 0 ? 'DEGRADED' : 'OK';
      const summary = exports.map((e) => ({
        dataset: e.dataset,
        sequence: e.sequence,
        manifestKey: e.key,
        row_count: e.entry.row_count,
        checksum_sha256: e.entry.checksum_sha256,
        copy: e.entry.copy.status,
        archived: e.archived,
      }));
      return {
        quality,
        outputs: [
          {
            name: 'exports.json',
            contentType: 'application/json',
            body: `${canonicalJson({ window: run.window, exports: summary })}\n`,
          },
        ],
        integrityReport: null,
        diagnostics: [
          ...exports.map((e) => ({
            level: 'info' as const,
            code: 'exported',
            message: `${e.dataset} #${e.sequence}: ${e.entry.row_count} row(s)`,
          })),
          ...failedCopies.map((e) => ({
            level: 'error' as const,
            code: 'upload_failed',
            message: `${e.dataset} #${e.sequence}: ${e.entry.copy.status === 'upload_failed' ? e.entry.copy.error : ''}`,
          })),
        ],
      };
    },
  };

  async function copyOut(
    context: JobContext,
    params: DatasetExportParams,
    dataset: ExportDataset,
    sequence: number,
    body: { jsonl: string; csv: string },
  ): Promise<ExportCopy> {
    if (!params.copy) return { status: 'not_requested' };
    const { bucket, prefix } = params.copy;
    const keys = (['jsonl', 'csv'] as const).map((f) =>
      exportCopyKey(prefix, dataset, sequence, f),
    );
    try {
      const target = await copier();
      for (const [i, format] of (['jsonl', 'csv'] as const).entries()) {
        const bytes = encode(body[format]);
        await target.put({
          bucket,
          key: keys[i]!,
          body: bytes,
          contentType: CONTENT_TYPES[format],
          sha256: sha256Hex(bytes),
        });
      }
      return { status: 'copied', bucket, keys };
    } catch (error) {
      const message = `${(error as Error).name ?? 'Error'}: ${(error as Error).message ?? String(error)}`;
      context.log('export copy failed', { dataset, sequence, bucket, error: message });
      return {
        status: 'upload_failed',
        bucket,
        keys,
        error: context.control.redactor.text(message).slice(0, 500),
      };
    }
  }
}

/**
 * The latency_rollups rows of the export's window (docs/exports.md#inputs): read from the monitor's
 * `latency_rollups` evidence table, only rows written by its runs sealed no later than the export
 * was claimed. Such a run that succeeded but whose bundle is not written yet (its Finalize still
 * going) would be read half: the attempt fails retryably, before a number is allocated, so every
 * attempt that gets on reads the same rows.
 */
async function latencyInputs(
  context: JobContext,
  latencyJobId: string,
  runs: readonly RunItem[],
): Promise<LatencyRollupRow[]> {
  const { window, claimedAt, stage } = context.run;
  const asOf = Date.parse(claimedAt);
  const until = Date.parse(window.end) + ROLLUP_LAG_MS;
  const sealed = runs.filter(
    (r) =>
      r.jobId === latencyJobId &&
      r.sealed &&
      Date.parse(r.sealed.endedAt) <= asOf &&
      Date.parse(r.window.start) < until,
  );
  const unwritten = sealed.filter(
    (r) => r.phase !== 'finalized' && ['ok', 'dry_run'].includes(r.sealed!.status),
  );
  if (unwritten.length > 0)
    throw new DependencyError(
      `latency_rollups: ${unwritten.length} run(s) of ${latencyJobId} are sealed but their evidence is not written yet (${unwritten[0]!.jobRunId}); a retry reads them once it is`,
    );
  const stored = await evidenceTableRows<LatencyRollupRow>(
    context.evidence,
    stage,
    latencyJobId,
    'latency_rollups',
    new Date(window.start),
    new Date(until),
  );
  return latencyRollupRows(stored, window, new Set(sealed.map((r) => r.jobRunId)));
}

/**
 * Exports older than the history (their window ended before the cutoff) leave the export index: they
 * are listed in an archive manifest first, written once under this export's sequence. Nothing is
 * deleted: what is under Object Lock stays until its lock expires (docs/exports.md#history).
 */
async function archiveAged(
  context: JobContext,
  dataset: ExportDataset,
  sequence: number,
  historyWeeks: number,
): Promise<number[]> {
  const { stage } = context.policy;
  const key = exportArchiveKey(stage, dataset, sequence);
  const existing = await context.evidence.getObject(key);
  if (existing)
    return (JSON.parse(decode(existing)) as ExportArchiveManifest).entries.map((e) => e.sequence);
  const keys = await context.evidence.list(datasetPrefix(stage, dataset));
  const archived = new Set<number>();
  for (const k of keys.filter((k) => k.includes('/archive/'))) {
    const bytes = await context.evidence.getObject(k);
    if (bytes)
      for (const e of (JSON.parse(decode(bytes)) as ExportArchiveManifest).entries)
        archived.add(e.sequence);
  }
  const cutoff = new Date(Date.parse(context.run.window.end) - historyWeeks * WEEK_MS);
  const aged: ExportArchiveManifest['entries'] = [];
  for (const k of keys) {
    const parsed = parseExportManifestKey(k);
    if (!parsed || parsed.sequence >= sequence || archived.has(parsed.sequence)) continue;
    const bytes = await context.evidence.getObject(k);
    const entry = bytes && ExportManifestEntry.safeParse(JSON.parse(decode(bytes)));
    if (!entry?.success) continue; // verify reports it
    const window = entry.data.provenance.inputs.window;
    if (Date.parse(window.end) < cutoff.getTime())
      aged.push({
        sequence: parsed.sequence,
        key: k,
        sha256: sha256Hex(bytes as Uint8Array),
        window,
      });
  }
  if (aged.length === 0) return [];
  const manifest: ExportArchiveManifest = {
    schemaVersion: 1,
    stage,
    dataset,
    archived_by: sequence,
    archived_at: context.clock.now().toISOString(),
    cutoff: cutoff.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    entries: aged,
  };
  await context.control.evidence.putObject(
    key,
    encode(`${canonicalJson(manifest)}\n`),
    'application/json',
  );
  return aged.map((e) => e.sequence);
}
