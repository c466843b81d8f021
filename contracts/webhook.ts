import { deferred } from './deferred';
import * as z from 'zod';
import { Sha256Hex, UtcTimestamp } from './common';

/**
 * The weekly health report as a webhook receives it (docs/webhooks.md#the-weekly-health-payload).
 * Validated against this contract (and so against contracts/weekly_health_payload.schema.json,
 * generated from it) before anything is sent.
 */
export const WeeklyHealthPayload = deferred(() =>
  z.strictObject({
    schema_version: z.literal(1),
    generated_at: UtcTimestamp,
    /** Monday 00:00 of the ISO week reported, in the job's time zone, as UTC. */
    week_start: UtcTimestamp,
    latency: z.array(
      z.strictObject({
        endpoint: z.string().min(1),
        p50_ms: z.number().min(0).nullable(),
        p95_ms: z.number().min(0).nullable(),
        samples: z.number().int().min(0),
        breaches: z.number().int().min(0),
      }),
    ),
    runs: z.strictObject({
      total: z.number().int().min(0),
      succeeded: z.number().int().min(0),
      failed: z.number().int().min(0),
      success_rate: z.number().min(0).max(1).nullable(),
    }),
    alerts: z.array(
      z.strictObject({
        endpoint: z.string().min(1),
        level: z.enum(['warning', 'critical']),
        at: UtcTimestamp,
        streak: z.number().int().min(1),
      }),
    ),
    /** SHA-256 of the canonical JSON of every other field (docs/webhooks.md#verifying-a-delivery). */
    payload_checksum_sha256: Sha256Hex,
  }),
);
export type WeeklyHealthPayload = z.infer<typeof WeeklyHealthPayload>;

/**
 * A latency alert as a webhook receives it (docs/webhooks.md#the-latency-alert-payload): sent when
 * an endpoint's breach streak rises to warning or critical (docs/latency-slo.md).
 */
export const LatencyAlertPayload = deferred(() =>
  z.strictObject({
    schema_version: z.literal(1),
    kind: z.literal('latency_alert'),
    endpoint: z.string().min(1),
    level: z.enum(['warning', 'critical']),
    /** The hour (UTC) whose breach raised it. */
    at: UtcTimestamp,
    streak: z.number().int().min(1),
    p95_ms: z.number().min(0).nullable(),
    threshold_ms: z.number().int().min(1),
    job_run_id: z.string().min(1),
    /** SHA-256 of the canonical JSON of every other field. */
    payload_checksum_sha256: Sha256Hex,
  }),
);
export type LatencyAlertPayload = z.infer<typeof LatencyAlertPayload>;

/** How a webhook delivery is retried and bounded (docs/webhooks.md#delivery); defaults as shown. */
export const WebhookDeliveryPolicy = deferred(() =>
  z.strictObject({
    maxAttempts: z.number().int().min(1).max(10).default(5),
    baseDelayMs: z.number().int().min(1).default(500),
    maxDelayMs: z.number().int().min(1).default(30_000),
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
    /** A Retry-After longer than this is not waited for: the delivery ends `error`. */
    maxRetryAfterSeconds: z.number().int().min(0).default(60),
    dryRun: z.boolean().default(false),
  }),
);
export type WebhookDeliveryPolicy = z.infer<typeof WebhookDeliveryPolicy>;

export const WebhookDeliveryStatus = deferred(() =>
  z.enum(['delivered', 'dry_run', 'auth_failed', 'error']),
);

/** What one delivery did, kept in the run's evidence beside the payload and its signature. */
export const WebhookDelivery = deferred(() =>
  z.strictObject({
    schemaVersion: z.literal(1),
    url: z.string().min(1),
    status: WebhookDeliveryStatus,
    error_code: z
      .enum(['schema_validation_failed', 'auth_failed', 'client_error', 'retries_exhausted'])
      .nullable(),
    attempts: z.array(
      z.strictObject({
        at: UtcTimestamp,
        status_code: z.number().int().nullable(),
        outcome: z.enum(['ok', 'retry', 'fail']),
        detail: z.string(),
        /** How long the delivery waited after this attempt before the next one. */
        waited_ms: z.number().int().min(0),
      }),
    ),
    status_code: z.number().int().nullable(),
    payload_bytes: z.number().int().min(0),
    payload_checksum_sha256: Sha256Hex,
    /** The header sent (`t=<unix seconds>,v1=<hex HMAC-SHA256>`), or that would have been. */
    signature: z.string().min(1),
    validation_errors: z.array(z.strictObject({ path: z.string(), message: z.string() })),
  }),
);
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;
