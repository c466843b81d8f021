import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { EvidenceReader } from '../../functions/core/ports';
import { verifyEvidence } from '../../functions/core/verify';
import { LocalRuntime } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { countingJob } from '../support/jobs';
import { testStack, withTestJobs } from '../support/local';

/**
 * `opsrail verify <jobRunId>` reads only that run's bundle prefix (issue 10): one listing, of
 * stage=…/dt=…/job_id=…/, and by key what vouches for its manifest. It still finds a tampered
 * object, a tampered manifest and an object planted in that prefix. `verify --all` lists the whole
 * stage.
 */
describe('verify one run: only its own prefix is listed', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  let s3: S3Client;
  const lists: string[] = [];
  const gets: string[] = [];
  const file = (key: string) =>
    join(stack.home, 's3', stack.env.EVIDENCE_BUCKET_NAME, `${key}._S3rver_object`);
  const manifests = new Map<string, string>();
  const PREFIX = 'stage=local/dt=2026-08-01/job_id=solo_a/';

  /** The real evidence store, with every list prefix and every key read recorded. */
  const recording = (): EvidenceReader => ({
    list: (prefix) => {
      lists.push(prefix);
      return runtime.deps.evidence.list(prefix);
    },
    getObject: (key) => {
      gets.push(key);
      return runtime.deps.evidence.getObject(key);
    },
  });
  const verifyOne = async (jobRunId: string) => {
    lists.length = 0;
    gets.length = 0;
    return verifyEvidence({ ...runtime.deps, evidence: recording() }, { jobRunId });
  };
  const tampered = async (
    key: string,
    change: (bytes: Buffer) => Buffer,
    check: () => Promise<void>,
  ) => {
    const original = readFileSync(file(key));
    writeFileSync(file(key), change(Buffer.from(original)));
    try {
      await check();
    } finally {
      writeFileSync(file(key), original);
    }
  };

  beforeAll(async () => {
    stack = await testStack({
      policyDir: withTestJobs([{ jobId: 'solo_a' }, { jobId: 'solo_b' }]),
    });
    runtime = new LocalRuntime(stack.env, [countingJob('solo_a'), countingJob('solo_b')]);
    s3 = new S3Client({
      region: stack.env.AWS_REGION,
      endpoint: stack.env.AWS_ENDPOINT_URL_S3,
      forcePathStyle: true,
    });
    for (const at of [
      '2026-08-01T00:00:00Z',
      '2026-08-01T01:00:00Z',
      '2026-08-01T02:00:00Z',
      '2026-08-02T00:00:00Z',
    ]) {
      const outcome = await runtime.run({
        jobId: 'solo_a',
        scheduledTime: at,
        trigger: 'schedule',
      });
      assert.ok(outcome.kind === 'completed');
      manifests.set(at, outcome.summary.manifestKey as string);
    }
    assert.equal(
      (
        await runtime.run({
          jobId: 'solo_b',
          scheduledTime: '2026-08-01T00:00:00Z',
          trigger: 'schedule',
        })
      ).kind,
      'completed',
    );
  });
  afterAll(async () => {
    s3.destroy();
    await stack.stop();
  });

  test('untouched: one listing, of the run’s own prefix; reads only its objects and its predecessor’s manifest', async () => {
    const one = await verifyOne('solo_a/2026-08-01T01:00:00Z');
    assert.deepEqual(one.problems, []);
    assert.deepEqual([one.ok, one.manifests, one.objects], [true, 1, 6]);
    assert.deepEqual(lists, [PREFIX], 'no stage-wide listing');
    assert.deepEqual(
      gets.filter((k) => !k.startsWith(PREFIX)),
      [],
    );
    assert.ok(
      gets.includes(manifests.get('2026-08-01T00:00:00Z')!),
      'the link back is checked by key',
    );
    assert.ok(!gets.some((k) => k.includes('/job_id=solo_b/')), 'another job is not read');

    // Across a day: the predecessor's manifest (the day before) is read by key, never listed.
    const nextDay = await verifyOne('solo_a/2026-08-02T00:00:00Z');
    assert.equal(nextDay.ok, true, JSON.stringify(nextDay.problems));
    assert.deepEqual(lists, ['stage=local/dt=2026-08-02/job_id=solo_a/']);
    assert.deepEqual(
      gets.filter((k) => !k.startsWith('stage=local/dt=2026-08-02/job_id=solo_a/')),
      [manifests.get('2026-08-01T02:00:00Z')],
    );

    lists.length = 0;
    assert.equal((await verifyEvidence({ ...runtime.deps, evidence: recording() }, {})).ok, true);
    assert.deepEqual(lists, ['stage=local/'], 'verify --all lists (and pages) the whole stage');
  });

  test('a tampered object of the run is found from its prefix alone', async () => {
    const manifest = JSON.parse(readFileSync(file(manifests.get('2026-08-01T01:00:00Z')!), 'utf8'));
    const audit = `${manifest.prefix}${manifest.objects.find((o: { name: string }) => o.name.startsWith('audit/')).name}`;
    await tampered(
      audit,
      (b) => {
        b[5] = b[5] === 0x41 ? 0x42 : 0x41;
        return b;
      },
      async () => {
        const one = await verifyOne('solo_a/2026-08-01T01:00:00Z');
        assert.deepEqual(
          one.problems.map((p) => [p.kind, p.key]),
          [['hash_mismatch', audit]],
        );
        assert.deepEqual(lists, [PREFIX]);
        assert.equal(
          (await verifyOne('solo_a/2026-08-01T00:00:00Z')).ok,
          true,
          'another run is not blamed',
        );
      },
    );
  });

  test('a tampered manifest is caught by the link that vouches for it (the run’s own, and the chain head for the last)', async () => {
    for (const at of ['2026-08-01T01:00:00Z', '2026-08-02T00:00:00Z']) {
      const key = manifests.get(at)!;
      await tampered(
        key,
        (b) => Buffer.from(b.toString('utf8').replace('"sequence":', '"sequence": ')),
        async () => {
          const one = await verifyOne(`solo_a/${at}`);
          assert.equal(one.ok, false);
          assert.ok(
            one.problems.some((p) => p.kind === 'hash_mismatch' && p.key === key),
            JSON.stringify(one.problems),
          );
          assert.equal(lists.length, 1);
        },
      );
    }
  });

  test('an object planted in the run’s prefix is unlisted_object, for that run alone', async () => {
    const key = `${PREFIX}outputs/run=20260801T010000Z/extra.txt`;
    await s3.send(
      new PutObjectCommand({
        Bucket: stack.env.EVIDENCE_BUCKET_NAME,
        Key: key,
        Body: 'not from the job\n',
      }),
    );
    try {
      const one = await verifyOne('solo_a/2026-08-01T01:00:00Z');
      assert.deepEqual(
        one.problems.map((p) => [p.kind, p.key]),
        [['unlisted_object', key]],
      );
      assert.deepEqual(lists, [PREFIX]);
      assert.deepEqual(
        (await verifyOne('solo_a/2026-08-01T00:00:00Z')).problems,
        [],
        'another run is not blamed',
      );
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: stack.env.EVIDENCE_BUCKET_NAME, Key: key }));
    }
    const never = `${PREFIX}run_record/run=20260801T050000Z.json`;
    await s3.send(
      new PutObjectCommand({ Bucket: stack.env.EVIDENCE_BUCKET_NAME, Key: never, Body: '{}' }),
    );
    try {
      const one = await verifyOne('solo_a/2026-08-01T05:00:00Z');
      assert.deepEqual(
        one.problems.map((p) => [p.kind, p.key]).sort(),
        [
          [
            'missing_object',
            manifests.get('2026-08-01T00:00:00Z')!.replace('T000000Z', 'T050000Z'),
          ],
          ['unlisted_object', never],
        ].sort(),
      );
      assert.deepEqual(lists, [PREFIX]);
    } finally {
      await s3.send(
        new DeleteObjectCommand({ Bucket: stack.env.EVIDENCE_BUCKET_NAME, Key: never }),
      );
    }
  });

  test('once the run item is gone (retention), the next manifest’s link, walked back from the head by key, vouches', async () => {
    await runtime.deps.state.deleteRun('solo_a/2026-08-01T00:00:00Z');
    const key = manifests.get('2026-08-01T00:00:00Z')!;
    assert.equal((await verifyOne('solo_a/2026-08-01T00:00:00Z')).ok, true);
    assert.deepEqual(lists, [PREFIX]);
    await tampered(
      key,
      (b) => Buffer.from(b.toString('utf8').replace('"sequence":', '"sequence": ')),
      async () => {
        const one = await verifyOne('solo_a/2026-08-01T00:00:00Z');
        assert.deepEqual(
          one.problems.map((p) => [p.kind, p.key]),
          [['hash_mismatch', key]],
        );
        assert.match(one.problems[0]!.detail, /the link of the manifest after it/);
        assert.deepEqual(lists, [PREFIX]);
      },
    );
  });

  test('a run inside its lease is open: nothing to verify yet, not a missing manifest; after its lease, unfinished', async () => {
    const { createPreflightHandler } = await import('../../functions/preflight/handler');
    await createPreflightHandler(runtime.deps)(
      {
        executionId: 'exec-open',
        request: { jobId: 'solo_a', scheduledTime: '2026-08-01T03:00:00Z', trigger: 'schedule' },
      },
      {} as never,
    );
    const one = await verifyOne('solo_a/2026-08-01T03:00:00Z');
    assert.deepEqual([one.ok, one.manifests, one.problems], [true, 0, []]);
    assert.deepEqual(lists, [PREFIX]);
    const later = new LocalRuntime(stack.env, [countingJob('solo_a'), countingJob('solo_b')], {
      clock: { now: () => new Date(Date.now() + 3600_000) },
    });
    const lost = await verifyEvidence(later.deps, { jobRunId: 'solo_a/2026-08-01T03:00:00Z' });
    assert.deepEqual(
      lost.problems.map((p) => p.kind),
      ['unfinished_run'],
    );
    assert.match(lost.problems[0]!.detail, /exec-open/);
  });
});
