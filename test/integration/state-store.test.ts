import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type AuditEvent, type RunContext, stageResourceNames } from '../../contracts';
import fc from 'fast-check';
import { DynamoDbStateStore } from '../../functions/adapters/dynamodb-state-store';
import { MemoryStateStore } from '../../functions/adapters/memory-state-store';
import type { SealedOutcome, StateStore } from '../../functions/core/ports';
import { dynamoDbTables } from '../support/dynamodb';

/**
 * The StateStore contract, run against every implementation of the port: DynamoDbStateStore on
 * DynamoDB Local and MemoryStateStore (which rule-level tests run on). A case here fails if either
 * drops a condition.
 */
function stateStoreSuite(
  name: string,
  open: () => Promise<{ store: StateStore; close: () => Promise<void> }>,
) {
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
        jobFunction: stageResourceNames('local').jobFunction(jobId),
        claimedAt: '2026-03-01T00:00:01Z',
      };
      const start = {
        schemaVersion: 1,
        eventId: `${jobRunId}#job.run.start`,
        type: 'job.run.start',
        at: run.claimedAt,
        stage: 'local',
        jobId,
        jobRunId,
        actor: { kind: 'system', id: 'test' },
      } as AuditEvent;
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
      effect: {
        kind: status === 'ok' ? 'success' : 'failure',
        quarantine: null,
      } as SealedOutcome['effect'],
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
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          store.claimRun({ ...run, executionId: `e${i}` }, start, LEASE),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
    });

    test('an exclusive claim takes the job slot: another window is busy (nothing written), the same window a duplicate; completing frees it', async () => {
      // Prepare
      const jobId = `slot_job_${n}`;
      const a = newRun(jobId);
      const b = newRun(jobId);

      // Act
      const first = await store.claimRun(a.run, a.start, LEASE, true);
      const other = await store.claimRun(b.run, b.start, LEASE, true);
      const again = await store.claimRun(
        { ...a.run, executionId: 'redelivery' },
        a.start,
        LEASE,
        true,
      );
      const summary = {
        jobRunId: a.run.jobRunId,
        jobId,
        status: 'ok' as const,
        quality: 'OK' as const,
        evidencePrefix: null,
        manifestKey: null,
        error: null,
      };
      const completed = await store.completeRun(
        summary,
        '2026-03-01T00:00:03Z',
        { kind: 'success' },
        true,
      );
      const afterwards = await store.claimRun(b.run, b.start, LEASE, true);

      // Assess
      assert.equal(first, true);
      assert.deepEqual(other, {
        busy: {
          jobRunId: a.run.jobRunId,
          scheduledTime: a.run.scheduledTime,
          executionId: a.run.executionId,
        },
      });
      assert.equal(again, false, 'the held window is a duplicate, not busy');
      assert.equal(completed, true);
      assert.equal(afterwards, true, 'the freed slot is claimed');
      assert.equal((await store.getRun(b.run.jobRunId))?.exclusive, true);
      assert.equal((await store.getSlot(jobId)).active?.jobRunId, b.run.jobRunId);
    });

    test('concurrent exclusive claims of six windows of one job: exactly one holds the slot, the others are busy', async () => {
      const jobId = `slot_race_${n}`;
      const runs = Array.from({ length: 6 }, () => newRun(jobId));
      const results = await Promise.all(
        runs.map((r) => store.claimRun(r.run, r.start, LEASE, true)),
      );
      assert.equal(results.filter((r) => r === true).length, 1);
      const winner = runs[results.indexOf(true)]?.run.jobRunId;
      assert.ok(
        results.every((r) => r === true || (typeof r === 'object' && r.busy.jobRunId === winner)),
      );
      const claimed = await Promise.all(runs.map((r) => store.getRun(r.run.jobRunId)));
      assert.equal(claimed.filter(Boolean).length, 1, 'a busy claim writes no run');
    });

    test('waitForSlot: the first tick waits (renewing its lease), a live other is told who waits, an expired one is replaced; leaveWaiting clears only its own', async () => {
      const jobId = `slot_wait_${n++}`;
      const tick = (executionId: string, leaseExpiresAt: string) => ({
        executionId,
        scheduledTime: '2026-03-01T01:00:00Z',
        leaseExpiresAt,
      });
      assert.equal(
        await store.waitForSlot(jobId, tick('b', '2026-03-01T00:05:00Z'), '2026-03-01T00:01:00Z'),
        'waiting',
      );
      assert.equal(
        await store.waitForSlot(jobId, tick('b', '2026-03-01T00:06:00Z'), '2026-03-01T00:02:00Z'),
        'waiting',
      );
      assert.deepEqual(
        await store.waitForSlot(jobId, tick('c', '2026-03-01T00:07:00Z'), '2026-03-01T00:03:00Z'),
        tick('b', '2026-03-01T00:06:00Z'),
      );
      await store.leaveWaiting(jobId, 'c');
      assert.equal((await store.getSlot(jobId)).waiting?.executionId, 'b', 'not c’s to clear');
      assert.equal(
        await store.waitForSlot(jobId, tick('c', '2026-03-01T00:09:00Z'), '2026-03-01T00:07:00Z'),
        'waiting',
        'b’s lease had expired',
      );
      await store.leaveWaiting(jobId, 'c');
      assert.deepEqual(await store.getSlot(jobId), {});
    });

    test('countExecuteAttempt counts up; sealOutcome keeps the first outcome', async () => {
      const { run, start } = newRun();
      await store.claimRun(run, start, LEASE);
      assert.deepEqual(await store.countExecuteAttempt(run.jobRunId), { attempts: 1 });
      await store.recordAttemptFailure(run.jobRunId, 'DependencyError: 503');
      assert.deepEqual(await store.countExecuteAttempt(run.jobRunId), {
        attempts: 2,
        lastAttemptError: 'DependencyError: 503',
      });
      assert.equal((await store.sealOutcome(run.jobRunId, outcome('ok'))).status, 'ok');
      assert.equal((await store.sealOutcome(run.jobRunId, outcome('error'))).status, 'ok');
    });

    test('linkChain moves the head only from the expected sequence, once per run', async () => {
      const a = newRun('chain_job');
      const b = newRun('chain_job');
      await store.claimRun(a.run, a.start, LEASE);
      await store.claimRun(b.run, b.start, LEASE);
      const link = (sequence: number, key: string) => ({
        sequence,
        manifestKey: key,
        manifestSha256: 'c'.repeat(64),
        previous: null,
      });

      assert.equal(await store.linkChain('chain_job', a.run.jobRunId, 0, link(1, 'a')), 'linked');
      assert.equal(await store.linkChain('chain_job', b.run.jobRunId, 0, link(1, 'b')), 'conflict');
      assert.equal(await store.linkChain('chain_job', a.run.jobRunId, 1, link(2, 'a2')), 'already');
      assert.equal(await store.linkChain('chain_job', b.run.jobRunId, 1, link(2, 'b')), 'linked');
      assert.equal((await store.getJobState('chain_job'))?.chainHead?.manifestKey, 'b');
    });

    test('the heartbeat: completeRun keeps the last failure and its kind, and a later success does not erase it', async () => {
      // Prepare
      const runs = [newRun('beat_job'), newRun('beat_job'), newRun('beat_job')];
      for (const r of runs) await store.claimRun(r.run, r.start, LEASE);
      const summary = (r: { run: RunContext }, status: 'ok' | 'error', kind?: string) => ({
        jobRunId: r.run.jobRunId,
        jobId: 'beat_job',
        status,
        quality: status === 'ok' ? ('OK' as const) : ('UNKNOWN' as const),
        evidencePrefix: null,
        manifestKey: null,
        error: kind ? { kind, name: 'PermissionError', message: 'HTTP 403' } : null,
      });
      const failure = { kind: 'failure', quarantine: null } as const;
      // Act
      await store.completeRun(summary(runs[0]!, 'error', 'timeout'), 't1', failure);
      await store.completeRun(summary(runs[1]!, 'error', 'permission'), 't2', failure);
      await store.completeRun(summary(runs[2]!, 'ok'), 't3', { kind: 'success' });
      // Assess
      const state = await store.getJobState('beat_job');
      assert.deepEqual(
        [state?.lastSuccessAt, state?.lastFailureAt, state?.lastFailureKind],
        ['t3', 't2', 'permission'],
      );
    });

    test('countFailure counts a run once; completeRun records it once; a success resets the count', async () => {
      const runs = [newRun('count_job'), newRun('count_job'), newRun('count_job')];
      for (const r of runs) await store.claimRun(r.run, r.start, LEASE);
      const summary = (r: { run: RunContext }, status: 'ok' | 'error') => ({
        jobRunId: r.run.jobRunId,
        jobId: 'count_job',
        status,
        quality: 'OK' as const,
        evidencePrefix: null,
        manifestKey: null,
        error: null,
      });

      assert.deepEqual(await store.countFailure('count_job', runs[0]!.run.jobRunId, 5, 't1'), {
        consecutiveFailures: 1,
        quarantine: null,
      });
      assert.deepEqual(
        await store.countFailure('count_job', runs[0]!.run.jobRunId, 5, 't1'),
        { consecutiveFailures: 1, quarantine: null },
        'a repeat is the same answer',
      );
      const failure = { kind: 'failure', quarantine: null } as const;
      assert.equal(
        await store.completeRun(summary(runs[0]!, 'error'), '2026-03-01T00:00:02Z', failure),
        true,
      );
      assert.equal(
        await store.completeRun(summary(runs[0]!, 'error'), '2026-03-01T00:00:02Z', failure),
        false,
      );
      assert.deepEqual(await store.countFailure('count_job', runs[1]!.run.jobRunId, 5, 't2'), {
        consecutiveFailures: 2,
        quarantine: null,
      });
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

      const counts = await Promise.all(
        runs.map((r) => store.countFailure('racing_job', r.run.jobRunId, 3, 't')),
      );

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
      const summary = (r: { run: RunContext }, status: 'ok' | 'error' | 'skipped') => ({
        jobRunId: r.run.jobRunId,
        jobId: 'neutral_job',
        status,
        quality: 'UNKNOWN' as const,
        evidencePrefix: null,
        manifestKey: null,
        error: null,
      });
      await store.countFailure('neutral_job', runs[0]!.run.jobRunId, 2, 't1');
      await store.completeRun(summary(runs[0]!, 'error'), 't1', {
        kind: 'failure',
        quarantine: null,
      });
      await store.completeRun(summary(runs[1]!, 'ok'), 't2', { kind: 'neutral' });
      assert.equal((await store.getJobState('neutral_job'))?.consecutiveFailures, 1);
      assert.equal((await store.getJobState('neutral_job'))?.lastSuccessAt, undefined);

      const counted = await store.countFailure('neutral_job', runs[2]!.run.jobRunId, 2, 't3');
      const quarantine = {
        since: 't3',
        jobRunId: runs[2]!.run.jobRunId,
        reason: '2 consecutive failures (threshold 2)',
      };
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
      assert.ok(
        (await store.listOpenRuns()).some(
          (o) => o.jobRunId === run.jobRunId && o.executionId === run.executionId,
        ),
      );
      const event = {
        ...start,
        eventId: `${run.jobRunId}#takeover`,
        type: 'job.run.retry',
        retry: { count: 1, reason: 'lease expired' },
      } as AuditEvent;

      assert.equal(
        await store.takeOverRun(
          run.jobRunId,
          { executionId: 'someone-else', leaseExpiresAt: LEASE },
          { executionId: 'new', leaseExpiresAt: 'L2', event },
        ),
        false,
      );
      assert.equal(
        await store.takeOverRun(
          run.jobRunId,
          { executionId: run.executionId, leaseExpiresAt: LEASE },
          { executionId: 'new', leaseExpiresAt: 'L2', event },
        ),
        true,
      );
      assert.equal(
        await store.takeOverRun(
          run.jobRunId,
          { executionId: run.executionId, leaseExpiresAt: LEASE },
          { executionId: 'third', leaseExpiresAt: 'L3', event },
        ),
        false,
      );

      const item = await store.getRun(run.jobRunId);
      assert.equal(item?.executionId, 'new');
      assert.deepEqual(
        item?.audit.map((e) => e.type),
        ['job.run.start', 'job.run.retry'],
      );
      await store.completeRun(
        {
          jobRunId: run.jobRunId,
          jobId: 'lease_job',
          status: 'ok',
          quality: 'OK',
          evidencePrefix: null,
          manifestKey: null,
          error: null,
        },
        't',
        { kind: 'success' },
      );
      assert.ok(!(await store.listOpenRuns()).some((o) => o.jobRunId === run.jobRunId));
    });

    test('controls: safety mode, kill-switches and dataset integrity are read back in one call', async () => {
      const change = {
        reason: 'incident 42',
        changedBy: 'alice',
        changedAt: '2026-03-01T00:00:00Z',
      };
      await store.setSafetyState({ schemaVersion: 1, mode: 'SAFE', ...change });
      await store.setKillSwitch({ schemaVersion: 1, jobId: null, engaged: true, ...change });
      await store.setKillSwitch({ schemaVersion: 1, jobId: 'some_job', engaged: true, ...change });
      await store.setDatasetIntegrity({
        schemaVersion: 1,
        datasetId: 'ds.one',
        status: 'FAIL',
        recordedBy: 'x',
        recordedAt: change.changedAt,
      });

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

    test('a takeover needs the exact holder and lease of a claimed run: a stale lease, a finalized or an unknown run is refused', async () => {
      const { run, start } = newRun('stale_job');
      await store.claimRun(run, start, LEASE);
      const event = {
        ...start,
        eventId: `${run.jobRunId}#takeover`,
        type: 'job.run.retry',
        retry: { count: 1, reason: 'lease expired' },
      } as AuditEvent;
      const to = { executionId: 'new', leaseExpiresAt: 'L2', event };
      assert.equal(
        await store.takeOverRun(
          run.jobRunId,
          { executionId: run.executionId, leaseExpiresAt: 'an older lease' },
          to,
        ),
        false,
        'same holder, stale lease',
      );
      assert.equal(
        await store.takeOverRun(
          'stale_job/never-claimed',
          { executionId: run.executionId, leaseExpiresAt: LEASE },
          to,
        ),
        false,
        'no such run',
      );
      await store.completeRun(
        {
          jobRunId: run.jobRunId,
          jobId: 'stale_job',
          status: 'ok',
          quality: 'OK',
          evidencePrefix: null,
          manifestKey: null,
          error: null,
        },
        't',
        { kind: 'success' },
      );
      assert.equal(
        await store.takeOverRun(
          run.jobRunId,
          { executionId: run.executionId, leaseExpiresAt: LEASE },
          to,
        ),
        false,
        'finalized',
      );
      const item = await store.getRun(run.jobRunId);
      assert.equal(item?.executionId, run.executionId);
      assert.deepEqual(
        item?.audit.map((e) => e.type),
        ['job.run.start'],
      );
    });

    test('concurrent takeovers of one expired claim, and concurrent completions of one run: exactly one wins each', async () => {
      const { run, start } = newRun('race_job');
      await store.claimRun(run, start, LEASE);
      const event = {
        ...start,
        eventId: `${run.jobRunId}#takeover`,
        type: 'job.run.retry',
        retry: { count: 1, reason: 'lease expired' },
      } as AuditEvent;
      const from = { executionId: run.executionId, leaseExpiresAt: LEASE };
      const takeovers = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          store.takeOverRun(run.jobRunId, from, {
            executionId: `t${i}`,
            leaseExpiresAt: `L${i}`,
            event,
          }),
        ),
      );
      assert.equal(takeovers.filter(Boolean).length, 1);
      const winner = `t${takeovers.indexOf(true)}`;
      assert.equal((await store.getRun(run.jobRunId))?.executionId, winner);
      assert.equal(
        (await store.listOpenRuns()).find((o) => o.jobRunId === run.jobRunId)?.executionId,
        winner,
        'the open row follows the run',
      );

      const summary = {
        jobRunId: run.jobRunId,
        jobId: 'race_job',
        status: 'ok' as const,
        quality: 'OK' as const,
        evidencePrefix: null,
        manifestKey: null,
        error: null,
      };
      const completions = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          store.completeRun(summary, `2026-03-01T00:00:0${i}Z`, { kind: 'success' }),
        ),
      );
      assert.equal(completions.filter(Boolean).length, 1);
      assert.equal((await store.getJobState('race_job'))?.runCount, 1, 'counted once');
    });

    test('concurrent links from one expected sequence: exactly one moves the head', async () => {
      const runs = Array.from({ length: 5 }, () => newRun('link_race_job'));
      for (const r of runs) await store.claimRun(r.run, r.start, LEASE);
      const results = await Promise.all(
        runs.map((r) =>
          store.linkChain('link_race_job', r.run.jobRunId, 0, {
            sequence: 1,
            manifestKey: r.run.jobRunId,
            manifestSha256: 'd'.repeat(64),
            previous: null,
          }),
        ),
      );
      assert.deepEqual(results.filter((x) => x === 'linked').length, 1);
      assert.ok(results.every((x) => x === 'linked' || x === 'conflict'));
      const winner = runs[results.indexOf('linked')]!.run.jobRunId;
      assert.equal((await store.getJobState('link_race_job'))?.chainHead?.manifestKey, winner);
      for (const r of runs)
        assert.equal(
          (await store.getRun(r.run.jobRunId))?.chain !== undefined,
          r.run.jobRunId === winner,
          'only the winner holds a link',
        );
    });

    test('the run keeps its link with the bundle basis; the head, as the next run sees it, does not', async () => {
      const { run, start } = newRun('basis_job');
      await store.claimRun(run, start, LEASE);
      const basis = { executionId: run.executionId, auditCount: 1, codeVersion: 'v1' };
      assert.equal(
        await store.linkChain('basis_job', run.jobRunId, 0, {
          sequence: 1,
          manifestKey: 'm',
          manifestSha256: 'e'.repeat(64),
          previous: null,
          basis,
        }),
        'linked',
      );
      assert.deepEqual((await store.getRun(run.jobRunId))?.chain?.basis, basis);
      assert.deepEqual(await store.getJobState('basis_job'), {
        jobId: 'basis_job',
        consecutiveFailures: 0,
        runCount: 0,
        chainHead: {
          sequence: 1,
          manifestKey: 'm',
          manifestSha256: 'e'.repeat(64),
          previous: null,
        },
      });
      assert.equal(
        await store.linkChain('basis_job', run.jobRunId, 2, {
          sequence: 3,
          manifestKey: 'm3',
          manifestSha256: 'e'.repeat(64),
          previous: null,
        }),
        'already',
        'already linked, whatever the head',
      );
    });

    test('writes to a run nobody claimed are refused as typed errors, and change nothing', async () => {
      const ghost = 'ghost_job/2026-03-01T00:00:00Z';
      await assert.rejects(
        store.appendAudit(ghost, []),
        (e: Error) =>
          e.name === 'ConfigurationError' && /never claimed \(appendAudit\)/.test(e.message),
      );
      await assert.rejects(
        store.recordAttemptFailure(ghost, 'x'),
        (e: Error) => e.name === 'ConfigurationError',
      );
      await assert.rejects(
        store.countExecuteAttempt(ghost),
        (e: Error) => e.name === 'ConfigurationError',
      );
      await assert.rejects(
        store.sealOutcome(ghost, outcome('ok')),
        (e: Error) => e.name === 'DependencyError' && /not claimed/.test(e.message),
      );
      assert.equal(await store.countFailure('ghost_job', ghost, 1, 't'), 'moved');
      assert.equal(
        await store.completeRun(
          {
            jobRunId: ghost,
            jobId: 'ghost_job',
            status: 'ok',
            quality: 'OK',
            evidencePrefix: null,
            manifestKey: null,
            error: null,
          },
          't',
          { kind: 'success' },
        ),
        false,
      );
      assert.equal(await store.getRun(ghost), undefined);
      assert.equal(await store.getJobState('ghost_job'), undefined);
    });

    test('a quarantined job keeps counting failures without entering quarantine again; a release resets the count', async () => {
      const runs = [newRun('q_job'), newRun('q_job'), newRun('q_job')];
      for (const r of runs) await store.claimRun(r.run, r.start, LEASE);
      const first = await store.countFailure('q_job', runs[0]!.run.jobRunId, 1, 't1');
      assert.deepEqual(first, {
        consecutiveFailures: 1,
        quarantine: {
          since: 't1',
          jobRunId: runs[0]!.run.jobRunId,
          reason: '1 consecutive failures (threshold 1)',
        },
      });
      assert.deepEqual(await store.countFailure('q_job', runs[1]!.run.jobRunId, 1, 't2'), {
        consecutiveFailures: 2,
        quarantine: null,
      });
      const entered = {
        since: 't1',
        jobRunId: runs[0]!.run.jobRunId,
        reason: '1 consecutive failures (threshold 1)',
      };
      assert.deepEqual(
        (await store.getJobState('q_job'))?.quarantine,
        entered,
        'the first quarantine stays',
      );
      assert.deepEqual(await store.releaseQuarantine('q_job'), entered);
      assert.equal(await store.releaseQuarantine('q_job'), null, 'nothing left to release');
      assert.deepEqual(await store.countFailure('q_job', runs[2]!.run.jobRunId, 1, 't3'), {
        consecutiveFailures: 1,
        quarantine: {
          since: 't3',
          jobRunId: runs[2]!.run.jobRunId,
          reason: '1 consecutive failures (threshold 1)',
        },
      });
    });

    test('the control chain head moves only from the expected sequence (0: none yet)', async () => {
      const head = (sequence: number) => ({
        sequence,
        key: `control/${sequence}`,
        sha256: 'f'.repeat(64),
        body: `event ${sequence}`,
      });
      const current = (await store.getControlChainHead())?.sequence ?? 0;
      assert.equal(
        await store.linkControlChain(current + 5, head(current + 6)),
        false,
        'from a sequence that is not the head',
      );
      if (current === 0) {
        assert.equal(await store.linkControlChain(0, head(1)), true);
        assert.equal(await store.linkControlChain(0, head(1)), false, 'a second first link');
      }
      const now = (await store.getControlChainHead())!.sequence;
      const racing = await Promise.all(
        [1, 2, 3].map(() => store.linkControlChain(now, head(now + 1))),
      );
      assert.equal(racing.filter(Boolean).length, 1);
      assert.deepEqual(await store.getControlChainHead(), head(now + 1));
    });

    test('duplicates are kept one per execution, listed in order, and deleted with their run; retention lists finalized runs before a cutoff', async () => {
      const { run, start } = newRun('dup_job');
      await store.claimRun({ ...run, scheduledTime: '2001-01-01T00:00:00Z' }, start, LEASE);
      const dup = (id: string) =>
        ({
          ...start,
          eventId: `${run.jobRunId}#dup#${id}`,
          type: 'job.run.duplicate_suppressed',
          jobRunId: run.jobRunId,
        }) as AuditEvent & { jobRunId: string };
      await store.recordDuplicate(dup('b-first'), 'exec-b');
      await store.recordDuplicate(dup('a'), 'exec-a');
      await store.recordDuplicate(dup('b-again'), 'exec-b');
      assert.deepEqual(
        (await store.listDuplicates(run.jobRunId)).map((e) => e.eventId),
        [dup('a').eventId, dup('b-again').eventId],
      );
      const finalizedBefore = (cutoff: string) =>
        store.listRunsBefore(cutoff).then((runs) => runs.filter((r) => r.jobId === 'dup_job'));
      assert.deepEqual(await finalizedBefore('2002-01-01T00:00:00Z'), [], 'not finalized yet');
      await store.completeRun(
        {
          jobRunId: run.jobRunId,
          jobId: 'dup_job',
          status: 'ok',
          quality: 'OK',
          evidencePrefix: null,
          manifestKey: null,
          error: null,
        },
        't',
        { kind: 'success' },
      );
      assert.deepEqual(
        await finalizedBefore('2001-01-01T00:00:00Z'),
        [],
        'the cutoff is exclusive',
      );
      assert.deepEqual(await finalizedBefore('2002-01-01T00:00:00Z'), [
        { jobRunId: run.jobRunId, jobId: 'dup_job', scheduledTime: '2001-01-01T00:00:00Z' },
      ]);
      await store.deleteRun(run.jobRunId);
      assert.equal(await store.getRun(run.jobRunId), undefined);
      assert.deepEqual(await store.listDuplicates(run.jobRunId), []);
      assert.deepEqual(await finalizedBefore('2002-01-01T00:00:00Z'), []);
    });

    test('listRuns returns claimed and finalized runs with their audit, narrowed by job and by scheduled time (inclusive)', async () => {
      // Prepare
      const made = [
        ['history_job', '2026-04-01T00:00:00Z'],
        ['history_job', '2026-04-02T00:00:00Z'],
        ['history_other', '2026-04-02T00:00:00Z'],
      ].map(([jobId, scheduledTime]) => {
        const { run, start } = newRun(jobId);
        const jobRunId = `${jobId}/${scheduledTime}`;
        return {
          run: { ...run, jobRunId, scheduledTime: scheduledTime as string },
          start: { ...start, jobRunId },
        };
      });
      for (const { run, start } of made) await store.claimRun(run, start, LEASE);
      await store.sealOutcome(made[1]!.run.jobRunId, outcome('error'));

      // Act
      const ours = (runs: { jobId: string; jobRunId: string }[]) =>
        runs.filter((r) => r.jobId.startsWith('history_')).map((r) => r.jobRunId);
      const all = await store.listRuns({});
      const oneJob = await store.listRuns({ jobId: 'history_job' });
      const since = await store.listRuns({ since: '2026-04-02T00:00:00Z' });
      const both = await store.listRuns({ jobId: 'history_job', since: '2026-04-01T00:00:01Z' });

      // Assess
      assert.deepEqual(ours(all), [
        'history_job/2026-04-01T00:00:00Z',
        'history_job/2026-04-02T00:00:00Z',
        'history_other/2026-04-02T00:00:00Z',
      ]);
      assert.deepEqual(ours(oneJob), [
        'history_job/2026-04-01T00:00:00Z',
        'history_job/2026-04-02T00:00:00Z',
      ]);
      assert.deepEqual(ours(since), [
        'history_job/2026-04-02T00:00:00Z',
        'history_other/2026-04-02T00:00:00Z',
      ]);
      assert.deepEqual(ours(both), ['history_job/2026-04-02T00:00:00Z']);
      const sealed = oneJob.find((r) => r.jobRunId === 'history_job/2026-04-02T00:00:00Z');
      assert.equal(sealed?.sealed?.status, 'error');
      assert.equal(sealed?.phase, 'claimed');
      assert.deepEqual(
        sealed?.audit.map((e) => e.type),
        ['job.run.start'],
      );
      assert.equal(
        all.some((r) => (r as { pk?: string }).pk !== undefined),
        false,
        'no table keys leak',
      );
    });

    test('a schedule pause is read back with the controls until it is removed; other controls stay', async () => {
      // Prepare
      const pause = {
        jobId: 'paused_job',
        pausedBy: 'alice',
        pausedAt: '2026-03-01T00:00:00Z',
        reason: 'maintenance',
      };

      // Act
      await store.setSchedulePause('paused_job', pause);
      const paused = await store.getControls();
      await store.setSchedulePause('paused_job', null);
      const resumed = await store.getControls();

      // Assess
      assert.deepEqual(paused.pausedJobs.paused_job, pause);
      assert.equal(resumed.pausedJobs.paused_job, undefined);
      assert.equal(
        Object.keys(paused.jobKillSwitches).includes('paused_job'),
        false,
        'a pause is not a kill-switch',
      );
    });

    test('controls are replaced whole by each write; global and per-job kill-switches are separate', async () => {
      const change = { reason: 'r', changedBy: 'carol', changedAt: '2026-03-02T00:00:00Z' };
      await store.setKillSwitch({ schemaVersion: 1, jobId: 'ks_job', engaged: true, ...change });
      await store.setKillSwitch({
        schemaVersion: 1,
        jobId: 'ks_job',
        engaged: false,
        ...change,
        reason: 'released',
      });
      await store.setKillSwitch({ schemaVersion: 1, jobId: null, engaged: false, ...change });
      const controls = await store.getControls();
      assert.deepEqual(controls.jobKillSwitches.ks_job, {
        schemaVersion: 1,
        jobId: 'ks_job',
        engaged: false,
        ...change,
        reason: 'released',
      });
      assert.deepEqual(controls.globalKillSwitch, {
        schemaVersion: 1,
        jobId: null,
        engaged: false,
        ...change,
      });
    });

    test('what a caller passes in or gets back is a copy: mutating it changes nothing stored', async () => {
      const { run, start } = newRun('copy_job');
      const lease = LEASE;
      await store.claimRun(run, start, lease);
      (run as { executionId: string }).executionId = 'mutated';
      (start as { type: string }).type = 'mutated';
      const read = (await store.getRun(run.jobRunId))!;
      read.audit.push(start);
      read.phase = 'finalized';
      const again = (await store.getRun(run.jobRunId))!;
      assert.notEqual(again.executionId, 'mutated');
      assert.deepEqual(
        again.audit.map((e) => e.type),
        ['job.run.start'],
      );
      assert.equal(again.phase, 'claimed');

      const events = [{ ...start, type: 'job.run.retry', eventId: 'copy#1' } as AuditEvent];
      await store.appendAudit(run.jobRunId, events);
      (events[0] as { type: string }).type = 'mutated';
      assert.deepEqual(
        (await store.getRun(run.jobRunId))!.audit.map((e) => e.type),
        ['job.run.start', 'job.run.retry'],
      );

      const sealed = outcome('ok');
      const kept = await store.sealOutcome(run.jobRunId, sealed);
      sealed.diagnostics.push({ level: 'warning', code: 'x', message: 'mutated' });
      kept.events.push(start);
      assert.deepEqual((await store.getRun(run.jobRunId))!.sealed?.diagnostics, []);
      assert.deepEqual((await store.getRun(run.jobRunId))!.sealed?.events, []);

      const link = {
        sequence: 1,
        manifestKey: 'copy',
        manifestSha256: 'a'.repeat(64),
        previous: null,
      };
      await store.linkChain('copy_job', run.jobRunId, 0, link);
      link.manifestKey = 'mutated';
      const state = (await store.getJobState('copy_job'))!;
      state.chainHead!.sequence = 99;
      assert.equal((await store.getJobState('copy_job'))?.chainHead?.manifestKey, 'copy');
      assert.equal((await store.getJobState('copy_job'))?.chainHead?.sequence, 1);

      const open = await store.listOpenRuns();
      for (const o of open) o.executionId = 'mutated';
      assert.ok((await store.listOpenRuns()).every((o) => o.executionId !== 'mutated'));
      const controls = await store.getControls();
      if (controls.safety) controls.safety.mode = 'mutated' as never;
      assert.notEqual((await store.getControls()).safety?.mode, 'mutated');
    });

    test('allocateExportSequence: 4 concurrent runs get 1..4, each once; a retry of a run gets its own number back', async () => {
      // Prepare
      const dataset = `runs_${n++}`;
      const holders = [1, 2, 3, 4].map((d) => `dataset_export/2026-05-0${d}T00:00:00Z`);
      // Act: four runs (four windows) at once, then each asks again (a retry or a takeover).
      const first = await Promise.all(
        holders.map((h, i) =>
          store.allocateExportSequence(dataset, h, `2026-05-0${i + 2}T00:00:00Z`),
        ),
      );
      const again = await Promise.all(
        holders.map((h) => store.allocateExportSequence(dataset, h, '2026-06-01T00:00:00Z')),
      );
      const fifth = await store.allocateExportSequence(
        dataset,
        'dataset_export/2026-05-05T00:00:00Z',
        '2026-05-06T00:00:00Z',
      );
      // Assess: gap-free, never shared, and the number and time of a run never change.
      assert.deepEqual(first.map((a) => a.sequence).sort(), [1, 2, 3, 4]);
      assert.deepEqual(again, first);
      assert.deepEqual(fifth, { sequence: 5, allocatedAt: '2026-05-06T00:00:00Z' });
      assert.equal(await store.getExportSequence(dataset), 5);
      assert.equal(await store.getExportSequence(`${dataset}_never`), 0);
    });

    test('allocateExportSequence: a run that died after allocating is re-run with its number; datasets count apart', async () => {
      // Prepare: run A allocates and "dies" (nothing else happens to it).
      const dataset = `kpis_${n++}`;
      const a = await store.allocateExportSequence(
        dataset,
        'dataset_export/A',
        '2026-05-01T00:00:01Z',
      );
      // Act: concurrently, A's takeover asks again while run B allocates; another dataset starts at 1.
      const [takeover, b] = await Promise.all([
        store.allocateExportSequence(dataset, 'dataset_export/A', '2026-05-01T00:30:00Z'),
        store.allocateExportSequence(dataset, 'dataset_export/B', '2026-05-02T00:00:01Z'),
      ]);
      const other = await store.allocateExportSequence(`${dataset}_other`, 'dataset_export/A', 'x');
      // Assess
      assert.deepEqual(a, { sequence: 1, allocatedAt: '2026-05-01T00:00:01Z' });
      assert.deepEqual(takeover, a);
      assert.equal(b.sequence, 2);
      assert.equal(other.sequence, 1);
    });
  });
}

let tables: Awaited<ReturnType<typeof dynamoDbTables>>;
stateStoreSuite('DynamoDbStateStore on DynamoDB Local', async () => {
  tables = await dynamoDbTables();
  return {
    store: new DynamoDbStateStore(tables.client, await tables.newStateTable()),
    close: () => tables.close(),
  };
});
stateStoreSuite('MemoryStateStore', async () => ({
  store: new MemoryStateStore(),
  close: async () => {},
}));

test('DynamoDbStateStore: an unreachable table surfaces as a typed, retryable DependencyError', async () => {
  const broken = new DynamoDbStateStore(
    new DynamoDBClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', maxAttempts: 1 }),
    'nope',
  );
  await assert.rejects(
    broken.getJobState('x'),
    (e: Error) =>
      e.name === 'DependencyError' &&
      (e as { retryable?: boolean }).retryable === true &&
      e.cause !== undefined,
  );
});

/**
 * Differential: a generated sequence of calls, applied to MemoryStateStore and to
 * DynamoDbStateStore on a fresh table, gives the same answer (or the same typed error) at every
 * step and leaves the same state behind, read through every reader of the port.
 */
describe('StateStore differential: memory and DynamoDB answer every generated call sequence alike', () => {
  let dynamo: Awaited<ReturnType<typeof dynamoDbTables>>;
  beforeAll(async () => (dynamo = await dynamoDbTables()));
  afterAll(async () => dynamo.close());

  const JOBS = ['dj_a', 'dj_b'] as const;
  const RUNS = [0, 1, 2].map((i) => ({
    jobId: JOBS[i % 2]!,
    jobRunId: `${JOBS[i % 2]}/2026-04-0${i + 1}T00:00:00Z`,
    scheduledTime: `2026-04-0${i + 1}T00:00:00Z`,
  }));
  const EXECS = ['x1', 'x2', 'x3'];
  const LEASES = ['2026-04-01T01:00:00Z', '2026-04-01T02:00:00Z'];
  const runContext = (r: number, x: number, lease: number): RunContext => ({
    stage: 'local',
    jobId: RUNS[r]!.jobId,
    jobVersion: '1.0.0',
    jobRunId: RUNS[r]!.jobRunId,
    scheduledTime: RUNS[r]!.scheduledTime,
    trigger: 'schedule',
    executionId: EXECS[x]!,
    window: { start: '2026-04-01T00:00:00Z', end: '2026-04-01T01:00:00Z' },
    evidencePrefix: `stage=local/run=${r}/`,
    policySnapshot: { stage: 'local', sha256: 'a'.repeat(64) },
    jobConfigSha256: 'b'.repeat(64),
    datasetRefs: [],
    outputDatasetId: `opsrail.outputs.${RUNS[r]!.jobId}`,
    requestedBy: 'scheduler',
    params: {},
    approvalRequired: false,
    jobFunction: stageResourceNames('local').jobFunction(RUNS[r]!.jobId),
    claimedAt: LEASES[lease]!,
  });
  const event = (r: number, type: string, n: number) =>
    ({
      schemaVersion: 1,
      eventId: `${RUNS[r]!.jobRunId}#${type}#${n}`,
      type,
      at: '2026-04-01T00:00:00Z',
      stage: 'local',
      jobId: RUNS[r]!.jobId,
      jobRunId: RUNS[r]!.jobRunId,
      actor: { kind: 'system', id: 'diff' },
    }) as AuditEvent;
  const sealed = (status: 'ok' | 'error'): SealedOutcome => ({
    status,
    quality: 'OK',
    startedAt: 's',
    endedAt: 'e',
    attempts: 1,
    diagnostics: [],
    error: null,
    integrityReport: null,
    events: [],
    effect: { kind: status === 'ok' ? 'success' : 'neutral' },
  });

  const r = fc.integer({ min: 0, max: RUNS.length - 1 });
  const x = fc.integer({ min: 0, max: EXECS.length - 1 });
  const l = fc.integer({ min: 0, max: LEASES.length - 1 });
  const j = fc.integer({ min: 0, max: JOBS.length - 1 });
  const seq = fc.integer({ min: 0, max: 3 });
  type Op = (store: StateStore, n: number) => Promise<unknown>;
  const op: fc.Arbitrary<[string, Op]> = fc.oneof(
    fc
      .tuple(r, x, l)
      .map(([r, x, l]): [string, Op] => [
        `claim ${r} ${x} ${l}`,
        (s, n) => s.claimRun(runContext(r, x, l), event(r, 'job.run.start', n), LEASES[l]!),
      ]),
    fc.tuple(r, x, l, x, l).map(([r, fx, fl, tx, tl]): [string, Op] => [
      `takeover ${r} ${fx}/${fl}->${tx}/${tl}`,
      (s, n) =>
        s.takeOverRun(
          RUNS[r]!.jobRunId,
          { executionId: EXECS[fx]!, leaseExpiresAt: LEASES[fl]! },
          {
            executionId: EXECS[tx]!,
            leaseExpiresAt: LEASES[tl]!,
            event: event(r, 'job.run.retry', n),
          },
        ),
    ]),
    r.map((r): [string, Op] => [
      `append ${r}`,
      (s, n) => s.appendAudit(RUNS[r]!.jobRunId, [event(r, 'job.step', n)]),
    ]),
    fc
      .tuple(r, fc.constantFrom('503', 'x'.repeat(1200)))
      .map(([r, reason]): [string, Op] => [
        `attemptFailure ${r}`,
        (s) => s.recordAttemptFailure(RUNS[r]!.jobRunId, reason),
      ]),
    r.map((r): [string, Op] => [
      `countAttempt ${r}`,
      (s) => s.countExecuteAttempt(RUNS[r]!.jobRunId),
    ]),
    fc
      .tuple(r, fc.constantFrom('ok' as const, 'error' as const))
      .map(([r, st]): [string, Op] => [
        `seal ${r} ${st}`,
        (s) => s.sealOutcome(RUNS[r]!.jobRunId, sealed(st)),
      ]),
    fc.tuple(j, r, seq).map(([j, r, e]): [string, Op] => [
      `link ${j} ${r} ${e}`,
      (s, n) =>
        s.linkChain(JOBS[j]!, RUNS[r]!.jobRunId, e, {
          sequence: e + 1,
          manifestKey: `m${n}`,
          manifestSha256: 'c'.repeat(64),
          previous: null,
          basis: { executionId: 'b', auditCount: n, codeVersion: 'v' },
        }),
    ]),
    fc
      .tuple(j, r, fc.integer({ min: 1, max: 3 }))
      .map(([j, r, t]): [string, Op] => [
        `countFailure ${j} ${r} ${t}`,
        (s, n) => s.countFailure(JOBS[j]!, RUNS[r]!.jobRunId, t, `t${n}`),
      ]),
    fc.tuple(r, fc.constantFrom('success', 'neutral', 'failure')).map(([r, kind]): [string, Op] => [
      `complete ${r} ${kind}`,
      (s, n) =>
        s.completeRun(
          {
            jobRunId: RUNS[r]!.jobRunId,
            jobId: RUNS[r]!.jobId,
            status: kind === 'success' ? 'ok' : 'error',
            quality: 'OK',
            evidencePrefix: null,
            manifestKey: null,
            error: null,
          },
          `e${n}`,
          kind === 'failure' ? { kind, quarantine: null } : ({ kind } as { kind: 'success' }),
        ),
    ]),
    j.map((j): [string, Op] => [`release ${j}`, (s) => s.releaseQuarantine(JOBS[j]!)]),
    fc
      .tuple(r, x)
      .map(([r, x]): [string, Op] => [
        `duplicate ${r} ${x}`,
        (s, n) =>
          s.recordDuplicate(
            { ...event(r, 'job.run.duplicate_suppressed', n), jobRunId: RUNS[r]!.jobRunId },
            EXECS[x]!,
          ),
      ]),
    r.map((r): [string, Op] => [`delete ${r}`, (s) => s.deleteRun(RUNS[r]!.jobRunId)]),
    seq.map((e): [string, Op] => [
      `controlLink ${e}`,
      (s, n) =>
        s.linkControlChain(e, {
          sequence: e + 1,
          key: `c${n}`,
          sha256: 'd'.repeat(64),
          body: `b${n}`,
        }),
    ]),
    fc
      .tuple(
        j,
        fc.constantFrom('2026-04-01T00:00:00Z', '2026-04-02T00:00:00Z', '2026-04-01T12:00:00Z'),
      )
      .map(([j, tick]): [string, Op] => [
        `cursor ${j} ${tick}`,
        (s) => s.setSchedulerCursor(JOBS[j]!, tick),
      ]),
    fc.tuple(fc.option(j, { nil: null }), fc.boolean()).map(([j, engaged]): [string, Op] => [
      `kill ${j} ${engaged}`,
      (s) =>
        s.setKillSwitch({
          schemaVersion: 1,
          jobId: j === null ? null : JOBS[j]!,
          engaged,
          reason: 'r',
          changedBy: 'c',
          changedAt: '2026-04-01T00:00:00Z',
        }),
    ]),
    fc.tuple(j, fc.boolean()).map(([j, paused]): [string, Op] => [
      `pause ${j} ${paused}`,
      (s, n) =>
        s.setSchedulePause(
          JOBS[j]!,
          paused
            ? {
                jobId: JOBS[j]!,
                pausedBy: 'p',
                pausedAt: `2026-04-01T00:00:0${n % 10}Z`,
                reason: 'r',
              }
            : null,
        ),
    ]),
  );
  const answer = (p: Promise<unknown>) =>
    p.then(
      (value) => ({ value: value ?? null }),
      (e: Error) => ({ error: e.name }),
    );
  const snapshot = async (s: StateStore) => ({
    runs: await Promise.all(RUNS.map((run) => s.getRun(run.jobRunId).then((v) => v ?? null))),
    duplicates: await Promise.all(RUNS.map((run) => s.listDuplicates(run.jobRunId))),
    jobs: await Promise.all(JOBS.map((job) => s.getJobState(job).then((v) => v ?? null))),
    cursors: await Promise.all(JOBS.map((job) => s.getSchedulerCursor(job).then((v) => v ?? null))),
    open: await s.listOpenRuns(),
    before: await s.listRunsBefore('2026-04-03T00:00:00Z'),
    history: await s.listRuns({}),
    historySince: await s.listRuns({ jobId: JOBS[0], since: '2026-04-02T00:00:00Z' }),
    controls: await s.getControls(),
    controlHead: (await s.getControlChainHead()) ?? null,
  });

  test('generated sequences of up to 25 calls', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const memory = new MemoryStateStore();
        const real = new DynamoDbStateStore(dynamo.client, await dynamo.newStateTable());
        for (const [n, [name, call]] of ops.entries()) {
          assert.deepEqual(
            await answer(call(memory, n)),
            await answer(call(real, n)),
            `step ${n}: ${name}`,
          );
        }
        assert.deepEqual(await snapshot(memory), await snapshot(real));
      }),
      { numRuns: 30 },
    );
  });
});
