import {
  type NotificationAttempt,
  type NotificationChannel,
  type NotificationRecord,
  NotificationRetry,
  type NotificationSettings,
} from '../../contracts';
import type { SecretReader } from '../jobs/kinds/ports';
import type { Notification, Notify } from './notifications';
import type { Redactor } from './redaction';
import { backoffMs, type PostAnswer, type WebhookPorts } from './webhook-delivery';

/** The chain's settings: the policy's `notifications` (contracts/notification.ts). */
export type { NotificationSettings };

/** Reads one GET (GitHub's comment list); never throws for an answer. */
export interface HttpGetter {
  get(
    url: string,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<{ status: number; body: string } | { failure: 'timeout' | 'network'; detail: string }>;
}

/**
 * The Slack ledger (docs/notifications.md#idempotency): one item per dedupeKey, claimed with a
 * conditional put before sending. 'claimed': this call owns it; otherwise the state found.
 */
export interface NotificationLedger {
  claimNotification(
    channel: NotificationChannel,
    dedupeKey: string,
    at: string,
  ): Promise<'claimed' | 'pending' | 'sent'>;
  markNotificationSent(channel: NotificationChannel, dedupeKey: string, at: string): Promise<void>;
  /**
   * Releases a claim whose send failed for certain (no answer 2xx), so a re-run may try again; a
   * `sent` item is never released.
   */
  releaseNotification(channel: NotificationChannel, dedupeKey: string): Promise<void>;
}

/** How long a ledger item is kept unless told (the run records' default retention, 90 days). */
export const DEFAULT_LEDGER_TTL_SECONDS = 90 * 86400;

export interface ChainPorts extends WebhookPorts {
  get: HttpGetter;
  secrets: SecretReader;
  ledger: NotificationLedger;
  redactor: Redactor;
  log(message: string, details?: Record<string, unknown>): void;
}

export const GITHUB_API = 'https://api.github.com';

export function dedupeMarker(dedupeKey: string): string {
  return `<!-- opsrail:${dedupeKey.replace(/-->/g, '')} -->`;
}

type Outcome =
  | { ok: true; attempts: number; status_code?: number }
  | {
      ok: false;
      attempts: number;
      status_code?: number;
      error: string;
    };

/** POST with retries: 5xx/408/timeouts backoff, 429 Retry-After, 401/403 and other 4xx final. */
async function postWithRetry(
  ports: ChainPorts,
  retry: NotificationRetry,
  url: string,
  headers: Record<string, string>,
  body: string,
): Promise<Outcome> {
  for (let attempt = 1; ; attempt++) {
    const answer: PostAnswer = await ports.http.post(url, headers, body, retry.timeoutMs);
    const code = 'status' in answer ? answer.status : undefined;
    if (code !== undefined && code >= 200 && code < 300)
      return { ok: true, attempts: attempt, status_code: code };
    const retryable = code === undefined || code === 408 || code === 429 || code >= 500;
    const error =
      code === undefined ? `${'failure' in answer ? answer.failure : ''}` : `HTTP ${code}`;
    if (!retryable || attempt >= retry.maxAttempts)
      return { ok: false, attempts: attempt, status_code: code, error };
    const asked =
      'status' in answer && code === 429 && answer.retryAfter && /^\d+$/.test(answer.retryAfter)
        ? Number(answer.retryAfter) * 1000
        : undefined;
    await ports.sleep(
      Math.min(asked ?? backoffMs(attempt, retry as never, ports.random()), 60_000),
    );
  }
}

/**
 * The notification chain (docs/notifications.md): Slack → GitHub issue comment → log. Each
 * channel delivers a dedupeKey at most once; the first that takes it ends the chain.
 */
export function chainNotify(ports: ChainPorts, settings: NotificationSettings): Notify {
  // The contract's defaults, one source (built on first use, not at import).
  const retry = settings.retry ?? NotificationRetry.parse({});
  return async (notification: Notification): Promise<NotificationRecord> => {
    const attempts: NotificationAttempt[] = [];
    const now = () => ports.clock.now().toISOString();
    const title = ports.redactor.text(notification.title);
    const markdown = ports.redactor.text(notification.markdown);
    let configuredFailed = false;
    const done = (via: NotificationChannel | null): NotificationRecord => ({
      schema_version: 1,
      kind: notification.kind,
      dedupe_key: notification.dedupeKey,
      title,
      delivered_via: via,
      degraded: configuredFailed && via !== 'slack' && via !== 'github',
      attempts,
    });
    const failed = (
      channel: NotificationChannel,
      out: { attempts: number; status_code?: number; error?: string },
    ) => {
      attempts.push({
        channel,
        status: 'failed',
        attempts: out.attempts,
        ...(out.status_code !== undefined ? { status_code: out.status_code } : {}),
        ...(out.error !== undefined ? { error: ports.redactor.text(out.error) } : {}),
        at: now(),
      });
      configuredFailed = true;
    };
    // A secret that cannot be read fails its channel (the chain goes on), it does not throw.
    const secret = async (ref: string): Promise<string | { error: string }> => {
      try {
        return await ports.secrets.read(ref);
      } catch (error) {
        return { error: `secret ${ref} could not be read: ${(error as Error).message}` };
      }
    };

    // Read before the claim, so an unreadable URL leaves no pending claim behind.
    const slackUrl = settings.slack ? await secret(settings.slack.webhookSecretRef) : undefined;
    if (typeof slackUrl === 'object') failed('slack', { attempts: 0, error: slackUrl.error });
    else if (settings.slack) {
      const state = await ports.ledger.claimNotification('slack', notification.dedupeKey, now());
      if (state === 'sent') {
        attempts.push({ channel: 'slack', status: 'already_sent', attempts: 0, at: now() });
        return done('slack');
      }
      if (state === 'pending') {
        // A claim without a result: an earlier run may have posted. Never double-post: fall back.
        attempts.push({
          channel: 'slack',
          status: 'failed',
          attempts: 0,
          error: 'pending claim from an earlier run; not re-sent',
          at: now(),
        });
        configuredFailed = true;
      } else {
        const out = await postWithRetry(
          ports,
          retry,
          slackUrl!,
          { 'Content-Type': 'application/json' },
          JSON.stringify({ text: `*${title}*\n${markdown}` }),
        );
        if (out.ok) {
          await ports.ledger.markNotificationSent('slack', notification.dedupeKey, now());
          attempts.push({
            channel: 'slack',
            status: 'sent',
            attempts: out.attempts,
            status_code: out.status_code,
            message_ref: `ledger:${notification.dedupeKey}`,
            at: now(),
          });
          return done('slack');
        }
        // Only a definite refusal (an HTTP answer, not a timeout) releases the claim.
        if (out.status_code !== undefined && out.status_code < 500)
          await ports.ledger.releaseNotification('slack', notification.dedupeKey);
        failed('slack', out);
      }
    } else attempts.push({ channel: 'slack', status: 'not_configured', attempts: 0, at: now() });

    const token = settings.github ? await secret(settings.github.tokenSecretRef) : undefined;
    if (typeof token === 'object') failed('github', { attempts: 0, error: token.error });
    else if (settings.github) {
      const g = settings.github;
      const base = `${g.apiBaseUrl ?? GITHUB_API}/repos/${encodeURIComponent(g.owner)}/${encodeURIComponent(g.repo)}/issues/${g.issueNumber}/comments`;
      const headers = {
        Authorization: `Bearer ${token}`,
        Accept: 'application/vnd.github+json',
        'Content-Type': 'application/json',
      };
      const marker = dedupeMarker(notification.dedupeKey);
      const listed = await ports.get.get(`${base}?per_page=100`, headers, retry.timeoutMs);
      if ('status' in listed && listed.status === 200 && listed.body.includes(marker)) {
        attempts.push({
          channel: 'github',
          status: 'already_sent',
          attempts: 0,
          status_code: 200,
          at: now(),
        });
        return done('github');
      }
      const out = await postWithRetry(
        ports,
        retry,
        base,
        headers,
        JSON.stringify({ body: `${marker}\n**${title}**\n\n${markdown}` }),
      );
      if (out.ok) {
        attempts.push({
          channel: 'github',
          status: 'sent',
          attempts: out.attempts,
          status_code: out.status_code,
          at: now(),
        });
        return done('github');
      }
      failed('github', out);
    } else attempts.push({ channel: 'github', status: 'not_configured', attempts: 0, at: now() });

    ports.log(`notification ${notification.kind}: ${title}`, { dedupeKey: notification.dedupeKey });
    attempts.push({ channel: 'log', status: 'sent', attempts: 1, at: now() });
    return done('log');
  };
}

/**
 * An in-memory ledger (unit tests, runs on the in-memory ports). Like the DynamoDB one, an item
 * expires `ttlSeconds` after it was last written and may then be claimed again.
 */
export function memoryNotificationLedger(
  ttlSeconds = DEFAULT_LEDGER_TTL_SECONDS,
): NotificationLedger {
  const items = new Map<string, { state: 'pending' | 'sent'; expires: number }>();
  const expiry = (at: string) => Date.parse(at) + ttlSeconds * 1000;
  return {
    async claimNotification(channel, key, at) {
      const found = items.get(`${channel}#${key}`);
      if (found && found.expires > Date.parse(at)) return found.state;
      items.set(`${channel}#${key}`, { state: 'pending', expires: expiry(at) });
      return 'claimed';
    },
    async markNotificationSent(channel, key, at) {
      items.set(`${channel}#${key}`, { state: 'sent', expires: expiry(at) });
    },
    async releaseNotification(channel, key) {
      if (items.get(`${channel}#${key}`)?.state === 'pending') items.delete(`${channel}#${key}`);
    },
  };
}
