import { deferred } from './deferred';
import * as z from 'zod';
import { DatasetExportParams } from './dataset-export';

/**
 * Parameters of the built-in jobs, validated when the policy loads so a typo fails at load, not at
 * 3 a.m.
 */
export const EvidenceIntegrityCheckParams = deferred(() =>
  z.strictObject({
    /** How many of the most recent bundles of each job to re-verify. */
    bundlesPerJob: z.number().int().min(1).max(1000).default(5),
  }),
);

export const EndpointHealthCheckParams = deferred(() =>
  z.strictObject({
    url: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }),
    expectStatus: z.number().int().min(100).max(599).default(200),
    timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
  }),
);

export const builtinJobParams: Record<string, z.ZodType> = {
  evidence_integrity_check: EvidenceIntegrityCheckParams,
  endpoint_health_check: EndpointHealthCheckParams,
  dataset_export: DatasetExportParams,
};

/**
 * The jobs opsrail itself implements (functions/jobs/registry.ts). They are idempotent unless the
 * catalog says otherwise; any other job enabled in a stage must declare `idempotent`.
 */
export const BUILTIN_JOB_IDS = [
  'evidence_integrity_check',
  'endpoint_health_check',
  'schedule_ledger',
  'run_record_retention',
  'quarantine_release',
  'kill_switch_release',
  'safety_relax',
  'dataset_export',
] as const;
