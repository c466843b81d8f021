import { deferred } from './deferred';
import * as z from 'zod';
import { PolicySnapshotRef, Sha256Hex, Stage, UtcTimestamp, Window } from './common';

/** The datasets `dataset_export` writes (docs/exports.md#datasets). */
export const ExportDataset = deferred(() => z.enum(['run_records', 'job_kpis', 'latency_rollups']));
export type ExportDataset = z.infer<typeof ExportDataset>;

/** Parameters of the built-in `dataset_export` job, checked when the policy loads. */
export const DatasetExportParams = deferred(() =>
  z.strictObject({
    datasets: z
      .array(ExportDataset)
      .min(1)
      .default(['run_records', 'job_kpis', 'latency_rollups'])
      .refine((d) => new Set(d).size === d.length, { message: 'names a dataset twice' }),
    /** The job whose hourly roll-ups `latency_rollups` exports (docs/exports.md#datasets). */
    latencyJobId: z.string().min(1).default('endpoint_latency_monitor'),
    /** How long an export stays in the export index before it is archived (docs/exports.md#history). */
    historyWeeks: z.number().int().min(1).max(520).default(8),
    /**
     * A copy of every exported file to a bucket of the user's (docs/exports.md#copy): its function's
     * role may put objects under `<bucket>/<prefix>` and nowhere else.
     */
    copy: z
      .strictObject({
        bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name'),
        prefix: z
          .string()
          .regex(/^([A-Za-z0-9!_.*'()-]+\/)*$/, 'must be empty or end with /')
          .default(''),
      })
      .optional(),
  }),
);
export type DatasetExportParams = z.infer<typeof DatasetExportParams>;

export const ExportFile = deferred(() =>
  z.strictObject({
    format: z.enum(['jsonl', 'csv']),
    /** The object's key in the evidence bucket. */
    key: z.string().min(1),
    /** SHA-256 of the file's bytes, as stored. */
    checksum_sha256: Sha256Hex,
    size: z.number().int().min(0),
  }),
);

/** What became of the optional copy to the user's bucket. */
export const ExportCopy = deferred(() =>
  z.discriminatedUnion('status', [
    z.strictObject({ status: z.literal('not_requested') }),
    z.strictObject({
      status: z.literal('copied'),
      bucket: z.string().min(1),
      keys: z.array(z.string().min(1)),
    }),
    z.strictObject({
      status: z.literal('upload_failed'),
      bucket: z.string().min(1),
      keys: z.array(z.string().min(1)),
      error: z.string().min(1),
    }),
  ]),
);
export type ExportCopy = z.infer<typeof ExportCopy>;

/**
 * One export of one dataset: the manifest entry written once under
 * `stage=<stage>/exports/dataset=<dataset>/manifest/seq=<sequence>.json` (docs/exports.md).
 * `sequence` is 1, 2, 3 … per dataset, never reused: a missing number is a `sequence_gap`.
 */
export const ExportManifestEntry = deferred(() =>
  z.strictObject({
    schemaVersion: z.literal(1),
    stage: Stage,
    dataset: ExportDataset,
    sequence: z.number().int().min(1),
    generated_at: UtcTimestamp,
    /** SHA-256 of the JSON Lines file's bytes (the CSV's is in `files`). */
    checksum_sha256: Sha256Hex,
    row_count: z.number().int().min(0),
    /**
     * SHA-256 of the input rows, one canonical JSON line each: the run records read (run_records,
     * job_kpis) or the roll-ups read (latency_rollups).
     */
    source_hash: Sha256Hex,
    files: z.array(ExportFile).min(1),
    provenance: z.strictObject({
      /** The package version that wrote it (as in replay_pointers). */
      code_version: z.string().min(1),
      policy_snapshot: PolicySnapshotRef,
      /** The run that exported it. */
      job_run_id: z.string().min(1),
      inputs: z.strictObject({
        window: Window,
        /** The runs read: exported (run_records, job_kpis) or that wrote the roll-ups read. */
        run_count: z.number().int().min(0),
        /** SHA-256 of the input runs' jobRunIds, one a line, sorted. */
        run_ids_sha256: Sha256Hex,
      }),
    }),
    copy: ExportCopy,
  }),
);
export type ExportManifestEntry = z.infer<typeof ExportManifestEntry>;

/**
 * What aged out of a dataset's export index (older than `historyWeeks`), recorded before it leaves:
 * under `…/dataset=<dataset>/archive/seq=<sequence of the run that archived it>.json`. Nothing is
 * deleted by it: objects under Object Lock stay until their lock expires (docs/exports.md#history).
 */
export const ExportArchiveManifest = deferred(() =>
  z.strictObject({
    schemaVersion: z.literal(1),
    stage: Stage,
    dataset: ExportDataset,
    /** The sequence of the export whose run archived these. */
    archived_by: z.number().int().min(1),
    archived_at: UtcTimestamp,
    /** Exports whose window ended before this instant age out. */
    cutoff: UtcTimestamp,
    entries: z.array(
      z.strictObject({
        sequence: z.number().int().min(1),
        key: z.string().min(1),
        /** SHA-256 of the manifest entry's bytes. */
        sha256: Sha256Hex,
        window: Window,
      }),
    ),
  }),
);
export type ExportArchiveManifest = z.infer<typeof ExportArchiveManifest>;
