import assert from 'node:assert/strict';
import { test } from 'vitest';
import { Identity, identityKey, sameIdentity } from '../../contracts';

test('an identity is trimmed and NFC-normalised; inner whitespace, control and invisible characters are refused', () => {
  assert.equal(Identity.parse('  alice \t'), 'alice');
  assert.equal(Identity.parse('Jose\u0301'), 'Jos\u00e9');
  for (const bad of [
    '',
    '   ',
    'al ice',
    'alice\u0000x',
    'a\u0007b',
    'b\u200bob',
    '\u202ebob',
    'bob\u00a0x',
    'x\u2028y',
    'a'.repeat(201),
  ]) {
    assert.ok(!Identity.safeParse(bad).success, JSON.stringify(bad));
  }
  assert.ok(Identity.safeParse('arn:aws:iam::111111111111:user/Bob').success);
  assert.ok(Identity.safeParse('bob@example.com').success);
});

test('names and e-mail addresses compare without case; ARNs exactly', () => {
  assert.ok(sameIdentity('Bob', ' bob '));
  assert.ok(sameIdentity('Bob@Example.com', 'bob@example.com'));
  assert.ok(
    !sameIdentity('arn:aws:iam::111111111111:user/Bob', 'arn:aws:iam::111111111111:user/bob'),
  );
  assert.ok(
    sameIdentity('arn:aws:iam::111111111111:user/Bob', ' arn:aws:iam::111111111111:user/Bob'),
  );
  assert.equal(identityKey('ALICE'), 'alice');
});
