import { deferred } from './deferred';
import * as z from 'zod';
import {
  JobId,
  PolicySnapshotRef,
  Quality,
  SemVer,
  Sha256Hex,
  Stage,
  UtcTimestamp,
  Window,
} from './common';
import { ErrorKind } from './audit-event';

/** One record per run, as the run log keeps it (docs/evidence.md#what-a-runs-bundle-holds). */
export const RunStatus = deferred(() => z.enum(['ok', 'error', 'skipped', 'dry_run']));
export type RunStatus = z.infer<typeof RunStatus>;

export const Diagnostic = deferred(() =>
  z.strictObject({
    level: z.enum(['info', 'warning', 'error']),
    code: z.string().min(1),
    message: z.string(),
  }),
);
export type Diagnostic = z.infer<typeof Diagnostic>;

export const RunRecord = deferred(() =>
  z.strictObject({
    schemaVersion: z.literal(1),
    stage: Stage,
    jobId: JobId,
    jobVersion: SemVer,
    jobRunId: z.string().min(1),
    scheduledTime: UtcTimestamp,
    window: Window,
    trigger: z.string().min(1),
    executionId: z.string().min(1),
    status: RunStatus,
    quality: Quality,
    startedAt: UtcTimestamp,
    endedAt: UtcTimestamp,
    duration_ms: z.number().int().min(0),
    attempts: z.number().int().min(0),
    artefacts: z.array(
      z.strictObject({ name: z.string(), sha256: Sha256Hex, size: z.number().int().min(0) }),
    ),
    diagnostics: z.array(Diagnostic),
    error: z.strictObject({ kind: ErrorKind, name: z.string(), message: z.string() }).nullable(),
    policySnapshot: PolicySnapshotRef,
  }),
);
export type RunRecord = z.infer<typeof RunRecord>;

/** Lineage: where a run's output came from (docs/evidence.md#what-a-runs-bundle-holds). */
export const Lineage = deferred(() =>
  z.strictObject({
    schemaVersion: z.literal(1),
    inputDatasetIds: z.array(z.string()),
    outputDatasetId: z.string().min(1),
    transformId: JobId,
    transformVersion: SemVer,
    jobRunId: z.string().min(1),
    window: Window,
    policySnapshot: PolicySnapshotRef,
    replayPointersRef: z.string().min(1),
  }),
);
export type Lineage = z.infer<typeof Lineage>;
