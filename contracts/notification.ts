import { deferred } from './deferred';
import * as z from 'zod';
import { SecretRef, UtcTimestamp } from './common';

/**
 * What opsrail tells people (docs/notifications.md): reports, digests, failure alerts, approval
 * requests and latency alerts all go through one notification chain, Slack → GitHub issue → log.
 */
export const NotificationKind = deferred(() =>
  z.enum(['report', 'digest', 'failure_alert', 'approval_request', 'latency_alert']),
);
export type NotificationKind = z.infer<typeof NotificationKind>;

export const NotificationChannel = deferred(() => z.enum(['slack', 'github', 'log']));
export type NotificationChannel = z.infer<typeof NotificationChannel>;

/** One channel's try at one notification, as the run's evidence records it. */
export const NotificationAttempt = deferred(() =>
  z.strictObject({
    channel: NotificationChannel,
    /**
     * sent: delivered now; already_sent: an earlier attempt (a re-run, a takeover) delivered it;
     * failed: every try failed; not_configured: the channel is off or has no target; dry_run: the
     * body was written, nothing was sent.
     */
    status: z.enum(['sent', 'already_sent', 'failed', 'not_configured', 'dry_run']),
    attempts: z.number().int().min(0),
    status_code: z.number().int().optional(),
    error: z.string().optional(),
    /** Where it landed (a GitHub comment URL, a Slack marker), never a secret. */
    message_ref: z.string().optional(),
    at: UtcTimestamp,
  }),
);
export type NotificationAttempt = z.infer<typeof NotificationAttempt>;

/** One notification's outcome across the chain. */
export const NotificationRecord = deferred(() =>
  z.strictObject({
    schema_version: z.literal(1),
    kind: NotificationKind,
    /** The same key is delivered at most once per channel, across re-runs and takeovers. */
    dedupe_key: z.string().min(1),
    title: z.string().min(1),
    /** The first channel that took it, or null if none did. */
    delivered_via: NotificationChannel.nullable(),
    /** True when a configured channel failed and the message got no further than the log. */
    degraded: z.boolean(),
    attempts: z.array(NotificationAttempt),
  }),
);
export type NotificationRecord = z.infer<typeof NotificationRecord>;

/**
 * `notifications/` in a run's bundle (docs/evidence.md): every notification the run sent and what
 * each channel did with it.
 */
export const NotificationEvidence = deferred(() =>
  z.strictObject({
    schemaVersion: z.literal(1),
    jobRunId: z.string().min(1),
    notifications: z.array(NotificationRecord).min(1),
  }),
);
export type NotificationEvidence = z.infer<typeof NotificationEvidence>;

/** Each channel's tries (docs/notifications.md#the-chain): backoff with full jitter, a timeout each. */
export const NotificationRetry = deferred(() =>
  z.strictObject({
    maxAttempts: z.number().int().min(1).max(10).default(3),
    baseDelayMs: z.number().int().min(1).max(60_000).default(500),
    maxDelayMs: z.number().int().min(1).max(60_000).default(5000),
    timeoutMs: z.number().int().min(100).max(60_000).default(5000),
  }),
);
export type NotificationRetry = z.infer<typeof NotificationRetry>;

/**
 * The stage's notification chain (policy `notifications`, docs/notifications.md#configuration):
 * each channel is optional, every secret by secret_ref only. No channel: the log alone.
 */
export const NotificationSettings = deferred(() =>
  z.strictObject({
    /** Slack: the secret holding the incoming-webhook URL. */
    slack: z.strictObject({ webhookSecretRef: SecretRef }).optional(),
    /** GitHub: comments on one issue, with a token read by secret_ref. */
    github: z
      .strictObject({
        owner: z
          .string()
          .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/, 'must be a GitHub user or organisation'),
        repo: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be a GitHub repository name'),
        issueNumber: z.number().int().min(1),
        /** Default https://api.github.com (GitHub Enterprise: https://HOST/api/v3). */
        apiBaseUrl: z
          .url()
          .refine((url) => !url.endsWith('/'), 'must not end with /')
          .optional(),
        tokenSecretRef: SecretRef,
      })
      .optional(),
    retry: NotificationRetry.optional(),
  }),
);
export type NotificationSettings = z.infer<typeof NotificationSettings>;
