import { deferred } from './deferred';
import * as z from 'zod';
import { JobId, PolicySnapshotRef, SemVer, Sha256Hex, Stage, UtcTimestamp, Window } from './common';

export const ManifestObject = deferred(() =>
  z.strictObject({
    /** Name relative to the bundle prefix. */
    name: z.string().min(1),
    sha256: Sha256Hex,
    size: z.number().int().min(0),
    contentType: z.string().min(1),
  }),
);
export type ManifestObject = z.infer<typeof ManifestObject>;

/**
 * The last object of a bundle: it lists the others and links to the job's previous manifest (a hash
 * chain).
 */
export const EvidenceManifest = deferred(() =>
  z.strictObject({
    schemaVersion: z.literal(1),
    stage: Stage,
    jobId: JobId,
    jobVersion: SemVer,
    jobRunId: z.string().min(1),
    /** 1, 2, 3 … per job: a gap means a bundle went missing. */
    sequence: z.number().int().min(1),
    window: Window,
    policySnapshot: PolicySnapshotRef,
    createdAt: UtcTimestamp,
    prefix: z.string().min(1),
    objects: z.array(ManifestObject).min(1),
    previousManifest: z
      .strictObject({
        key: z.string().min(1),
        sha256: Sha256Hex,
        sequence: z.number().int().min(1),
      })
      .nullable(),
  }),
);
export type EvidenceManifest = z.infer<typeof EvidenceManifest>;
