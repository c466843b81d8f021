import { deferred } from './deferred';
import * as z from 'zod';
import { JobId, UtcTimestamp } from './common';

/**
 * safety_state: the stage's safety mode. Only the safe direction is immediate
 * (docs/safety-rules.md#safety-mode).
 */
export const SafetyMode = deferred(() => z.enum(['NORMAL', 'SAFE', 'EMERGENCY_STOP']));
export type SafetyMode = z.infer<typeof SafetyMode>;

/** The fields of a change, built inside each deferred contract that has them, not at import. */
const change = () => ({
  reason: z.string().min(1).max(1000),
  changedBy: z.string().min(1).max(200),
  changedAt: UtcTimestamp,
});

export const SafetyState = deferred(() =>
  z.strictObject({
    schemaVersion: z.literal(1),
    mode: SafetyMode,
    ...change(),
  }),
);
export type SafetyState = z.infer<typeof SafetyState>;

/** A kill-switch, global (no jobId) or for one job. */
export const KillSwitch = deferred(() =>
  z.strictObject({
    schemaVersion: z.literal(1),
    jobId: JobId.nullable(),
    engaged: z.boolean(),
    ...change(),
  }),
);
export type KillSwitch = z.infer<typeof KillSwitch>;

export const DatasetIntegrity = deferred(() =>
  z.strictObject({
    schemaVersion: z.literal(1),
    datasetId: z.string().min(1),
    status: z.enum(['OK', 'DEGRADED', 'FAIL', 'UNKNOWN']),
    recordedBy: z.string().min(1),
    recordedAt: UtcTimestamp,
  }),
);
export type DatasetIntegrity = z.infer<typeof DatasetIntegrity>;
