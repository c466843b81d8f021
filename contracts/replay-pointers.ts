import { z } from 'zod';
import { JobId, PolicySnapshotRef, SemVer, Sha256Hex, UtcTimestamp, Window } from './common';

/** Seed 000 §3.1: everything needed to re-run the job on exactly the same inputs. */
export const ReplayPointers = z.strictObject({
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
  /** Version of the code that ran (package version), the closest to a binary hash a Lambda bundle offers. */
  codeVersion: z.string().min(1),
  trigger: z.string().min(1),
  executionId: z.string().min(1),
});
export type ReplayPointers = z.infer<typeof ReplayPointers>;
