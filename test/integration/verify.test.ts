import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { verifyEvidence } from '../../functions/core/verify';
import { LocalRuntime } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { countingJob } from '../support/jobs';
import { testStack, withTestJobs } from '../support/local';

/**
 * Tampering happens where an attacker with disk access would do it: in the local S3 endpoint's
 * files (s3rver keeps each object as `<key>._S3rver_object`), bypassing the write-once API.
 */
describe('opsrail verify: recomputes every hash and the chain, and names what is wrong', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  const file = (key: string) =>
    join(stack.home, 's3', stack.env.EVIDENCE_BUCKET_NAME, `${key}._S3rver_object`);
  const manifests: string[] = [];
  let objectsOf: (manifestKey: string) => string[];

  beforeAll(async () => {
    stack = await testStack({
      policyDir: withTestJobs([{ jobId: 'chain_a' }, { jobId: 'chain_b' }]),
    });
    runtime = new LocalRuntime(stack.env, [countingJob('chain_a'), countingJob('chain_b')]);
    for (const hour of ['00', '01', '02', '03']) {
      const outcome = await runtime.run({
        jobId: 'chain_a',
        scheduledTime: `2026-08-01T${hour}:00:00Z`,
        trigger: 'schedule',
      });
      assert.ok(outcome.kind === 'completed');
      manifests.push(outcome.summary.manifestKey as string);
    }
    await runtime.run({
      jobId: 'chain_b',
      scheduledTime: '2026-08-01T00:00:00Z',
      trigger: 'schedule',
    });
    objectsOf = (manifestKey) => {
      const manifest = JSON.parse(readFileSync(file(manifestKey), 'utf8'));
      return manifest.objects.map((o: { name: string }) => `${manifest.prefix}${o.name}`);
    };
  });
  afterAll(async () => stack.stop());

  const verifyAll = () => verifyEvidence(runtime.deps, {});

  test('untouched evidence verifies: every run, and all of it', async () => {
    const all = await verifyAll();
    assert.deepEqual(all.problems, []);
    assert.equal(all.ok, true);
    assert.equal(all.manifests, 5);
    const one = await verifyEvidence(runtime.deps, { jobRunId: 'chain_a/2026-08-01T01:00:00Z' });
    assert.deepEqual([one.ok, one.manifests, one.objects], [true, 1, 6]);
  });

  for (const [index, kind] of [
    [0, 'audit'],
    [1, 'run_record'],
    [2, 'outputs'],
    [3, 'replay_pointers'],
  ] as const) {
    test(`changing one byte of a stored ${kind} object fails verify, naming the object`, async () => {
      const key = objectsOf(manifests[index]!).find((k) => k.includes(`/${kind}/`)) as string;
      const original = readFileSync(file(key));
      const tampered = Buffer.from(original);
      tampered[5] = tampered[5] === 0x41 ? 0x42 : 0x41;
      writeFileSync(file(key), tampered);
      try {
        const report = await verifyAll();
        assert.equal(report.ok, false);
        assert.deepEqual(
          report.problems.map((p) => [p.kind, p.key]),
          [['hash_mismatch', key]],
        );
        assert.equal(
          (await verifyEvidence(runtime.deps, { jobRunId: `chain_a/2026-08-01T0${index}:00:00Z` }))
            .ok,
          false,
        );
      } finally {
        writeFileSync(file(key), original);
      }
    });
  }

  test('changing one byte of a manifest is caught by the link that vouches for it', async () => {
    for (const key of [manifests[1]!, manifests[3]!]) {
      const original = readFileSync(file(key));
      writeFileSync(
        file(key),
        Buffer.from(original.toString('utf8').replace('"sequence":', '"sequence": ')),
      );
      try {
        const report = await verifyAll();
        assert.deepEqual(
          report.problems.map((p) => [p.kind, p.key]),
          [['hash_mismatch', key]],
        );
      } finally {
        writeFileSync(file(key), original);
      }
    }
  });

  test('deleting an object, or a whole manifest, fails verify naming it', async () => {
    const objectKey = objectsOf(manifests[2]!).find((k) => k.includes('/lineage/')) as string;
    renameSync(file(objectKey), `${file(objectKey)}.hidden`);
    try {
      const report = await verifyAll();
      assert.deepEqual(
        report.problems.map((p) => [p.kind, p.key]),
        [['missing_object', objectKey]],
      );
    } finally {
      renameSync(`${file(objectKey)}.hidden`, file(objectKey));
    }
    renameSync(file(manifests[1]!), `${file(manifests[1]!)}.hidden`);
    try {
      const report = await verifyAll();
      assert.equal(report.ok, false);
      assert.ok(report.problems.some((p) => p.kind === 'missing_object' && p.key === manifests[1]));
      assert.ok(report.problems.some((p) => p.kind === 'sequence_gap' && p.key === manifests[2]));
    } finally {
      renameSync(`${file(manifests[1]!)}.hidden`, file(manifests[1]!));
    }
    // chain_b ran once: with its only manifest gone, the state table's chain head still names it.
    const onlyManifest =
      'stage=local/dt=2026-08-01/job_id=chain_b/manifest/run=20260801T000000Z.json';
    renameSync(file(onlyManifest), `${file(onlyManifest)}.hidden`);
    try {
      const report = await verifyAll();
      assert.deepEqual(
        report.problems.map((p) => [p.kind, p.key]),
        [['missing_object', onlyManifest]],
      );
      assert.equal((await verifyEvidence(runtime.deps, { jobId: 'chain_b' })).ok, false);
    } finally {
      renameSync(`${file(onlyManifest)}.hidden`, file(onlyManifest));
    }
  });

  test('reordering two manifests (swapping them) fails verify, naming both', async () => {
    const [first, second] = [manifests[1]!, manifests[2]!];
    const a = readFileSync(file(first));
    const b = readFileSync(file(second));
    writeFileSync(file(first), b);
    writeFileSync(file(second), a);
    try {
      const report = await verifyAll();
      assert.equal(report.ok, false);
      const named = new Set(
        report.problems.filter((p) => p.kind === 'misplaced_manifest').map((p) => p.key),
      );
      assert.deepEqual([...named].sort(), [first, second].sort());
    } finally {
      writeFileSync(file(first), a);
      writeFileSync(file(second), b);
    }
    assert.equal((await verifyAll()).ok, true, 'restored evidence verifies again');
  });

  test('a run that started and never ended (its lease long expired) is reported', async () => {
    const { createPreflightHandler } = await import('../../functions/preflight/handler');
    await createPreflightHandler(runtime.deps)(
      {
        executionId: 'exec-lost',
        request: { jobId: 'chain_b', scheduledTime: '2026-08-02T00:00:00Z', trigger: 'schedule' },
      },
      {} as never,
    );
    assert.equal((await verifyAll()).ok, true, 'within its lease a run is in flight, not lost');

    const later = new LocalRuntime(stack.env, [countingJob('chain_a'), countingJob('chain_b')], {
      clock: { now: () => new Date(Date.now() + 3600_000) },
    });
    const report = await verifyEvidence(later.deps, {});

    assert.deepEqual(
      report.problems.map((p) => [p.kind, p.key]),
      [
        [
          'unfinished_run',
          'stage=local/dt=2026-08-02/job_id=chain_b/manifest/run=20260802T000000Z.json',
        ],
      ],
    );
    assert.match(report.problems[0]!.detail, /exec-lost/);
    assert.equal(
      (await verifyEvidence(later.deps, { jobRunId: 'chain_b/2026-08-02T00:00:00Z' })).problems[0]
        ?.kind,
      'unfinished_run',
    );
  });
});
