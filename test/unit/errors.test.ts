import assert from 'node:assert/strict';
import { test } from 'vitest';
import {
  errorForHttpStatus,
  errorKindFromName,
  DependencyError,
  ThrottlingError,
} from '../../functions/core/errors';
import { honourRetryAfter } from '../../functions/execute/handler';

test('HTTP answers map to error classes: 4xx never retried, 429/5xx/timeouts retried (docs/failure-semantics.md#http-answers-from-a-dependency)', () => {
  const cases: [number, string, boolean][] = [
    [400, 'validation', false],
    [401, 'permission', false],
    [403, 'permission', false],
    [404, 'not_found', false],
    [422, 'validation', false],
    [408, 'timeout', true],
    [429, 'throttling', true],
    [500, 'dependency', true],
    [503, 'dependency', true],
    [504, 'timeout', true],
  ];
  for (const [status, kind, retryable] of cases) {
    const error = errorForHttpStatus(status, 'x');
    assert.equal(error.kind, kind, String(status));
    assert.equal(error.retryable, retryable, String(status));
    assert.equal(errorKindFromName(error.name), kind, `the ASL sees ${error.name} for ${status}`);
  }
});

test('Retry-After is read as seconds or as an HTTP date', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  assert.equal((errorForHttpStatus(429, 'x', '7', now) as ThrottlingError).retryAfterSeconds, 7);
  assert.equal(
    (
      errorForHttpStatus(503, 'x', 'Thu, 01 Jan 2026 00:00:30 GMT', now) as {
        retryAfterSeconds?: number;
      }
    ).retryAfterSeconds,
    30,
  );
  assert.equal(
    (errorForHttpStatus(429, 'x', 'soon', now) as ThrottlingError).retryAfterSeconds,
    undefined,
  );
});

test('a Retry-After longer than the policy allows is not retried early: it becomes a non-retryable error', async () => {
  const tooLong = await honourRetryAfter(
    new ThrottlingError('429', { retryAfterSeconds: 120 }),
    60,
    600_000,
  );
  assert.equal((tooLong as Error).name, 'RetryAfterTooLongError');
  assert.equal((tooLong as { retryable: boolean }).retryable, false);
  const noTime = await honourRetryAfter(
    new ThrottlingError('429', { retryAfterSeconds: 10 }),
    60,
    8_000,
  );
  assert.equal((noTime as Error).name, 'RetryAfterTooLongError');
  const plain = new DependencyError('503');
  assert.equal(await honourRetryAfter(plain, 60, 600_000), plain);
});
