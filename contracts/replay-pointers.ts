import { deferred } from './deferred';
import * as z from 'zod';
import { JobId, PolicySnapshotRef, SemVer, Sha256Hex, UtcTimestamp, Window } from './common';

/**
 * Everything needed to re-run the job on exactly the same inputs
 * (docs/evidence.md#what-a-runs-bundle-holds).
 */
export const ReplayPointers = deferred(() =>
  z.strictObject({
    schemaVersion: z.literal(1),
    jobId: JobId,
    jobVersion: SemVer,
    jobRunId: z.string().min(1),
    scheduledTime: UtcTimestamp,
    window: Window,
    datasetRefs: z.array(z.string()),
    policySnapshot: PolicySnapshotRef,
    /** Hash of the job definition as resolved for this stage (config hash). */
    jobConfigSha256: Sha256Hex,
    /**
     * Version of the code that ran (package version), the closest to a binary hash a Lambda bundle
     * offers.
     */
    codeVersion: z.string().min(1),
    trigger: z.string().min(1),
    executionId: z.string().min(1),
  }),
);
export type ReplayPointers = z.infer<typeof ReplayPointers>;
