import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { MemoryEvidenceStore } from '../../functions/adapters/memory-evidence-store';
import { S3EvidenceStore } from '../../functions/adapters/s3-evidence-store';
import type { EvidenceStore } from '../../functions/core/ports';
import { startS3Endpoint } from '../../local/s3-endpoint';

const bytes = (text: string) => new TextEncoder().encode(text);

/**
 * The local S3 endpoint (as the local stack runs it) and fresh buckets with Object Lock, as
 * provisioned.
 */
async function localS3() {
  const endpoint = await startS3Endpoint(mkdtempSync(join(tmpdir(), 'opsrail-evidence-contract-')));
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: endpoint.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const newBucket = async () => {
    const bucket = `contract-${randomBytes(6).toString('hex')}`;
    await client.send(
      new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }),
    );
    return bucket;
  };
  return {
    client,
    newBucket,
    close: async () => {
      client.destroy();
      await endpoint.stop();
    },
  };
}

/**
 * The EvidenceStore contract, run over S3EvidenceStore (local S3 endpoint) and MemoryEvidenceStore.
 */
function evidenceStoreSuite(
  name: string,
  open: () => Promise<{ store: EvidenceStore; close: () => Promise<void> }>,
) {
  describe(`EvidenceStore contract: ${name}`, () => {
    let store: EvidenceStore;
    let close: () => Promise<void>;
    beforeAll(async () => ({ store, close } = await open()));
    afterAll(async () => close());

    test('write-once: the first put writes; the same bytes again are already_exists; other bytes are an integrity error; the first bytes stay', async () => {
      assert.equal(
        await store.putObject('once/a.json', bytes('{"v":1}'), 'application/json'),
        'written',
      );
      assert.equal(
        await store.putObject('once/a.json', bytes('{"v":1}'), 'application/json'),
        'already_exists',
      );
      await assert.rejects(
        store.putObject('once/a.json', bytes('{"v":2}'), 'application/json'),
        (e: Error & { key?: string }) =>
          e.name === 'EvidenceIntegrityError' &&
          e.key === 'once/a.json' &&
          /write-once/.test(e.message),
      );
      await assert.rejects(
        store.putObject('once/a.json', new Uint8Array(), 'application/json'),
        (e: Error) => e.name === 'EvidenceIntegrityError',
        'empty bytes differ too',
      );
      assert.deepEqual(await store.getObject('once/a.json'), bytes('{"v":1}'));
    });

    test('concurrent puts of one key with different bytes: one is written, the others are refused, and the stored bytes are the winner’s', async () => {
      const bodies = ['x', 'y', 'z'].map((c) => bytes(c.repeat(64)));
      const results = await Promise.allSettled(
        bodies.map((b) => store.putObject('race/k', b, 'text/plain')),
      );
      assert.equal(
        results.filter((r) => r.status === 'fulfilled' && r.value === 'written').length,
        1,
      );
      const winner =
        bodies[results.findIndex((r) => r.status === 'fulfilled' && r.value === 'written')]!;
      for (const r of results)
        if (r.status === 'rejected')
          assert.equal((r.reason as Error).name, 'EvidenceIntegrityError');
      assert.deepEqual(await store.getObject('race/k'), winner);
    });

    test('getObject: undefined when absent; an empty object is empty bytes', async () => {
      assert.equal(await store.getObject('absent/none'), undefined);
      await store.putObject('empty/e', new Uint8Array(), 'text/plain');
      assert.deepEqual(await store.getObject('empty/e'), new Uint8Array());
    });

    test('list: every key under a prefix, in key order, and nothing past the prefix boundary', async () => {
      const keys = ['p/b', 'p/a/2', 'p/a/10', 'p/a', 'p-x', 'p0', 'q/a', 'p/', 'p/a/1/deep'];
      for (const k of keys) await store.putObject(`list/${k}`, bytes(k), 'text/plain');
      assert.deepEqual(await store.list('list/p/'), [
        'list/p/',
        'list/p/a',
        'list/p/a/1/deep',
        'list/p/a/10',
        'list/p/a/2',
        'list/p/b',
      ]);
      assert.deepEqual(await store.list('list/p/a/'), [
        'list/p/a/1/deep',
        'list/p/a/10',
        'list/p/a/2',
      ]);
      assert.deepEqual(await store.list('list/p'), [
        'list/p-x',
        'list/p/',
        'list/p/a',
        'list/p/a/1/deep',
        'list/p/a/10',
        'list/p/a/2',
        'list/p/b',
        'list/p0',
      ]);
      assert.deepEqual(await store.list('list/none/'), []);
    });

    test('bytes are copied in and out: mutating them changes nothing stored', async () => {
      const body = bytes('original');
      await store.putObject('copy/k', body, 'text/plain');
      body.fill(0);
      const read = (await store.getObject('copy/k'))!;
      read.fill(0);
      assert.equal(new TextDecoder().decode(await store.getObject('copy/k')), 'original');
    });
  });
}

let s3: Awaited<ReturnType<typeof localS3>>;
evidenceStoreSuite('S3EvidenceStore on the local S3 endpoint', async () => {
  s3 = await localS3();
  return { store: new S3EvidenceStore(s3.client, await s3.newBucket()), close: () => s3.close() };
});
evidenceStoreSuite('MemoryEvidenceStore', async () => ({
  store: new MemoryEvidenceStore(),
  close: async () => {},
}));

/**
 * Differential: generated puts, gets and lists (prefix boundaries included) answer alike on both.
 */
describe('EvidenceStore differential: memory and the local S3 endpoint answer every generated call sequence alike', () => {
  let local: Awaited<ReturnType<typeof localS3>>;
  beforeAll(async () => (local = await localS3()));
  afterAll(async () => local.close());

  const KEYS = ['a', 'a/', 'a/b', 'a/b/c', 'a-b', 'a0', 'ab', 'b/a', 'a/b~', 'a/é'];
  const PREFIXES = ['', 'a', 'a/', 'a/b', 'a/b/', 'b', 'z'];
  const key = fc.constantFrom(...KEYS);
  const body = fc.constantFrom('', 'one', 'two');
  type Op = (s: EvidenceStore) => Promise<unknown>;
  const op: fc.Arbitrary<[string, Op]> = fc.oneof(
    fc
      .tuple(key, body)
      .map(([k, b]): [string, Op] => [
        `put ${k} ${b}`,
        (s) => s.putObject(k, bytes(b), 'text/plain'),
      ]),
    key.map((k): [string, Op] => [
      `get ${k}`,
      (s) => s.getObject(k).then((v) => (v ? new TextDecoder().decode(v) : null)),
    ]),
    fc.constantFrom(...PREFIXES).map((p): [string, Op] => [`list ${p}`, (s) => s.list(p)]),
  );
  const answer = (p: Promise<unknown>) =>
    p.then(
      (value) => ({ value: value ?? null }),
      (e: Error) => ({ error: e.name }),
    );

  test('generated sequences of up to 15 calls', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 15 }), async (ops) => {
        const memory = new MemoryEvidenceStore();
        const real = new S3EvidenceStore(local.client, await local.newBucket());
        for (const [n, [name, call]] of ops.entries())
          assert.deepEqual(
            await answer(call(memory)),
            await answer(call(real)),
            `step ${n}: ${name}`,
          );
        assert.deepEqual(await memory.list(''), await real.list(''));
      }),
      { numRuns: 25 },
    );
  });
});
