import { deferred } from './deferred';
import * as z from 'zod';
import { JobId, Quality, UtcTimestamp } from './common';

export const IntegrityFindingKind = deferred(() =>
  z.enum([
    'hash_mismatch',
    'size_mismatch',
    'missing_object',
    'unreadable_manifest',
    'chain_break',
    'sequence_gap',
    'misplaced_manifest',
    'unfinished_run',
    /** An object under a bundle or control/ prefix that no manifest (or the control chain) lists. */
    'unlisted_object',
    'unreadable_control_event',
    /** An export file whose bytes do not hash to its export manifest entry's checksum_sha256. */
    'checksum_mismatch',
  ]),
);
export type IntegrityFindingKind = z.infer<typeof IntegrityFindingKind>;

export const IntegrityReport = deferred(() =>
  z.strictObject({
    schemaVersion: z.literal(1),
    jobRunId: z.string().min(1),
    generatedAt: UtcTimestamp,
    /** OK only when something was checked and all of it verified; nothing checked is UNKNOWN. */
    status: Quality,
    subject: z.enum(['evidence', 'run']),
    checked: z.strictObject({ bundles: z.number().int().min(0), objects: z.number().int().min(0) }),
    bundles: z.array(
      z.strictObject({
        jobId: JobId,
        jobRunId: z.string(),
        manifestKey: z.string(),
        sequence: z.number().int().nullable(),
        status: Quality,
      }),
    ),
    findings: z.array(
      z.strictObject({ kind: IntegrityFindingKind, key: z.string(), detail: z.string() }),
    ),
  }),
);
export type IntegrityReport = z.infer<typeof IntegrityReport>;
