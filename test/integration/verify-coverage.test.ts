import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { engageKillSwitch, recordControlEvent, setSafetyMode } from '../../functions/core/controls';
import { createSupportBundle } from '../../functions/core/support-bundle';
import { verifyEvidence } from '../../functions/core/verify';
import { LocalRuntime } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { listKeys } from '../support/evidence';
import { countingJob } from '../support/jobs';
import { testStack, withTestJobs } from '../support/local';

/**
 * verify vouches for every object under a bundle or control/ prefix: objects no manifest lists are
 * named (unlisted_object), and control events are a hash chain checked like run manifests. Planting
 * goes through the S3 API (write access without the product); tampering goes to s3rver's files.
 */
describe('verify covers all evidence: unlisted objects and the chain of control events', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  let s3: S3Client;
  const file = (key: string) =>
    join(stack.home, 's3', stack.env.EVIDENCE_BUCKET_NAME, `${key}._S3rver_object`);
  const controlKeys = async () =>
    (await listKeys(stack.env, 'stage=local/')).filter((k) => k.includes('/control/'));
  const problemsOf = async (scope: Parameters<typeof verifyEvidence>[1] = {}) =>
    (await verifyEvidence(runtime.deps, scope)).problems.map((p) => [p.kind, p.key]);
  const plant = async (key: string, body: string, check: () => Promise<void>) => {
    await s3.send(
      new PutObjectCommand({ Bucket: stack.env.EVIDENCE_BUCKET_NAME, Key: key, Body: body }),
    );
    try {
      await check();
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: stack.env.EVIDENCE_BUCKET_NAME, Key: key }));
    }
  };
  const controls = () => ({
    ...runtime.deps,
    executions: { stopRunning: async () => [] },
    schedules: { disable: async () => [] },
  });

  beforeAll(async () => {
    stack = await testStack({ policyDir: withTestJobs([{ jobId: 'plant_a' }]) });
    runtime = new LocalRuntime(stack.env, [countingJob('plant_a')]);
    s3 = new S3Client({
      region: stack.env.AWS_REGION,
      endpoint: stack.env.AWS_ENDPOINT_URL_S3,
      forcePathStyle: true,
    });
    for (const hour of ['00', '01'])
      assert.equal(
        (
          await runtime.run({
            jobId: 'plant_a',
            scheduledTime: `2026-09-01T${hour}:00:00Z`,
            trigger: 'schedule',
          })
        ).kind,
        'completed',
      );
    await engageKillSwitch(controls(), 'plant_a', { by: 'carol', reason: 'testing the chain' });
    await setSafetyMode(controls(), 'SAFE', { by: 'dave', reason: 'testing the chain' });
    await createSupportBundle(runtime.deps, 'plant_a/2026-09-01T00:00:00Z', 'erin');
  });
  afterAll(async () => {
    s3.destroy();
    await stack.stop();
  });

  test('untouched evidence verifies, control events included', async () => {
    const report = await verifyEvidence(runtime.deps, {});
    assert.deepEqual(report.problems, []);
    assert.deepEqual([report.ok, report.manifests, report.controlEvents], [true, 2, 3]);
    const events = await Promise.all(
      (await controlKeys()).map(async (k) => JSON.parse(readFileSync(file(k), 'utf8'))),
    );
    assert.deepEqual(events.map((e) => e.chain.sequence).sort(), [1, 2, 3]);
    assert.equal(events.find((e) => e.chain.sequence === 1).chain.previous, null);
  });

  test('a run_record planted for a run that never happened fails verify, named', async () => {
    const key = 'stage=local/dt=2026-09-01/job_id=plant_a/run_record/run=20260901T050000Z.json';
    const record = readFileSync(
      file((await listKeys(stack.env, 'stage=local/dt=2026-09-01/job_id=plant_a/run_record/'))[0]!),
      'utf8',
    );
    await plant(
      key,
      record.replaceAll('01:00:00', '05:00:00').replaceAll('00:00:00', '05:00:00'),
      async () => {
        assert.deepEqual(await problemsOf(), [['unlisted_object', key]]);
        assert.deepEqual(await problemsOf({ jobId: 'plant_a' }), [['unlisted_object', key]]);
        const one = await verifyEvidence(runtime.deps, {
          jobRunId: 'plant_a/2026-09-01T05:00:00Z',
        });
        assert.equal(one.ok, false);
        assert.ok(one.problems.some((p) => p.kind === 'unlisted_object' && p.key === key));
      },
    );
    assert.equal((await verifyEvidence(runtime.deps, {})).ok, true);
  });

  test('an object planted under an existing bundle prefix fails verify, named, also for that run alone', async () => {
    const key = 'stage=local/dt=2026-09-01/job_id=plant_a/outputs/run=20260901T010000Z/extra.txt';
    await plant(key, 'not from the job\n', async () => {
      assert.deepEqual(await problemsOf(), [['unlisted_object', key]]);
      assert.deepEqual(await problemsOf({ jobRunId: 'plant_a/2026-09-01T01:00:00Z' }), [
        ['unlisted_object', key],
      ]);
      assert.deepEqual(
        await problemsOf({ jobRunId: 'plant_a/2026-09-01T00:00:00Z' }),
        [],
        'another run is not blamed',
      );
    });
  });

  test('a control event planted under control/ is not in the chain: unlisted_object', async () => {
    const [first] = await controlKeys();
    const key = 'stage=local/dt=2026-09-01/control/20260901T000000Z-safety.mode.change-000002.json';
    await plant(key, readFileSync(file(first!), 'utf8'), async () => {
      assert.deepEqual(await problemsOf(), [['unlisted_object', key]]);
    });
  });

  test('a flipped byte in a control event fails verify, naming the event', async () => {
    const byName = new Map(
      await Promise.all(
        (await controlKeys()).map(
          async (k) =>
            [JSON.parse(readFileSync(file(k), 'utf8')).chain.sequence as number, k] as const,
        ),
      ),
    );
    for (const sequence of [1, 2, 3]) {
      const key = byName.get(sequence)!;
      const original = readFileSync(file(key));
      const at = original.indexOf('control#');
      const tampered = Buffer.from(original);
      tampered[at] = 0x43; // 'c' -> 'C' in the event id: still JSON, still a valid event
      writeFileSync(file(key), tampered);
      try {
        assert.deepEqual(await problemsOf(), [['hash_mismatch', key]], `sequence ${sequence}`);
      } finally {
        writeFileSync(file(key), original);
      }
    }
    // Broken beyond parsing: named as unreadable; the older events it cut off are named too.
    const middle = byName.get(2)!;
    const original = readFileSync(file(middle));
    writeFileSync(file(middle), Buffer.concat([Buffer.from('#'), original.subarray(1)]));
    try {
      const problems = await problemsOf();
      assert.deepEqual(problems.slice(0, 2), [
        ['hash_mismatch', middle],
        ['unreadable_control_event', middle],
      ]);
      assert.deepEqual(problems.slice(2), [['unlisted_object', byName.get(1)!]]);
    } finally {
      writeFileSync(file(middle), original);
    }
    assert.equal((await verifyEvidence(runtime.deps, {})).ok, true);
  });

  test('a deleted control event is missing, named by the event that links to it', async () => {
    const [first] = await controlKeys();
    renameSync(file(first!), `${file(first!)}.hidden`);
    try {
      assert.deepEqual(await problemsOf(), [['missing_object', first]]);
    } finally {
      renameSync(`${file(first!)}.hidden`, file(first!));
    }
  });

  test('concurrent control events each get their own sequence number; a write cut short is finished by the next event', async () => {
    await Promise.all(
      ['a', 'b', 'c', 'd'].map((who) =>
        recordControlEvent(
          runtime.deps,
          'kill_switch.engage',
          { by: who, reason: 'race' },
          { scope: who },
        ),
      ),
    );
    const sequences = (
      await Promise.all(
        (
          await controlKeys()
        ).map(async (k) => JSON.parse(readFileSync(file(k), 'utf8')).chain.sequence),
      )
    ).sort((a, b) => a - b);
    assert.deepEqual(sequences, [1, 2, 3, 4, 5, 6, 7]);
    assert.equal((await verifyEvidence(runtime.deps, {})).ok, true);

    // The writer died between moving the head and writing the object: the head holds its bytes.
    const head = (await runtime.deps.state.getControlChainHead())!;
    const lost = {
      ...JSON.parse(head.body),
      eventId: 'control#lost',
      chain: { sequence: 8, previous: { key: head.key, sha256: head.sha256, sequence: 8 - 1 } },
    };
    const body = `${JSON.stringify(lost)}\n`;
    const lostKey = 'stage=local/dt=2026-09-01/control/lost-000008.json';
    const { sha256Hex } = await import('../../functions/core/hashing');
    assert.ok(
      await runtime.deps.state.linkControlChain(7, {
        sequence: 8,
        key: lostKey,
        sha256: sha256Hex(body),
        body,
      }),
    );
    assert.equal(
      await runtime.deps.state.linkControlChain(7, {
        sequence: 8,
        key: 'x',
        sha256: sha256Hex('x'),
        body: 'x',
      }),
      false,
      'the head moves once',
    );
    assert.deepEqual(await problemsOf(), [['missing_object', lostKey]]);
    await recordControlEvent(
      runtime.deps,
      'kill_switch.engage',
      { by: 'frank', reason: 'after a crash' },
      { scope: 'global' },
    );
    const report = await verifyEvidence(runtime.deps, {});
    assert.deepEqual(report.problems, []);
    assert.equal(report.controlEvents, 9);
  });
});
