import assert from 'node:assert/strict';
import { test } from 'vitest';
import { BUILTIN_PATTERNS, createRedactor } from '../../functions/core/redaction';
import { CANARIES, CUSTOM_PATTERN } from '../support/canaries';

const redactor = createRedactor({ placeholder: '[REDACTED]', patterns: [CUSTOM_PATTERN] });

test('every canary is replaced by the placeholder, in plain text and inside JSON', () => {
  for (const [name, canary] of Object.entries(CANARIES)) {
    const text = `before ${canary} after`;
    assert.ok(!redactor.text(text).includes(canary), name);
    assert.match(redactor.text(text), /\[REDACTED\]/, name);
    const json = JSON.stringify({ note: text });
    const redacted = redactor.text(json);
    assert.doesNotThrow(() => JSON.parse(redacted), `${name}: JSON stays valid`);
    assert.ok(!JSON.parse(redacted).note.includes(canary), name);
  }
  assert.ok(Object.keys(BUILTIN_PATTERNS).length >= 7);
});

test('evidence is not mistaken for a secret: digests, ids, keys, ARNs and timestamps stay', () => {
  const evidence = [
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'evidence_integrity_check/2026-01-01T00:00:00Z',
    'stage=local/dt=2026-01-01/job_id=evidence_integrity_check/run=20260101T000000Z/manifest.json',
    'arn:aws:states:us-east-1:000000000000:execution:opsrail-local-job-run:559076c8-4348-4c29-a91e-26449a41db52',
    'arn:aws:secretsmanager:eu-west-1:111111111111:secret:opsrail/dev/slack-webhook-AbCdEf',
    '2026-11-21T19:40:35.472Z',
  ];
  for (const value of evidence) assert.equal(redactor.text(value), value);
});

test('value() redacts every string of a structure and keeps its shape', () => {
  const out = redactor.value({
    a: [CANARIES.email, 3, { b: CANARIES.slack_token }],
    n: null,
    ok: true,
  });
  assert.deepEqual(out, { a: ['[REDACTED]', 3, { b: '[REDACTED]' }], n: null, ok: true });
});

test('e-mail addresses are found wherever they stand: at the start, after punctuation, with tags and subdomains', () => {
  const cases = [
    'ops.team+alerts@mail.example.co.jp',
    '<ops@example.com>',
    'to:ops@example.com,',
    'a@b.io',
  ];
  for (const address of cases) {
    const redacted = redactor.text(`x ${address} y`);
    assert.ok(!redacted.includes('@'), `${address} -> ${redacted}`);
  }
  assert.equal(redactor.text('ops@example.com'), '[REDACTED]');
  assert.equal(redactor.text('user at example dot com'), 'user at example dot com');
});

test('a private key is redacted whole, and a truncated one (no footer) loses its body too', () => {
  const body =
    'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n';
  const whole = `key:\n-----BEGIN PRIVATE KEY-----\n${body}-----END PRIVATE KEY-----\nafter`;
  assert.equal(redactor.text(whole), 'key:\n[REDACTED]\nafter');
  const truncated = `key:\n-----BEGIN RSA PRIVATE KEY-----\n${body}`;
  assert.equal(redactor.text(truncated), 'key:\n[REDACTED]');
});
