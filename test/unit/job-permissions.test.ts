import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, test } from 'vitest';
import { JobDefinition, JobIamStatement, stageResourceNames } from '../../contracts';
import { MemoryEvidenceStore } from '../../functions/adapters/memory-evidence-store';
import { PermissionError } from '../../functions/core/errors';
import { evidenceAsDeclared } from '../../functions/core/run/job-permissions';

const jobWith = (reads: string[], writes: string[]) =>
  JobDefinition.parse({
    jobId: 'perm_job',
    jobVersion: '1.0.0',
    jobClass: 'MAINTENANCE',
    owner: 'sre',
    description: 'permissions',
    schedule: { expression: 'rate(1 hour)', timezone: 'UTC' },
    environment: 'dev',
    capabilities: { reads, writes },
  });

describe('a job’s code reaches evidence only as it declares (docs/writing-a-job.md#permissions)', () => {
  const bytes = new TextEncoder().encode('{}');

  test('declaring nothing: reading, listing and writing are refused as PermissionError, naming the capability', async () => {
    // Prepare
    const store = new MemoryEvidenceStore();
    await store.putObject('stage=dev/a.json', bytes, 'application/json');
    const evidence = evidenceAsDeclared(jobWith([], []), store);

    // Act / Assess
    await assert.rejects(() => evidence.getObject('stage=dev/a.json'), PermissionError);
    await assert.rejects(() => evidence.list('stage=dev/'), /capabilities\.reads/);
    await assert.rejects(
      () => evidence.putObject('stage=dev/b.json', bytes, 'application/json'),
      /perm_job.*capabilities\.writes/,
    );
    assert.deepEqual(await store.list('stage=dev/'), ['stage=dev/a.json'], 'nothing written');
  });

  test('reads: evidence reads and lists, and still may not write', async () => {
    const store = new MemoryEvidenceStore();
    await store.putObject('stage=dev/a.json', bytes, 'application/json');
    const evidence = evidenceAsDeclared(jobWith(['evidence'], ['state']), store);

    assert.deepEqual(await evidence.getObject('stage=dev/a.json'), bytes);
    assert.deepEqual(await evidence.list('stage=dev/'), ['stage=dev/a.json']);
    await assert.rejects(
      () => evidence.putObject('stage=dev/b.json', bytes, 'application/json'),
      PermissionError,
    );
  });

  test('writes: exports writes under stage=…/exports/ only, and reads (docs/exports.md#permissions)', async () => {
    // Prepare
    const store = new MemoryEvidenceStore();
    await store.putObject('stage=dev/a.json', bytes, 'application/json');
    const evidence = evidenceAsDeclared(jobWith(['state'], ['exports']), store);
    // Act
    const written = await evidence.putObject('stage=dev/exports/x.json', bytes, 'application/json');
    // Assess
    assert.equal(written, 'written');
    assert.deepEqual(await evidence.getObject('stage=dev/a.json'), bytes);
    await assert.rejects(
      () =>
        evidence.putObject('stage=dev/dt=2026-01-01/job_id=j/b.json', bytes, 'application/json'),
      /outside exports\/.*capabilities\.writes/,
    );
    await assert.rejects(
      () => evidence.putObject('stage=dev/control/c.json', bytes, 'application/json'),
      PermissionError,
    );
    assert.deepEqual(await store.list('stage=dev/'), [
      'stage=dev/a.json',
      'stage=dev/exports/x.json',
    ]);
  });

  test('writes: evidence writes, and reads back (the write-once comparison needs it)', async () => {
    const store = new MemoryEvidenceStore();
    const evidence = evidenceAsDeclared(jobWith([], ['evidence']), store);

    assert.equal(
      await evidence.putObject('stage=dev/b.json', bytes, 'application/json'),
      'written',
    );
    assert.equal(
      await evidence.putObject('stage=dev/b.json', bytes, 'application/json'),
      'already_exists',
    );
    assert.deepEqual(await evidence.getObject('stage=dev/b.json'), bytes);
  });
});

describe('a job’s function name', () => {
  test('opsrail-<stage>-job-<jobId>, within Lambda’s 64 characters, and two job ids never share one', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('local', 'dev', 'stage', 'prod'),
        fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9_]{1,62}$/), { minLength: 2, maxLength: 5 }),
        (stage, jobIds) => {
          const names = jobIds.map((id) => stageResourceNames(stage).jobFunction(id));
          for (const [i, name] of names.entries()) {
            assert.ok(name.length <= 64, name);
            assert.match(name, /^[A-Za-z0-9_-]+$/);
            const plain = `opsrail-${stage}-job-${jobIds[i]}`;
            if (plain.length <= 64) assert.equal(name, plain);
            else assert.ok(name.startsWith(plain.slice(0, 40)), name);
          }
          assert.equal(new Set(names).size, names.length);
        },
      ),
    );
  });
});

describe('a job’s own IAM statements', () => {
  test('a wildcard needs a reason (it becomes the cdk-nag acknowledgement), named by the field', () => {
    const wild = { actions: ['s3:DeleteObject'], resources: ['arn:aws:s3:::scratch/*'] };
    const result = JobIamStatement.safeParse(wild);
    assert.equal(result.success, false);
    assert.deepEqual(
      result.error?.issues.map((i) => i.path.join('.')),
      ['reason'],
    );
    assert.equal(
      JobIamStatement.safeParse({ ...wild, reason: 'names made at run time' }).success,
      true,
    );
    assert.equal(
      JobIamStatement.safeParse({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::b/k'] })
        .success,
      true,
      'no wildcard, no reason needed',
    );
  });
});
