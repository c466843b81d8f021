import { deferred } from './deferred';
import * as z from 'zod';
import { UtcTimestamp } from './common';

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
