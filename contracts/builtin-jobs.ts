import { deferred } from './deferred';
import * as z from 'zod';
import { SecretRef } from './common';
import { LatencyAlertPayload, WebhookDeliveryPolicy } from './webhook';
import { DatasetExportParams } from './dataset-export';
import { ImprovementDigestParams, ObservabilityReportParams } from './reports';

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

/** A value read at run time by its secret_ref (a Secrets Manager ARN); never stored or logged. */
export const SecretValue = deferred(() => z.strictObject({ secret_ref: SecretRef }));

/**
 * Where a job's webhook deliveries go (docs/webhooks.md#delivery): the URL, the signing key by its
 * secret_ref, and the retry policy (dryRun: validated, signed and recorded, never sent).
 */
export const WebhookTarget = deferred(() =>
  z.strictObject({
    url: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }),
    signingKey: SecretValue,
    delivery: WebhookDeliveryPolicy.prefault({}),
  }),
);

/** endpoint_latency_monitor (docs/latency-slo.md#the-endpoint_latency_monitor-job). */
export const EndpointLatencyMonitorParams = deferred(() =>
  z.strictObject({
    endpoints: z
      .array(
        z.strictObject({
          name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'a plain name'),
          method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
          url: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }),
          timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
          /** Header values come only from secret_refs: none is written in the policy. */
          headers: z
            .record(z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name'), SecretValue)
            .default({}),
          /** The hour breaches when its p95 is over this. */
          p95ThresholdMs: z.number().int().min(1),
        }),
      )
      .min(1)
      .refine((list) => new Set(list.map((e) => e.name)).size === list.length, {
        message: 'endpoint names must be unique',
      }),
    warningAfter: z.number().int().min(1).default(2),
    criticalAfter: z.number().int().min(1).default(3),
    /** Where alerts go; without it alerts are only recorded in the evidence. */
    webhook: WebhookTarget.optional(),
    /** Documented retention, applied by the query window (docs/latency-slo.md#retention). */
    retention: z
      .strictObject({
        sampleDays: z.number().int().min(1).default(14),
        rollupDays: z.number().int().min(1).default(90),
      })
      .prefault({}),
  }),
);
export type EndpointLatencyMonitorParams = z.infer<typeof EndpointLatencyMonitorParams>;

/** weekly_health_report (docs/webhooks.md#the-weekly_health_report-job). */
export const WeeklyHealthReportParams = deferred(() =>
  z.strictObject({
    webhook: WebhookTarget,
    /** The job whose roll-ups and alerts are reported. */
    latencyJobId: z.string().min(1).default('endpoint_latency_monitor'),
    /** How long reports are kept, as evidence under Object Lock (docs/webhooks.md#history). */
    historyDays: z.number().int().min(1).default(60),
  }),
);
export type WeeklyHealthReportParams = z.infer<typeof WeeklyHealthReportParams>;

export const builtinJobParams: Record<string, z.ZodType> = {
  evidence_integrity_check: EvidenceIntegrityCheckParams,
  endpoint_health_check: EndpointHealthCheckParams,
  endpoint_latency_monitor: EndpointLatencyMonitorParams,
  weekly_health_report: WeeklyHealthReportParams,
  dataset_export: DatasetExportParams,
  daily_observability_report: ObservabilityReportParams,
  weekly_observability_report: ObservabilityReportParams,
  weekly_improvement_digest: ImprovementDigestParams,
};

/**
 * The jobs opsrail itself implements (functions/jobs/registry.ts). They are idempotent unless the
 * catalog says otherwise; any other job enabled in a stage must declare `idempotent`.
 */
export const BUILTIN_JOB_IDS = [
  'evidence_integrity_check',
  'endpoint_health_check',
  'endpoint_latency_monitor',
  'weekly_health_report',
  'schedule_ledger',
  'run_record_retention',
  'quarantine_release',
  'kill_switch_release',
  'safety_relax',
  'dataset_export',
  'daily_observability_report',
  'weekly_observability_report',
  'weekly_improvement_digest',
] as const;

/**
 * What each endpoint_latency_monitor run leaves for the next (its `latency_state.json` output,
 * docs/latency-slo.md#where-the-streak-is-kept): the breach streaks, each monitor's heartbeat, and
 * the alerts whose delivery failed, retried by the next run.
 */
export const LatencyMonitorState = deferred(() =>
  z.strictObject({
    schema_version: z.literal(1),
    jobRunId: z.string().min(1),
    /** The newest hour rolled up so far (its start, UTC). */
    rolledUpTo: z.string().nullable(),
    monitors: z.array(
      z.strictObject({
        endpoint: z.string().min(1),
        streak: z.strictObject({
          endpoint: z.string().min(1),
          streak: z.number().int().min(0),
          level: z.enum(['warning', 'critical']).nullable(),
          lastHour: z.string().nullable(),
          lastBreachAt: z.string().nullable(),
        }),
        /** The last sample that answered 2xx/3xx. */
        lastSuccessAt: z.string().nullable(),
        lastBreachAt: z.string().nullable(),
        pendingAlerts: z.number().int().min(0),
      }),
    ),
    pending: z.array(LatencyAlertPayload),
  }),
);
export type LatencyMonitorState = z.infer<typeof LatencyMonitorState>;
