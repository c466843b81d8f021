import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AuditEvent, RunContext } from '../../contracts';
import { DynamoDbStateStore } from '../../functions/adapters/dynamodb-state-store';
import type { SealedOutcome, StateStore } from '../../functions/core/ports';
import type { LocalStack } from '../../local/stack';
import { testStack } from '../support/local';

/** The StateStore contract, run against every implementation of the port (today: DynamoDB, on DynamoDB Local). */
function stateStoreSuite(name: string, open: () => Promise<{ store: StateStore; close: () => Promise<void> }>) {
  describe(`StateStore contract: ${name}`, () => {
    let store: StateStore;
    let close: () => Promise<void>;
    before(async () => ({ store, close } = await open()));
    after(async () => close());

    let n = 0;
    const newRun = (jobId = 'store_job'): { run: RunContext; start: AuditEvent } => {
      const jobRunId = `${jobId}/2026-03-01T00:${String(n++).padStart(2, '0')}:00Z`;
      const run: RunContext = {
        stage: 'local',
        jobId,
        jobVersion: '1.0.0',
        jobRunId,
        scheduledTime: '2026-03-01T00:00:00Z',
        trigger: 'schedule',
        executionId: `exec-${n}`,
        window: { start: '2026-03-01T00:00:00Z', end: '2026-03-01T01:00:00Z' },
        evidencePrefix: `stage=local/dt=2026-03-01/job_id=${jobId}/run=${n}/`,
        policySnapshot: { stage: 'local', sha256: 'a'.repeat(64) },
        jobConfigSha256: 'b'.repeat(64),
        datasetRefs: [],
        claimedAt: '2026-03-01T00:00:01Z',
      };
      const start = { schemaVersion: 1, eventId: `${jobRunId}#job.run.start`, type: 'job.run.start', at: run.claimedAt, stage: 'local', jobId, jobRunId, actor: { kind: 'system', id: 'test' } } as AuditEvent;
      return { run, start };
    };
    const outcome = (status: 'ok' | 'error'): SealedOutcome => ({
      status,
      quality: status === 'ok' ? 'OK' : 'UNKNOWN',
      startedAt: '2026-03-01T00:00:01Z',
      endedAt: '2026-03-01T00:00:02Z',
      attempts: 1,
      diagnostics: [],
      error: null,
      integrityReport: null,
      events: [],
    });

    test('claimRun claims once; a second claim of the same run is refused', async () => {
      const { run, start } = newRun();
      assert.equal(await store.claimRun(run, start), true);
      assert.equal(await store.claimRun({ ...run, executionId: 'other' }, start), false);
      const item = await store.getRun(run.jobRunId);
      assert.equal(item?.executionId, run.executionId);
      assert.equal(item?.phase, 'claimed');
      assert.deepEqual(item?.audit, [start]);
    });

    test('concurrent claims of one run: exactly one wins', async () => {
      const { run, start } = newRun();
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.claimRun({ ...run, executionId: `e${i}` }, start)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    test('countExecuteAttempt counts up; sealOutcome keeps the first outcome', async () => {
      const { run, start } = newRun();
      await store.claimRun(run, start);
      assert.equal(await store.countExecuteAttempt(run.jobRunId), 1);
      assert.equal(await store.countExecuteAttempt(run.jobRunId), 2);
      assert.equal((await store.sealOutcome(run.jobRunId, outcome('ok'))).status, 'ok');
      assert.equal((await store.sealOutcome(run.jobRunId, outcome('error'))).status, 'ok');
    });

    test('linkChain moves the head only from the expected sequence, once per run', async () => {
      const a = newRun('chain_job');
      const b = newRun('chain_job');
      await store.claimRun(a.run, a.start);
      await store.claimRun(b.run, b.start);
      const link = (sequence: number, key: string) => ({ sequence, manifestKey: key, manifestSha256: 'c'.repeat(64), previous: null });

      assert.equal(await store.linkChain('chain_job', a.run.jobRunId, 0, link(1, 'a')), 'linked');
      assert.equal(await store.linkChain('chain_job', b.run.jobRunId, 0, link(1, 'b')), 'conflict');
      assert.equal(await store.linkChain('chain_job', a.run.jobRunId, 1, link(2, 'a2')), 'already');
      assert.equal(await store.linkChain('chain_job', b.run.jobRunId, 1, link(2, 'b')), 'linked');
      assert.equal((await store.getJobState('chain_job'))?.chainHead?.manifestKey, 'b');
    });

    test('completeRun updates the job state once: failures count up, a success resets them', async () => {
      const runs = [newRun('count_job'), newRun('count_job'), newRun('count_job')];
      for (const r of runs) await store.claimRun(r.run, r.start);
      const summary = (r: { run: RunContext }, status: 'ok' | 'error') => ({ jobRunId: r.run.jobRunId, jobId: 'count_job', status, quality: 'OK' as const, evidencePrefix: null, manifestKey: null, error: null });

      assert.equal(await store.completeRun(summary(runs[0]!, 'error'), '2026-03-01T00:00:02Z'), true);
      assert.equal(await store.completeRun(summary(runs[0]!, 'error'), '2026-03-01T00:00:02Z'), false);
      await store.completeRun(summary(runs[1]!, 'error'), '2026-03-01T00:00:03Z');
      assert.equal((await store.getJobState('count_job'))?.consecutiveFailures, 2);
      await store.completeRun(summary(runs[2]!, 'ok'), '2026-03-01T00:00:04Z');

      const state = await store.getJobState('count_job');
      assert.equal(state?.consecutiveFailures, 0);
      assert.equal(state?.runCount, 3);
      assert.equal(state?.lastStatus, 'ok');
      assert.equal(state?.lastRunAt, '2026-03-01T00:00:04Z');
      assert.equal((await store.getRun(runs[0]!.run.jobRunId))?.phase, 'finalized');
    });

    test('the scheduler cursor only moves forward', async () => {
      assert.equal(await store.getSchedulerCursor('cursor_job'), undefined);
      await store.setSchedulerCursor('cursor_job', '2026-03-01T01:00:00Z');
      await store.setSchedulerCursor('cursor_job', '2026-03-01T00:00:00Z');
      assert.equal(await store.getSchedulerCursor('cursor_job'), '2026-03-01T01:00:00Z');
    });

    test('an unreachable table surfaces as a typed, retryable DependencyError', async () => {
      const broken = new DynamoDbStateStore(new DynamoDBClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', maxAttempts: 1 }), 'nope');
      await assert.rejects(broken.getJobState('x'), (e: Error) => e.name === 'DependencyError' && (e as { retryable?: boolean }).retryable === true && e.cause !== undefined);
    });
  });
}

let stack: LocalStack;
stateStoreSuite('DynamoDbStateStore on DynamoDB Local', async () => {
  stack = await testStack();
  const client = new DynamoDBClient({ region: stack.env.AWS_REGION, endpoint: stack.env.AWS_ENDPOINT_URL_DYNAMODB });
  return { store: new DynamoDbStateStore(client, stack.env.STATE_TABLE_NAME), close: async () => (client.destroy(), await stack.stop()) };
});
