import { deferred } from './deferred';
import * as z from 'zod';

/**
 * Job ids are stable and never reused; they appear in S3 keys and DynamoDB keys, so keep them
 * plain.
 */
export const JobId = deferred(() =>
  z
    .string()
    .regex(
      /^[a-z][a-z0-9_]{1,62}$/,
      'must be snake_case: a lowercase letter, then lowercase letters, digits or _ (2-63 chars)',
    ),
);

export const SemVer = deferred(() =>
  z
    .string()
    .regex(
      /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/,
      'must be a SemVer version such as 1.2.3',
    ),
);

/** An instant in UTC, ISO 8601 with a Z suffix. */
export const UtcTimestamp = deferred(() =>
  z.iso.datetime({
    offset: false,
    message: 'must be an ISO 8601 UTC timestamp ending in Z',
  }),
);

export const Sha256Hex = deferred(() =>
  z.string().regex(/^[a-f0-9]{64}$/, 'must be a lowercase hex SHA-256 digest'),
);

export const Stage = deferred(() => z.enum(['local', 'dev', 'stage', 'prod']));
export type Stage = z.infer<typeof Stage>;

export const Environment = deferred(() => z.enum(['dev', 'stage', 'prod']));

export const Quality = deferred(() => z.enum(['OK', 'DEGRADED', 'UNKNOWN']));
export type Quality = z.infer<typeof Quality>;

export const Window = deferred(() =>
  z.object({ start: UtcTimestamp, end: UtcTimestamp }).refine((w) => w.start < w.end, {
    message: 'window.start must be before window.end',
    path: ['end'],
  }),
);
export type Window = z.infer<typeof Window>;

/**
 * A reference to a secret (a Secrets Manager ARN): the only form in which a secret may appear
 * anywhere.
 */
export const SecretRef = deferred(() =>
  z
    .string()
    .regex(
      /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/,
      'must be a Secrets Manager ARN (secret_ref)',
    ),
);

export const PolicySnapshotRef = deferred(() =>
  z.object({
    stage: Stage,
    sha256: Sha256Hex.describe('content hash of the resolved policy in force for the run'),
  }),
);
export type PolicySnapshotRef = z.infer<typeof PolicySnapshotRef>;
