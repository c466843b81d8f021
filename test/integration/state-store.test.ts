import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
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
    beforeAll(async () => ({ store, close } = await open()));
    afterAll(async () => close());

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
        outputDatasetId: `opsrail.outputs.${jobId}`,
        requestedBy: 'scheduler',
        params: {},
        approvalRequired: false,
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
      effect: { kind: status === 'ok' ? 'success' : 'failure', quarantine: null } as SealedOutcome['effect'],
    });
    const LEASE = '2026-03-01T00:20:00Z';

    test('claimRun claims once; a second claim of the same run is refused', async () => {
      const { run, start } = newRun();
      assert.equal(await store.claimRun(run, start, LEASE), true);
      assert.equal(await store.claimRun({ ...run, executionId: 'other' }, start, LEASE), false);
      const item = await store.getRun(run.jobRunId);
      assert.equal(item?.executionId, run.executionId);
      assert.equal(item?.phase, 'claimed');
      assert.deepEqual(item?.audit, [start]);
    });

    test('concurrent claims of one run: exactly one wins', async () => {
      const { run, start } = newRun();
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.claimRun({ ...run, executionId: `e${i}` }, start, LEASE)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    test('countExecuteAttempt counts up; sealOutcome keeps the first outcome', async () => {
      const { run, start } = newRun();
      await store.claimRun(run, start, LEASE);
      assert.deepEqual(await store.countExecuteAttempt(run.jobRunId), { attempts: 1 });
      await store.recordAttemptFailure(run.jobRunId, 'DependencyError: 503');
      assert.deepEqual(await store.countExecuteAttempt(run.jobRunId), { attempts: 2, lastAttemptError: 'DependencyError: 503' });
      assert.equal((await store.sealOutcome(run.jobRunId, outcome('ok'))).status, 'ok');
      assert.equal((await store.sealOutcome(run.jobRunId, outcome('error'))).status, 'ok');
    });

    test('linkChain moves the head only from the expected sequence, once per run', async () => {
      const a = newRun('chain_job');
      const b = newRun('chain_job');
      await store.claimRun(a.run, a.start, LEASE);
      await store.claimRun(b.run, b.start, LEASE);
      const link = (sequence: number, key: string) => ({ sequence, manifestKey: key, manifestSha256: 'c'.repeat(64), previous: null });

      assert.equal(await store.linkChain('chain_job', a.run.jobRunId, 0, link(1, 'a')), 'linked');
      assert.equal(await store.linkChain('chain_job', b.run.jobRunId, 0, link(1, 'b')), 'conflict');
      assert.equal(await store.linkChain('chain_job', a.run.jobRunId, 1, link(2, 'a2')), 'already');
      assert.equal(await store.linkChain('chain_job', b.run.jobRunId, 1, link(2, 'b')), 'linked');
      assert.equal((await store.getJobState('chain_job'))?.chainHead?.manifestKey, 'b');
    });

    test('countFailure counts a run once; completeRun records it once; a success resets the count', async () => {
      const runs = [newRun('count_job'), newRun('count_job'), newRun('count_job')];
      for (const r of runs) await store.claimRun(r.run, r.start, LEASE);
      const summary = (r: { run: RunContext }, status: 'ok' | 'error') => ({ jobRunId: r.run.jobRunId, jobId: 'count_job', status, quality: 'OK' as const, evidencePrefix: null, manifestKey: null, error: null });

      assert.deepEqual(await store.countFailure('count_job', runs[0]!.run.jobRunId, 5, 't1'), { consecutiveFailures: 1, quarantine: null });
      assert.deepEqual(await store.countFailure('count_job', runs[0]!.run.jobRunId, 5, 't1'), { consecutiveFailures: 1, quarantine: null }, 'a repeat is the same answer');
      const failure = { kind: 'failure', quarantine: null } as const;
      assert.equal(await store.completeRun(summary(runs[0]!, 'error'), '2026-03-01T00:00:02Z', failure), true);
      assert.equal(await store.completeRun(summary(runs[0]!, 'error'), '2026-03-01T00:00:02Z', failure), false);
      assert.deepEqual(await store.countFailure('count_job', runs[1]!.run.jobRunId, 5, 't2'), { consecutiveFailures: 2, quarantine: null });
      await store.completeRun(summary(runs[1]!, 'error'), '2026-03-01T00:00:03Z', failure);
      assert.equal((await store.getJobState('count_job'))?.consecutiveFailures, 2);
      await store.completeRun(summary(runs[2]!, 'ok'), '2026-03-01T00:00:04Z', { kind: 'success' });

      const state = await store.getJobState('count_job');
      assert.equal(state?.consecutiveFailures, 0);
      assert.equal(state?.runCount, 3);
      assert.equal(state?.lastStatus, 'ok');
      assert.equal(state?.lastRunAt, '2026-03-01T00:00:04Z');
      assert.equal(state?.lastSuccessAt, '2026-03-01T00:00:04Z');
      assert.equal((await store.getRun(runs[0]!.run.jobRunId))?.phase, 'finalized');
    });

    test('concurrent failures each get their own count, and exactly one of them enters quarantine at the threshold', async () => {
      const runs = Array.from({ length: 4 }, () => newRun('racing_job'));
      for (const r of runs) await store.claimRun(r.run, r.start, LEASE);

      const counts = await Promise.all(runs.map((r) => store.countFailure('racing_job', r.run.jobRunId, 3, 't')));

      assert.ok(counts.every((c) => c !== 'moved'));
      const settled = counts as Exclude<(typeof counts)[number], 'moved'>[];
      assert.deepEqual(settled.map((c) => c.consecutiveFailures).sort(), [1, 2, 3, 4]);
      const entered = settled.filter((c) => c.quarantine);
      assert.equal(entered.length, 1);
      assert.equal(entered[0]?.consecutiveFailures, 3);
      const state = await store.getJobState('racing_job');
      assert.equal(state?.consecutiveFailures, 4);
      assert.deepEqual(state?.quarantine, entered[0]?.quarantine);
    });

    test('a neutral run (refused, stopped, or quality not OK) leaves the failure count alone; the failure at the threshold enters quarantine', async () => {
      const runs = [newRun('neutral_job'), newRun('neutral_job'), newRun('neutral_job')];
      for (const r of runs) await store.claimRun(r.run, r.start, LEASE);
      const summary = (r: { run: RunContext }, status: 'ok' | 'error' | 'skipped') => ({ jobRunId: r.run.jobRunId, jobId: 'neutral_job', status, quality: 'UNKNOWN' as const, evidencePrefix: null, manifestKey: null, error: null });
      await store.countFailure('neutral_job', runs[0]!.run.jobRunId, 2, 't1');
      await store.completeRun(summary(runs[0]!, 'error'), 't1', { kind: 'failure', quarantine: null });
      await store.completeRun(summary(runs[1]!, 'ok'), 't2', { kind: 'neutral' });
      assert.equal((await store.getJobState('neutral_job'))?.consecutiveFailures, 1);
      assert.equal((await store.getJobState('neutral_job'))?.lastSuccessAt, undefined);

      const counted = await store.countFailure('neutral_job', runs[2]!.run.jobRunId, 2, 't3');
      const quarantine = { since: 't3', jobRunId: runs[2]!.run.jobRunId, reason: '2 consecutive failures (threshold 2)' };
      assert.deepEqual(counted, { consecutiveFailures: 2, quarantine });
      await store.completeRun(summary(runs[2]!, 'error'), 't3', { kind: 'failure', quarantine });

      assert.deepEqual((await store.getJobState('neutral_job'))?.quarantine, quarantine);
      assert.deepEqual(await store.releaseQuarantine('neutral_job'), quarantine);
      const released = await store.getJobState('neutral_job');
      assert.equal(released?.quarantine, undefined);
      assert.equal(released?.consecutiveFailures, 0);
    });

    test('open runs are listed until finalized; an expired claim is taken over once, by its expected holder only', async () => {
      const { run, start } = newRun('lease_job');
      await store.claimRun(run, start, LEASE);
      assert.ok((await store.listOpenRuns()).some((o) => o.jobRunId === run.jobRunId && o.executionId === run.executionId));
      const event = { ...start, eventId: `${run.jobRunId}#takeover`, type: 'job.run.retry', retry: { count: 1, reason: 'lease expired' } } as AuditEvent;

      assert.equal(await store.takeOverRun(run.jobRunId, { executionId: 'someone-else', leaseExpiresAt: LEASE }, { executionId: 'new', leaseExpiresAt: 'L2', event }), false);
      assert.equal(await store.takeOverRun(run.jobRunId, { executionId: run.executionId, leaseExpiresAt: LEASE }, { executionId: 'new', leaseExpiresAt: 'L2', event }), true);
      assert.equal(await store.takeOverRun(run.jobRunId, { executionId: run.executionId, leaseExpiresAt: LEASE }, { executionId: 'third', leaseExpiresAt: 'L3', event }), false);

      const item = await store.getRun(run.jobRunId);
      assert.equal(item?.executionId, 'new');
      assert.deepEqual(item?.audit.map((e) => e.type), ['job.run.start', 'job.run.retry']);
      await store.completeRun({ jobRunId: run.jobRunId, jobId: 'lease_job', status: 'ok', quality: 'OK', evidencePrefix: null, manifestKey: null, error: null }, 't', { kind: 'success' });
      assert.ok(!(await store.listOpenRuns()).some((o) => o.jobRunId === run.jobRunId));
    });

    test('controls: safety mode, kill-switches and dataset integrity are read back in one call', async () => {
      const change = { reason: 'incident 42', changedBy: 'alice', changedAt: '2026-03-01T00:00:00Z' };
      await store.setSafetyState({ schemaVersion: 1, mode: 'SAFE', ...change });
      await store.setKillSwitch({ schemaVersion: 1, jobId: null, engaged: true, ...change });
      await store.setKillSwitch({ schemaVersion: 1, jobId: 'some_job', engaged: true, ...change });
      await store.setDatasetIntegrity({ schemaVersion: 1, datasetId: 'ds.one', status: 'FAIL', recordedBy: 'x', recordedAt: change.changedAt });

      const controls = await store.getControls();

      assert.equal(controls.safety?.mode, 'SAFE');
      assert.equal(controls.globalKillSwitch?.engaged, true);
      assert.equal(controls.jobKillSwitches.some_job?.changedBy, 'alice');
      assert.equal(controls.datasets['ds.one']?.status, 'FAIL');
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
