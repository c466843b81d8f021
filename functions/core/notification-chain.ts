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
import { backoffMs, retryAfterMs, type WebhookPorts } from './webhook-delivery';

/** The chain's settings: the policy's `notifications` (contracts/notification.ts). */
export type { NotificationSettings };

/** What one GET answered (with the headers the chain reads), or how it failed to answer. */
export type GetAnswer =
  | { status: number; body: string; link: string | null; retryAfter: string | null }
  | { failure: 'timeout' | 'network'; detail: string };

/** Reads one GET (GitHub's comment list); never throws for an answer. */
export interface HttpGetter {
  get(url: string, headers: Record<string, string>, timeoutMs: number): Promise<GetAnswer>;
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

type Outcome<T = undefined> =
  | { ok: true; attempts: number; status_code?: number; answer: T }
  | {
      ok: false;
      attempts: number;
      status_code?: number;
      error: string;
    };

/** The longest wait between two tries, whatever a Retry-After asks. */
const MAX_WAIT_MS = 60_000;

/**
 * One request with retries: 5xx/408/timeouts backoff, 429 after its Retry-After (seconds or an
 * HTTP-date), 401/403 and other 4xx final.
 */
async function withRetry<A extends { status: number; retryAfter: string | null }>(
  ports: ChainPorts,
  retry: NotificationRetry,
  send: () => Promise<A | { failure: 'timeout' | 'network'; detail: string }>,
): Promise<Outcome<A>> {
  for (let attempt = 1; ; attempt++) {
    const answer = await send();
    const code = 'status' in answer ? answer.status : undefined;
    if ('status' in answer && answer.status >= 200 && answer.status < 300)
      return { ok: true, attempts: attempt, status_code: answer.status, answer };
    const retryable = code === undefined || code === 408 || code === 429 || code >= 500;
    const error = 'status' in answer ? `HTTP ${answer.status}` : answer.failure;
    if (!retryable || attempt >= retry.maxAttempts)
      return { ok: false, attempts: attempt, status_code: code, error };
    const asked =
      'status' in answer && code === 429
        ? retryAfterMs(answer.retryAfter, ports.clock.now())
        : undefined;
    await ports.sleep(
      Math.min(asked ?? backoffMs(attempt, retry as never, ports.random()), MAX_WAIT_MS),
    );
  }
}

/** The most comment pages read looking for a marker (100 each): beyond, the channel fails. */
const MAX_COMMENT_PAGES = 100;

/** The `rel="next"` URL of a Link header (RFC 8288), if any. */
export function nextLink(link: string | null): string | undefined {
  for (const part of (link ?? '').split(',')) {
    const match = /^\s*<([^>]+)>\s*;(.*)$/.exec(part);
    if (match && /\brel="?([^";]*\s)?next(\s[^";]*)?"?/.test(match[2]!)) return match[1];
  }
  return undefined;
}

/**
 * Whether any comment on the issue carries the marker: every page, following `Link: rel="next"`
 * (only to the same origin: the token goes with it), else until a short page.
 */
async function findMarker(
  ports: ChainPorts,
  retry: NotificationRetry,
  base: string,
  headers: Record<string, string>,
  marker: string,
): Promise<Outcome<boolean>> {
  const perPage = 100;
  let url: string | undefined = `${base}?per_page=${perPage}&page=1`;
  let attempts = 0;
  for (let page = 1; url; page++) {
    if (page > MAX_COMMENT_PAGES)
      return { ok: false, attempts, error: `more than ${MAX_COMMENT_PAGES} pages of comments` };
    const target: string = url;
    const out = await withRetry(ports, retry, () =>
      ports.get.get(target, headers, retry.timeoutMs),
    );
    attempts += out.attempts;
    if (!out.ok) return { ...out, attempts, error: `listing comments: ${out.error}` };
    let comments: unknown;
    try {
      comments = JSON.parse(out.answer.body);
    } catch {
      comments = undefined;
    }
    if (!Array.isArray(comments))
      return { ok: false, attempts, error: 'listing comments: the answer is not a list' };
    const bodies = comments.map((c) => (c as { body?: unknown })?.body);
    if (bodies.some((body) => typeof body === 'string' && body.includes(marker)))
      return { ok: true, attempts, status_code: out.status_code, answer: true };
    const next = nextLink(out.answer.link);
    if (next) url = new URL(next, base).origin === new URL(base).origin ? next : undefined;
    else
      url = comments.length < perPage ? undefined : `${base}?per_page=${perPage}&page=${page + 1}`;
  }
  return { ok: true, attempts, answer: false };
}

/**
 * The notification chain (docs/notifications.md): Slack → GitHub issue comment → log. Each
 * channel delivers a dedupeKey at most once; the first that takes it ends the chain, unless the
 * notification asks for `deliver: 'every'` (a routine report: every configured channel, then the
 * log; docs/notifications.md#every-channel).
 */
export function chainNotify(ports: ChainPorts, settings: NotificationSettings): Notify {
  return async (notification: Notification): Promise<NotificationRecord> => {
    // The contract's defaults, one source (built at the first notification, not at a cold start).
    const retry = settings.retry ?? NotificationRetry.parse({});
    const attempts: NotificationAttempt[] = [];
    const now = () => ports.clock.now().toISOString();
    const title = ports.redactor.text(notification.title);
    const markdown = ports.redactor.text(notification.markdown);
    let configuredFailed = false;
    const every = notification.deliver === 'every';
    let deliveredVia: NotificationChannel | null = null;
    const done = (via: NotificationChannel | null): NotificationRecord => ({
      schema_version: 1,
      kind: notification.kind,
      dedupe_key: notification.dedupeKey,
      title,
      delivered_via: via,
      // Every channel asked for: any configured channel that failed degrades the record.
      degraded: every ? configuredFailed : configuredFailed && via !== 'slack' && via !== 'github',
      attempts,
    });
    // A channel took it: the chain ends there, or goes on to the next one when every is asked.
    const tookIt = (via: NotificationChannel): boolean => {
      deliveredVia ??= via;
      return !every;
    };
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
        if (tookIt('slack')) return done('slack');
      } else if (state === 'pending') {
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
        const body = JSON.stringify({ text: `*${title}*\n${markdown}` });
        const out = await withRetry(ports, retry, () =>
          ports.http.post(slackUrl!, { 'Content-Type': 'application/json' }, body, retry.timeoutMs),
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
          if (tookIt('slack')) return done('slack');
        } else {
          // Only a definite refusal (an HTTP answer, not a timeout) releases the claim.
          if (out.status_code !== undefined && out.status_code < 500)
            await ports.ledger.releaseNotification('slack', notification.dedupeKey);
          failed('slack', out);
        }
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
      const listed = await findMarker(ports, retry, base, headers, marker);
      if (listed.ok && listed.answer) {
        attempts.push({
          channel: 'github',
          status: 'already_sent',
          attempts: listed.attempts,
          status_code: listed.status_code,
          at: now(),
        });
        if (tookIt('github')) return done('github');
      } else {
        // Without a complete list the marker may be there: never post twice, fall back to the log.
        const body = JSON.stringify({ body: `${marker}\n**${title}**\n\n${markdown}` });
        const out = listed.ok
          ? await withRetry(ports, retry, () =>
              ports.http.post(base, headers, body, retry.timeoutMs),
            )
          : listed;
        if (out.ok) {
          attempts.push({
            channel: 'github',
            status: 'sent',
            attempts: out.attempts,
            status_code: out.status_code,
            at: now(),
          });
          if (tookIt('github')) return done('github');
        } else failed('github', out);
      }
    } else attempts.push({ channel: 'github', status: 'not_configured', attempts: 0, at: now() });

    ports.log(`notification ${notification.kind}: ${title}`, { dedupeKey: notification.dedupeKey });
    attempts.push({ channel: 'log', status: 'sent', attempts: 1, at: now() });
    return done(deliveredVia ?? 'log');
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
