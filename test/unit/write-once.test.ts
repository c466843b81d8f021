import assert from 'node:assert/strict';
import { beforeEach, test } from 'vitest';
import {
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { S3EvidenceStore } from '../../functions/adapters/s3-evidence-store';
import { EvidenceIntegrityError } from '../../functions/core/errors';

// A write-once put that meets an existing object compares its bytes (issue 10): S3's 412 alone says
// nothing about content.
const s3 = mockClient(S3Client);
const store = new S3EvidenceStore(new S3Client({ region: 'us-east-1' }), 'evidence-bucket');
const encode = (text: string) => new TextEncoder().encode(text);
const stored = (text: string) => ({
  Body: { transformToByteArray: async () => encode(text) } as never,
});
const preconditionFailed = new S3ServiceException({
  name: 'PreconditionFailed',
  $fault: 'client',
  $metadata: { httpStatusCode: 412 },
  message: 'At least one of the pre-conditions you specified did not hold',
});

beforeEach(() => {
  s3.reset();
  s3.on(PutObjectCommand).rejects(preconditionFailed);
});

test('412 over the same bytes is a retry of this write: already_exists, read back from the same key', async () => {
  s3.on(GetObjectCommand).resolves(stored('{"a":1}\n'));
  assert.equal(
    await store.putObject('stage=dev/x/audit.jsonl', encode('{"a":1}\n'), 'application/x-ndjson'),
    'already_exists',
  );
  assert.equal(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.IfNoneMatch, '*');
  assert.deepEqual(
    s3.commandCalls(GetObjectCommand).map((c) => [c.args[0].input.Bucket, c.args[0].input.Key]),
    [['evidence-bucket', 'stage=dev/x/audit.jsonl']],
  );
});

test('412 over different bytes is an integrity finding naming the key and both hashes, never a success', async () => {
  s3.on(GetObjectCommand).resolves(stored('{"a":1}\n'));
  await assert.rejects(
    store.putObject('stage=dev/x/audit.jsonl', encode('{"a":2}\n'), 'application/x-ndjson'),
    (e: unknown) => {
      assert.ok(e instanceof EvidenceIntegrityError);
      assert.equal(e.retryable, false);
      assert.equal(e.key, 'stage=dev/x/audit.jsonl');
      assert.match(
        e.message,
        /write-once and holds different bytes \(sha256 [0-9a-f]{64}, 8 bytes\) than this write \(sha256 [0-9a-f]{64}, 8 bytes\)/,
      );
      return true;
    },
  );
});

test('a prefix of the stored bytes, or the stored bytes plus more, is different too', async () => {
  s3.on(GetObjectCommand).resolves(stored('evidence'));
  await assert.rejects(store.putObject('k', encode('evid'), 'text/plain'), EvidenceIntegrityError);
  await assert.rejects(
    store.putObject('k', encode('evidence!'), 'text/plain'),
    EvidenceIntegrityError,
  );
});

test('412 whose object cannot be read back (deleted meanwhile) is a finding, not a success', async () => {
  s3.on(GetObjectCommand).rejects(
    new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'no such key' }),
  );
  await assert.rejects(
    store.putObject('k', encode('x'), 'text/plain'),
    (e: Error) => e instanceof EvidenceIntegrityError && /cannot be read back/.test(e.message),
  );
});

test('a throttled read-back stays a retryable error (the comparison is retried, not skipped)', async () => {
  s3.on(GetObjectCommand).rejects(
    new S3ServiceException({
      name: 'SlowDown',
      $fault: 'server',
      $metadata: { httpStatusCode: 503 },
      message: 'slow down',
    }),
  );
  await assert.rejects(
    store.putObject('k', encode('x'), 'text/plain'),
    (e: Error) => e.name === 'ThrottlingError',
  );
});
