import { deferred } from './deferred';
import * as z from 'zod';
import { JobId, Sha256Hex, Stage, UtcTimestamp } from './common';

/**
 * support_bundle_manifest: what a support bundle holds, each file hashed
 * (`opsrail support-bundle`).
 */
export const SupportBundleManifest = deferred(() =>
  z.strictObject({
    schemaVersion: z.literal(1),
    stage: Stage,
    jobId: JobId,
    jobRunId: z.string().min(1),
    createdAt: UtcTimestamp,
    createdBy: z.string().min(1),
    /** Evidence keys the bundle was gathered from. */
    sources: z.array(z.string()),
    files: z.array(
      z.strictObject({ name: z.string().min(1), sha256: Sha256Hex, size: z.number().int().min(0) }),
    ),
    redaction: z.strictObject({ placeholder: z.string(), customPatterns: z.number().int().min(0) }),
  }),
);
export type SupportBundleManifest = z.infer<typeof SupportBundleManifest>;
