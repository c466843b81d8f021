import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { S3EvidenceStore } from '../../functions/adapters/s3-evidence-store';
import { startS3Endpoint } from '../../local/s3-endpoint';

// The local S3 endpoint must page like S3 past 1,000 keys (s3rver's own tokens need DES, which Node
// 24 refuses).
let endpoint: Awaited<ReturnType<typeof startS3Endpoint>>;
let client: S3Client;
const bucket = 'paging-evidence';
const keyOf = (i: number) =>
  `stage=local/dt=2026-01-01/job_id=j/run_record/run=${String(i).padStart(5, '0')}.json`;

beforeAll(async () => {
  endpoint = await startS3Endpoint(mkdtempSync(join(tmpdir(), 'opsrail-s3-paging-')));
  client = new S3Client({
    region: 'us-east-1',
    endpoint: endpoint.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const store = new S3EvidenceStore(client, bucket);
  const body = new TextEncoder().encode('{}\n');
  for (let i = 0; i < 2500; i += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, j) => store.putObject(keyOf(i + j), body, 'application/json')),
    );
  }
  await store.putObject('stage=local/other/x.json', body, 'application/json');
});

afterAll(async () => {
  client.destroy();
  await endpoint.stop();
});

test('S3EvidenceStore lists 2,500 objects under a prefix through the local endpoint, each once, in order', async () => {
  const keys = await new S3EvidenceStore(client, bucket).list('stage=local/dt=2026-01-01/');
  assert.equal(keys.length, 2500);
  assert.equal(new Set(keys).size, 2500);
  assert.deepEqual(
    keys,
    Array.from({ length: 2500 }, (_, i) => keyOf(i)),
  );
});

test('pages are at most 1,000 keys with a continuation token, like S3', async () => {
  const first = await client.send(
    new ListObjectsV2Command({ Bucket: bucket, Prefix: 'stage=local/' }),
  );
  assert.equal(first.KeyCount, 1000);
  assert.equal(first.IsTruncated, true);
  assert.ok(first.NextContinuationToken);
  const second = await client.send(
    new ListObjectsV2Command({
      Bucket: bucket,
      Prefix: 'stage=local/',
      ContinuationToken: first.NextContinuationToken,
    }),
  );
  assert.equal(second.ContinuationToken, first.NextContinuationToken);
  assert.equal(second.Contents?.[0]?.Key, keyOf(1000));
  const small = await client.send(
    new ListObjectsV2Command({ Bucket: bucket, Prefix: 'stage=local/', MaxKeys: 7 }),
  );
  assert.equal(small.KeyCount, 7);
  assert.equal(small.IsTruncated, true);
  const all = await new S3EvidenceStore(client, bucket).list('stage=local/');
  assert.equal(all.length, 2501);
});

test('a forged or foreign continuation token is refused as InvalidArgument, not an InternalError', async () => {
  const first = await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1 }));
  await assert.rejects(
    client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: 'bm9wZQ==' })),
    { name: 'InvalidArgument' },
  );
  await client.send(new CreateBucketCommand({ Bucket: 'other-bucket' }));
  await assert.rejects(
    client.send(
      new ListObjectsV2Command({
        Bucket: 'other-bucket',
        ContinuationToken: first.NextContinuationToken,
      }),
    ),
    { name: 'InvalidArgument' },
  );
});
