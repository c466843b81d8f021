import { createHmac } from 'node:crypto';
import type * as z from 'zod';
import type { WebhookDelivery, WebhookDeliveryPolicy } from '../../contracts';
import type { Clock } from './clock';
import { zodIssues } from './errors';
import { canonicalJson, sha256Hex } from './hashing';

/** The header a delivery is signed in (docs/webhooks.md#verifying-a-delivery). */
export const SIGNATURE_HEADER = 'Opsrail-Signature';

/** What one POST answered, or how it failed to answer. */
export type PostAnswer =
  | { status: number; retryAfter: string | null }
  | { failure: 'timeout' | 'network'; detail: string };

/** Sends one POST; never throws for an answer or a failure to get one. */
export interface WebhookPoster {
  post(
    url: string,
    headers: Record<string, string>,
    body: string,
    timeoutMs: number,
  ): Promise<PostAnswer>;
}

export interface WebhookPorts {
  http: WebhookPoster;
  clock: Clock;
  sleep(ms: number): Promise<void>;
  /** A number in [0, 1): the jitter of each backoff. */
  random(): number;
}

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the timestamp is signed with the body, so
 * a receiver that refuses old timestamps also refuses replays.
 */
export function signWebhook(key: string | Uint8Array, unixSeconds: number, body: string): string {
  const mac = createHmac('sha256', key).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** Backoff before attempt `attempt + 1`: full jitter over an exponential cap. */
export function backoffMs(attempt: number, policy: WebhookDeliveryPolicy, random: number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random * cap);
}

/** A Retry-After header in ms from now: delay-seconds or an HTTP-date (docs/webhooks.md#delivery). */
export function retryAfterMs(value: string | null | undefined, now: Date): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

export interface WebhookRequest<T> {
  url: string;
  payload: unknown;
  /** The payload's contract: an invalid payload is never sent. */
  contract: z.ZodType<T>;
  /** The signing key's value, read by its secret_ref by the caller; never stored. */
  signingKey: string;
  /** Extra headers (values already resolved from their secret_refs): sent, never stored. */
  headers?: Record<string, string>;
}

/**
 * Delivers one payload to a webhook (docs/webhooks.md#delivery): validated, signed, POSTed; 5xx,
 * 408 and timeouts retried with exponential backoff and full jitter, 429 after its Retry-After,
 * 401/403 `auth_failed` at once, any other 4xx `error` at once. Returns the record of every
 * attempt; never throws for the far end's answers.
 */
export async function deliverWebhook<T>(
  request: WebhookRequest<T>,
  policy: WebhookDeliveryPolicy,
  ports: WebhookPorts,
): Promise<WebhookDelivery> {
  const parsed = request.contract.safeParse(request.payload);
  const body = canonicalJson(parsed.success ? parsed.data : request.payload);
  const unixSeconds = () => Math.floor(ports.clock.now().getTime() / 1000);
  const base = {
    schemaVersion: 1 as const,
    url: request.url,
    payload_bytes: Buffer.byteLength(body, 'utf8'),
    payload_checksum_sha256: sha256Hex(body),
  };
  let signature = signWebhook(request.signingKey, unixSeconds(), body);
  if (!parsed.success)
    return {
      ...base,
      status: 'error',
      error_code: 'schema_validation_failed',
      attempts: [],
      status_code: null,
      signature,
      validation_errors: zodIssues(parsed.error),
    };
  const done = (
    status: WebhookDelivery['status'],
    error_code: WebhookDelivery['error_code'],
    attempts: WebhookDelivery['attempts'],
  ): WebhookDelivery => ({
    ...base,
    status,
    error_code,
    attempts,
    status_code: attempts.at(-1)?.status_code ?? null,
    signature,
    validation_errors: [],
  });
  if (policy.dryRun) return done('dry_run', null, []);

  const attempts: WebhookDelivery['attempts'] = [];
  for (let attempt = 1; ; attempt++) {
    // Signed again at each attempt: a receiver's freshness window counts from this send.
    signature = signWebhook(request.signingKey, unixSeconds(), body);
    const answer = await ports.http.post(
      request.url,
      {
        ...request.headers,
        'Content-Type': 'application/json',
        [SIGNATURE_HEADER]: signature,
        'Idempotency-Key': base.payload_checksum_sha256,
      },
      body,
      policy.timeoutMs,
    );
    const at = ports.clock.now().toISOString();
    const record = (outcome: 'ok' | 'retry' | 'fail', detail: string, waitMs = 0) =>
      attempts.push({
        at,
        status_code: 'status' in answer ? answer.status : null,
        outcome,
        detail,
        waited_ms: waitMs,
      });
    if ('status' in answer && answer.status >= 200 && answer.status < 300) {
      record('ok', `HTTP ${answer.status}`);
      return done('delivered', null, attempts);
    }
    if ('status' in answer && (answer.status === 401 || answer.status === 403)) {
      record('fail', `HTTP ${answer.status}: the receiver refused the credentials or signature`);
      return done('auth_failed', 'auth_failed', attempts);
    }
    const retryable =
      !('status' in answer) ||
      answer.status === 408 ||
      answer.status === 429 ||
      answer.status >= 500;
    if (!retryable) {
      record('fail', `HTTP ${answer.status}: not retried`);
      return done('error', 'client_error', attempts);
    }
    const detail =
      'status' in answer ? `HTTP ${answer.status}` : `${answer.failure}: ${answer.detail}`;
    if (attempt >= policy.maxAttempts) {
      record('fail', `${detail}; ${attempt} attempts, none delivered`);
      return done('error', 'retries_exhausted', attempts);
    }
    const asked =
      'status' in answer && answer.status === 429
        ? retryAfterMs(answer.retryAfter, ports.clock.now())
        : undefined;
    if (asked !== undefined && asked > policy.maxRetryAfterSeconds * 1000) {
      record(
        'fail',
        `${detail}; Retry-After ${asked / 1000} s exceeds ${policy.maxRetryAfterSeconds} s`,
      );
      return done('error', 'retries_exhausted', attempts);
    }
    const wait = asked ?? backoffMs(attempt, policy, ports.random());
    record('retry', asked === undefined ? detail : `${detail}; Retry-After honoured`, wait);
    await ports.sleep(wait);
  }
}
