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
import { createHash } from 'node:crypto';
import { S3EvidenceStore } from '../../functions/adapters/s3-evidence-store';

// s3rver ignores If-None-Match and checksums, so the request parameters are proven here.
const s3 = mockClient(S3Client);
const store = new S3EvidenceStore(new S3Client({ region: 'us-east-1' }), 'evidence-bucket');
const body = new TextEncoder().encode('{"hello":"evidence"}\n');
const serviceError = (name: string, status: number) =>
  new S3ServiceException({
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: status },
    message: name,
  });

beforeEach(() => s3.reset());

test('every evidence object is written with If-None-Match: * and its SHA-256 checksum', async () => {
  s3.on(PutObjectCommand).resolves({});

  assert.equal(
    await store.putObject('stage=dev/x/manifest.json', body, 'application/json'),
    'written',
  );

  const input = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
  assert.equal(input?.Bucket, 'evidence-bucket');
  assert.equal(input?.Key, 'stage=dev/x/manifest.json');
  assert.equal(input?.IfNoneMatch, '*');
  assert.equal(input?.ChecksumAlgorithm, 'SHA256');
  assert.equal(input?.ChecksumSHA256, createHash('sha256').update(body).digest('base64'));
  assert.equal(input?.ContentType, 'application/json');
});

test('412 Precondition Failed means the object is already there: not an error', async () => {
  s3.on(PutObjectCommand).rejects(serviceError('PreconditionFailed', 412));
  // The stored object is read back and compared (test/unit/write-once.test.ts covers different
  // bytes).
  s3.on(GetObjectCommand).resolves({ Body: { transformToByteArray: async () => body } as never });
  assert.equal(await store.putObject('k', body, 'text/plain'), 'already_exists');
});

test('409 conflict (a concurrent conditional write) is retried, then succeeds', async () => {
  s3.on(PutObjectCommand).rejectsOnce(serviceError('ConditionalRequestConflict', 409)).resolves({});
  assert.equal(await store.putObject('k', body, 'text/plain'), 'written');
  assert.equal(s3.commandCalls(PutObjectCommand).length, 2);
});

test('other SDK errors leave the adapter typed, with the SDK error as cause', async () => {
  s3.on(PutObjectCommand).rejects(serviceError('AccessDenied', 403));
  await assert.rejects(
    store.putObject('k', body, 'text/plain'),
    (e: Error) => e.name === 'PermissionError' && e.cause instanceof S3ServiceException,
  );
  s3.on(PutObjectCommand).rejects(serviceError('SlowDown', 503));
  await assert.rejects(
    store.putObject('k', body, 'text/plain'),
    (e: Error) => e.name === 'ThrottlingError',
  );
  s3.on(PutObjectCommand).rejects(serviceError('InternalError', 500));
  await assert.rejects(
    store.putObject('k', body, 'text/plain'),
    (e: Error) => e.name === 'DependencyError',
  );
});

test('reading a missing object gives undefined, not an error', async () => {
  s3.on(GetObjectCommand).rejects(
    new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'no such key' }),
  );
  assert.equal(await store.getObject('missing'), undefined);
});
