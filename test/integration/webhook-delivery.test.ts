import assert from 'node:assert/strict';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { WebhookDeliveryPolicy, WeeklyHealthPayload } from '../../contracts';
import { documentedVerifier, FakeWebhook } from '../support/fake-http';
import { fetchWebhookPoster } from '../../functions/adapters/webhook-poster';
import { systemClock } from '../../functions/core/clock';
import { canonicalJson, sha256Hex } from '../../functions/core/hashing';
import {
  backoffMs,
  deliverWebhook,
  SIGNATURE_HEADER,
  type WebhookPorts,
} from '../../functions/core/webhook-delivery';

const KEY = 'whsec-test-signing-key';
// The receiver's check: the snippet docs/webhooks.md gives receivers, run as written.
const verify = documentedVerifier();

function payload(): WeeklyHealthPayload {
  const fields = {
    schema_version: 1 as const,
    generated_at: '2026-12-07T00:05:00.000Z',
    week_start: '2026-11-30T00:00:00.000Z',
    latency: [{ endpoint: 'api', p50_ms: 120, p95_ms: 480, samples: 672, breaches: 3 }],
    runs: { total: 10, succeeded: 9, failed: 1, success_rate: 0.9 },
    alerts: [
      { endpoint: 'api', level: 'warning' as const, at: '2026-12-03T10:00:00.000Z', streak: 2 },
    ],
  };
  return { ...fields, payload_checksum_sha256: sha256Hex(canonicalJson(fields)) };
}

/** Ports with a real HTTP client and a sleep that records what it was asked to wait. */
function ports(): WebhookPorts & { waits: number[] } {
  const waits: number[] = [];
  return {
    http: fetchWebhookPoster,
    clock: systemClock,
    sleep: async (ms) => {
      waits.push(ms);
    },
    random: () => 0.5,
    waits,
  };
}

const policy = (overrides: Partial<WebhookDeliveryPolicy> = {}) =>
  WebhookDeliveryPolicy.parse({ baseDelayMs: 100, maxDelayMs: 1000, ...overrides });

describe('webhook delivery against a fake receiver (docs/webhooks.md)', () => {
  const hook = new FakeWebhook(KEY);
  beforeAll(() => hook.start());
  afterAll(() => hook.stop());

  test('503, 503, 200: three attempts, backed off, one delivery the receiver verified', async () => {
    // Prepare
    hook.reset([{ status: 503 }, { status: 503 }, { status: 200 }]);
    const p = ports();
    // Act
    const result = await deliverWebhook(
      { url: hook.url, payload: payload(), contract: WeeklyHealthPayload, signingKey: KEY },
      policy(),
      p,
    );
    // Assess
    assert.equal(result.status, 'delivered');
    assert.deepEqual(
      result.attempts.map((a) => [a.status_code, a.outcome]),
      [
        [503, 'retry'],
        [503, 'retry'],
        [200, 'ok'],
      ],
    );
    assert.equal(hook.deliveries, 1);
    assert.ok(hook.received.every((r) => r.signatureValid));
    // Full jitter over 100 ms, then 200 ms, with random() = 0.5.
    assert.deepEqual(p.waits, [50, 100]);
    const bodies = new Set(hook.received.map((r) => r.body));
    assert.equal(bodies.size, 1, 'every attempt sends the same bytes');
    assert.equal(result.payload_checksum_sha256, sha256Hex([...bodies][0]!));
    assert.equal(result.payload_bytes, Buffer.byteLength([...bodies][0]!));
    assert.deepEqual(
      new Set(hook.received.map((r) => r.headers['idempotency-key'])),
      new Set([result.payload_checksum_sha256]),
    );
    assert.equal(result.status_code, 200);
  });

  test('429 with Retry-After: 2 is waited for (2 s), then delivered', async () => {
    // Prepare
    hook.reset([{ status: 429, headers: { 'Retry-After': '2' } }, { status: 200 }]);
    const p = ports();
    // Act
    const result = await deliverWebhook(
      { url: hook.url, payload: payload(), contract: WeeklyHealthPayload, signingKey: KEY },
      policy(),
      p,
    );
    // Assess
    assert.equal(result.status, 'delivered');
    assert.deepEqual(p.waits, [2000]);
    assert.equal(result.attempts[0]!.waited_ms, 2000);
    assert.equal(hook.deliveries, 1);
  });

  test('401: one attempt, auth_failed, not retried', async () => {
    // Prepare
    hook.reset([{ status: 401 }, { status: 200 }]);
    const p = ports();
    // Act
    const result = await deliverWebhook(
      { url: hook.url, payload: payload(), contract: WeeklyHealthPayload, signingKey: KEY },
      policy(),
      p,
    );
    // Assess
    assert.equal(result.status, 'auth_failed');
    assert.equal(result.error_code, 'auth_failed');
    assert.equal(result.attempts.length, 1);
    assert.equal(hook.received.length, 1);
    assert.deepEqual(p.waits, []);
  });

  test('an invalid payload is never sent: schema_validation_failed, with the fields named', async () => {
    // Prepare
    hook.reset([]);
    const invalid = { ...payload(), runs: { total: -1 } };
    // Act
    const result = await deliverWebhook(
      { url: hook.url, payload: invalid, contract: WeeklyHealthPayload, signingKey: KEY },
      policy(),
      ports(),
    );
    // Assess
    assert.equal(result.status, 'error');
    assert.equal(result.error_code, 'schema_validation_failed');
    assert.equal(hook.received.length, 0);
    const paths = result.validation_errors.map((e) => e.path);
    assert.ok(paths.includes('runs.total'), paths.join(', '));
    assert.ok(paths.includes('runs.succeeded'), paths.join(', '));
  });

  test('dry run: validated and signed, nothing sent, status dry_run', async () => {
    // Prepare
    hook.reset([]);
    // Act
    const result = await deliverWebhook(
      { url: hook.url, payload: payload(), contract: WeeklyHealthPayload, signingKey: KEY },
      policy({ dryRun: true }),
      ports(),
    );
    // Assess
    assert.equal(result.status, 'dry_run');
    assert.equal(hook.received.length, 0);
    assert.match(result.signature, /^t=\d+,v1=[a-f0-9]{64}$/);
  });

  test('a receiver that never answers: each attempt times out, retried, then retries_exhausted', async () => {
    // Prepare
    hook.reset([
      { status: 0, hang: true },
      { status: 0, hang: true },
      { status: 0, hang: true },
    ]);
    // Act
    const result = await deliverWebhook(
      { url: hook.url, payload: payload(), contract: WeeklyHealthPayload, signingKey: KEY },
      policy({ maxAttempts: 3, timeoutMs: 200 }),
      ports(),
    );
    // Assess
    assert.equal(result.status, 'error');
    assert.equal(result.error_code, 'retries_exhausted');
    assert.deepEqual(
      result.attempts.map((a) => [a.status_code, a.outcome]),
      [
        [null, 'retry'],
        [null, 'retry'],
        [null, 'fail'],
      ],
    );
    assert.match(result.attempts[0]!.detail, /^timeout/);
  });

  test('control: the documented check refuses a wrong key, a changed body and an old timestamp', async () => {
    // Prepare
    hook.reset([{ status: 200 }]);
    await deliverWebhook(
      { url: hook.url, payload: payload(), contract: WeeklyHealthPayload, signingKey: KEY },
      policy(),
      ports(),
    );
    const { headers, body } = hook.received[0]!;
    const header = headers[SIGNATURE_HEADER.toLowerCase()];
    const now = Math.floor(Date.now() / 1000);
    // Act, Assess
    assert.equal(verify(KEY, header, body, now), true);
    assert.equal(verify('another-key', header, body, now), false);
    assert.equal(verify(KEY, header, `${body} `, now), false);
    assert.equal(verify(KEY, header, body, now + 301), false);
  });

  test('a signing key in the request never appears in the record', async () => {
    // Prepare
    hook.reset([{ status: 500 }, { status: 200 }]);
    // Act
    const result = await deliverWebhook(
      {
        url: hook.url,
        payload: payload(),
        contract: WeeklyHealthPayload,
        signingKey: KEY,
        headers: { Authorization: 'Bearer canary-token-123' },
      },
      policy(),
      ports(),
    );
    // Assess
    const stored = JSON.stringify(result);
    assert.equal(stored.includes(KEY), false);
    assert.equal(stored.includes('canary-token-123'), false);
    assert.equal(hook.received[0]!.headers.authorization, 'Bearer canary-token-123');
  });
});

describe('backoff', () => {
  test('full jitter: every wait is within [0, min(max, base × 2^(n−1)))', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, base, max, random) => {
          const p = WebhookDeliveryPolicy.parse({ baseDelayMs: base, maxDelayMs: max });
          const wait = backoffMs(attempt, p, random);
          const cap = Math.min(max, base * 2 ** (attempt - 1));
          return wait >= 0 && (wait < cap || cap === 0) && Number.isInteger(wait);
        },
      ),
    );
  });
});
