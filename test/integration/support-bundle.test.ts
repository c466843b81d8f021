import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { AuditEvent, SupportBundleManifest } from '../../contracts';
import { sha256Hex } from '../../functions/core/hashing';
import { createSupportBundle } from '../../functions/core/support-bundle';
import { LocalRuntime } from '../../local/runtime';
import { CANARIES } from '../support/canaries';
import { countingJob } from '../support/jobs';
import { withTestJobs } from '../support/local';
import { memoryStack } from '../support/memory';

describe('opsrail support-bundle: the run’s evidence chain and state, redacted, in one archive', () => {
  let stack: ReturnType<typeof memoryStack>;
  let runtime: LocalRuntime;
  beforeAll(async () => {
    // Core rules over the in-memory ports (their contract suites prove them equal to DynamoDB and
    // S3).
    stack = memoryStack({ policyDir: withTestJobs([{ jobId: 'bundled_job' }]) });
    runtime = new LocalRuntime(stack.env, [countingJob('bundled_job')], { ports: stack.ports });
    await runtime.run({
      jobId: 'bundled_job',
      scheduledTime: '2026-09-01T00:00:00Z',
      trigger: 'schedule',
    });
    await runtime.run({
      jobId: 'bundled_job',
      scheduledTime: '2026-09-01T01:00:00Z',
      trigger: 'schedule',
    });
    await runtime.run({
      jobId: 'bundled_job',
      scheduledTime: '2026-09-01T01:00:00Z',
      trigger: 'schedule',
    }); // a duplicate delivery
    // A secret that reached the state table by some other road must still not leave in a bundle.
    await runtime.deps.state.recordAttemptFailure(
      'bundled_job/2026-09-01T01:00:00Z',
      `token ${CANARIES.slack_token} for ${CANARIES.email}`,
    );
  });
  afterAll(async () => stack.stop());

  test('the archive holds the manifest, every object it lists, the previous manifest and the job state, each hashed in its manifest', async () => {
    const bundle = await createSupportBundle(
      runtime.deps,
      'bundled_job/2026-09-01T01:00:00Z',
      'dana',
    );

    const dir = mkdtempSync(join(tmpdir(), 'opsrail-bundle-'));
    writeFileSync(join(dir, bundle.fileName), bundle.archive);
    execFileSync('tar', ['-xzf', bundle.fileName], { cwd: dir });
    const manifest = SupportBundleManifest.parse(
      JSON.parse(readFileSync(join(dir, 'support_bundle_manifest.json'), 'utf8')),
    );
    assert.deepEqual(manifest.files.map((f) => f.name).sort(), [
      'evidence/audit.jsonl',
      'evidence/integrity_report.json',
      'evidence/lineage.json',
      'evidence/manifest.json',
      'evidence/outputs/effect.txt',
      'evidence/previous_manifest.json',
      'evidence/replay_pointers.json',
      'evidence/run_record.json',
      'state/duplicates.jsonl',
      'state/job_state.json',
      'state/run.json',
    ]);
    for (const file of manifest.files)
      assert.equal(sha256Hex(readFileSync(join(dir, file.name))), file.sha256, file.name);
    assert.equal(JSON.parse(readFileSync(join(dir, 'state/job_state.json'), 'utf8')).runCount, 2);
    assert.equal(
      readFileSync(join(dir, 'state/duplicates.jsonl'), 'utf8').trim().split('\n').length,
      1,
    );
    const everything = manifest.files
      .map((f) => readFileSync(join(dir, f.name), 'utf8'))
      .join('\n');
    assert.ok(
      !everything.includes(CANARIES.slack_token!) && !everything.includes(CANARIES.email!),
      'redacted',
    );
    assert.match(
      readFileSync(join(dir, 'state/run.json'), 'utf8'),
      /\[REDACTED\] for \[REDACTED\]/,
    );
  });

  test('creating a bundle is audited as support_bundle.created, with who and the archive hash', async () => {
    const bundle = await createSupportBundle(
      runtime.deps,
      'bundled_job/2026-09-01T00:00:00Z',
      'erin',
    );

    // Dated by the real clock: list every day, so a run across midnight can't miss it.
    const keys = (await stack.ports.evidence.list('stage=local/')).filter(
      (k) => k.includes('/control/') && k.includes('support_bundle.created'),
    );
    const events = await Promise.all(
      keys.map(async (k) =>
        AuditEvent.parse(
          JSON.parse(new TextDecoder().decode(await runtime.deps.evidence.getObject(k))),
        ),
      ),
    );
    const event = events.find((e) => e.actor.id === 'erin');
    assert.equal(event?.jobId, 'bundled_job');
    assert.equal(event?.details?.jobRunId, 'bundled_job/2026-09-01T00:00:00Z');
    assert.equal(event?.details?.sha256, sha256Hex(bundle.archive));
  });

  test('an unknown run is refused naming the field', async () => {
    await assert.rejects(
      createSupportBundle(runtime.deps, 'bundled_job/2027-01-01T00:00:00Z', 'dana'),
      /jobRunId: no evidence/,
    );
    await assert.rejects(createSupportBundle(runtime.deps, 'not a run id', 'dana'), /jobRunId/);
  });
});
