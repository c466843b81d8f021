import assert from 'node:assert/strict';
import { test } from 'vitest';
import { createRedactor, redactError } from '../../functions/core/redaction';
import { CANARIES, CUSTOM_PATTERN } from '../support/canaries';

const redactor = createRedactor({ placeholder: '[REDACTED]', patterns: [CUSTOM_PATTERN] });
const leaks = (text: string) =>
  Object.entries(CANARIES)
    .filter(([, canary]) => text.includes(canary) || text.includes(decodeURIComponent(canary)))
    .map(([name]) => name);

test('URL-encoded secrets are caught: %40, Bearer%20, form +, every byte escaped, double-encoded', () => {
  const cases = [
    'mailto:oncall.person%40example.com',
    'https://x.test/cb?auth=Bearer%20eyJhbGciOiJIUzI1NiJ9.sig-nature_value&next=1',
    'auth=Bearer+abcdefgh12345678&x=1',
    `token=${encodeURIComponent(encodeURIComponent('ops@example.com'))}`,
    'k=%41%4B%49%41%49%4F%53%46%4F%44%4E%4E%37%45%58%41%4D%50%4C%45',
  ];
  for (const input of cases) {
    const out = redactor.text(input);
    assert.match(out, /\[REDACTED\]/, `${input} -> ${out}`);
    assert.ok(!/example\.com|%40|abcdefgh1234|AKIA|%41%4B/.test(out), `${input} -> ${out}`);
  }
  // What is not a secret keeps its encoding.
  assert.equal(redactor.text('q=a%20b&r=c+d&pct=100%'), 'q=a%20b&r=c+d&pct=100%');
  assert.equal(
    redactor.text('https://x.test/?who=oncall.person%40example.com&page=2'),
    'https://x.test/?who=[REDACTED]&page=2',
  );
});

test('every canary, plain and URL-encoded, in text and inside a JSON key and value', () => {
  assert.ok(Object.keys(CANARIES).length >= 28, 'a plain and an encoded canary per pattern');
  for (const [name, canary] of Object.entries(CANARIES)) {
    assert.deepEqual(leaks(redactor.text(`before ${canary} after`)), [], name);
    const json = redactor.value({ [canary]: canary, nested: [{ [`x-${canary}`]: 1 }] });
    assert.deepEqual(leaks(JSON.stringify(json)), [], name);
  }
});

test('object keys are redacted; keys redacted alike are numbered, never dropped', () => {
  const out = redactor.value({
    'a@example.com': 1,
    'b@example.com': 2,
    plain: { AKIAIOSFODNN7EXAMPLE: 'x' },
  });
  assert.deepEqual(out, { '[REDACTED]': 1, '[REDACTED]#2': 2, plain: { '[REDACTED]': 'x' } });
});

test('ids: unchanged when clean, a stable pseudonym when they hold a secret', () => {
  assert.equal(redactor.id('alice'), 'alice');
  assert.equal(
    redactor.id('arn:aws:iam::111111111111:user/bob'),
    'arn:aws:iam::111111111111:user/bob',
  );
  const pseudonym = redactor.id('oncall.person@example.com');
  assert.match(pseudonym, /^\[redacted-id:[0-9a-f]{16}\]$/);
  assert.equal(
    redactor.id('oncall.person@example.com'),
    pseudonym,
    'the same id gives the same pseudonym',
  );
  assert.notEqual(redactor.id('other.person@example.com'), pseudonym);
  assert.equal(redactor.id(pseudonym), pseudonym, 'a pseudonym is stable under redaction');
  assert.equal(redactor.text(pseudonym), pseudonym);
});

test('an error whose name carries a secret loses it; ordinary names stay', () => {
  const error = new Error(`failed for ${CANARIES.email}`);
  error.name = `Err_${CANARIES.github_token}`;
  redactError(error, redactor);
  assert.deepEqual(leaks(`${error.name} ${error.message} ${error.stack}`), []);
  const typed = redactError(new TypeError('x'), redactor);
  assert.equal(typed.name, 'TypeError');
});

test('an AWS access key glued to other text is still a key', () => {
  for (const input of [
    'AKIAIOSFODNN7EXAMPLEError',
    'AWS_KEY_AKIAIOSFODNN7EXAMPLE',
    'xASIAY34FZKBOKMUTVV7A',
  ]) {
    assert.ok(!/AKIAIOSF|ASIAY34F/.test(redactor.text(input)), input);
  }
  assert.equal(
    redactor.text('MAKIAIOSFODNN7EXAMPLE'),
    'MAKIAIOSFODNN7EXAMPLE',
    'inside a longer upper-case word it is not one',
  );
});
