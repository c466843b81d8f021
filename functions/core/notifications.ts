import type { NotificationKind, NotificationRecord } from '../../contracts';

/**
 * One thing to tell people (docs/notifications.md). The body is Markdown and already redacted;
 * `dedupeKey` names it across re-runs and takeovers (e.g. `daily_observability_report/2026-01-01`),
 * so the same key is never posted twice to a channel.
 */
export interface Notification {
  kind: NotificationKind;
  dedupeKey: string;
  title: string;
  markdown: string;
  /**
   * 'first' (default): the first channel that takes it ends the chain (an alert reaches someone).
   * 'every': every configured channel, then the log (a routine report meant for the team's
   * channel and the issue; docs/notifications.md#every-channel).
   */
  deliver?: 'first' | 'every';
}

/** Sends a notification down the chain and says what each channel did. */
export type Notify = (notification: Notification) => Promise<NotificationRecord>;

/**
 * Without a configured chain (unit tests, a stage with no channels): the log only, which is the
 * chain's last channel; nothing was configured to fail, so the record is not degraded.
 */
export function logOnlyNotify(
  log: (message: string, details?: Record<string, unknown>) => void,
  now: () => Date,
): Notify {
  return async (notification) => {
    log(`notification ${notification.kind}: ${notification.title}`, {
      dedupeKey: notification.dedupeKey,
    });
    return {
      schema_version: 1,
      kind: notification.kind,
      dedupe_key: notification.dedupeKey,
      title: notification.title,
      delivered_via: 'log',
      degraded: false,
      attempts: [{ channel: 'log', status: 'sent', attempts: 1, at: now().toISOString() }],
    };
  };
}
