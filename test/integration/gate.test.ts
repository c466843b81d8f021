import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { AuditEvent, GateResults } from '../../contracts';
import { approvalGate } from '../../functions/adapters/dependencies';
import { handleApprovalHttp, type ApprovalDependencies } from '../../functions/core/approvals';
import { setSafetyMode } from '../../functions/core/controls';
import { LocalRuntime, type ExecutionOutcome } from '../../local/runtime';
import { readVerifiedBundle } from '../support/evidence';
import { countingJob, failingJob } from '../support/jobs';
import { withTestJobs } from '../support/local';
import { memoryStack } from '../support/memory';

/**
 * A scheduled time `day` days into the last ten days (UTC midnight, or the given hour): recent
 * enough to stay inside run_record_retention's 30-day cutoff whatever day the suite runs, never in
 * the future.
 */
function recentDay(day: number, hour = '00'): string {
  const base = new Date(Date.now() - 10 * 86_400_000);
  base.setUTCHours(0, 0, 0, 0);
  return `${new Date(base.getTime() + day * 86_400_000).toISOString().slice(0, 10)}T${hour}:00:00Z`;
}

const auditOf = (jsonl: string) =>
  jsonl
    .trim()
    .split('\n')
    .map((line) => AuditEvent.parse(JSON.parse(line)));

describe('the approval gate in the real ASL: a dangerous op waits for a named second person', () => {
  let stack: ReturnType<typeof memoryStack>;
  let runtime: LocalRuntime;
  let gate: ApprovalDependencies;
  const purge = countingJob('gate_purge');
  const requests: { executionId: string; approvalId: string; link: string }[] = [];

  beforeAll(async () => {
    const policyDir = withTestJobs(
      [
        { jobId: 'gate_purge', dangerous: { value: true, opKind: 'retention' } },
        { jobId: 'gate_fail' },
      ],
      (p) => ({
        ...p,
        approvals: { ...p.approvals, timeoutSeconds: 5 },
        retention: { ...p.retention, runRecordDays: 30 },
        thresholds: { ...p.thresholds, quarantineAfterConsecutiveFailures: 3 },
      }),
    );
    // Core rules over the in-memory ports (their contract suites prove them equal to DynamoDB and
    // S3).
    stack = memoryStack({ policyDir });
    runtime = new LocalRuntime(stack.env, [purge, failingJob('gate_fail')], {
      ports: stack.ports,
      onApprovalRequested: (r) => requests.push(r),
    });
    gate = await approvalGate(runtime.deps)();
  });
  afterAll(async () => stack.stop());

  /** Starts a run and waits until its approval request exists. */
  async function startGated(
    jobId: string,
    scheduledTime: string,
    params: Record<string, string> = {},
  ) {
    const before = requests.length;
    const outcome = runtime.run({
      jobId,
      scheduledTime,
      trigger: 'manual',
      requestedBy: 'alice',
      params,
    });
    while (requests.length === before) await new Promise((r) => setTimeout(r, 50));
    const request = requests.at(-1)!;
    const url = new URL(request.link);
    const http = (method: string, identity: string | null, form: Record<string, string> = {}) =>
      handleApprovalHttp(gate, {
        method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        form,
        identity,
        userAgent: 'test',
      });
    const challenge = (await gate.approvals.getApproval(request.approvalId))!.record.challenge;
    return { outcome, request, http, challenge };
  }

  async function gateOf(outcome: ExecutionOutcome) {
    assert.ok('summary' in outcome && outcome.summary);
    const bundle = await readVerifiedBundle(
      runtime.deps.evidence,
      outcome.summary.manifestKey as string,
    );
    return {
      gate: GateResults.parse(JSON.parse(bundle.objects['gate_results.json'] as string)),
      audit: auditOf(bundle.objects['audit.jsonl'] as string),
    };
  }

  test('approve path: GET changes nothing, the approver confirms, the job runs once, and gate_results say who decided', async () => {
    const { outcome, http, challenge } = await startGated('gate_purge', recentDay(1));
    assert.equal((await http('GET', null)).status, 200);
    assert.equal(purge.effects.length, 0, 'nothing runs before a decision');

    assert.equal((await http('POST', 'bob', { decision: 'approve', challenge })).status, 200);
    const done = await outcome;

    assert.equal(done.kind, 'completed');
    assert.deepEqual(purge.effects, [`gate_purge/${recentDay(1)}`]);
    const { gate: results, audit } = await gateOf(done);
    assert.deepEqual(
      [results.decision, results.decidedBy, results.requestedBy],
      ['approved', 'bob', 'alice'],
    );
    assert.deepEqual(
      results.attempts.map((a) => a.outcome),
      ['viewed', 'approved'],
    );
    assert.deepEqual(
      audit.map((e) => e.type),
      [
        'job.run.start',
        'job.dangerous_op.challenge',
        'job.dangerous_op.confirm',
        'gate.record',
        'job.run.end',
      ],
    );
  });

  test('reject path: a refused run with its bundle and job.dangerous_op.reject; the job never runs', async () => {
    const { outcome, http } = await startGated('gate_purge', recentDay(2));
    assert.equal(
      (await http('POST', 'alice', { decision: 'reject' })).status,
      403,
      'the requester cannot decide, not even to reject',
    );
    assert.equal(
      (await http('POST', 'bob', { decision: 'reject', reason: 'too broad' })).status,
      200,
    );
    const done = await outcome;

    assert.equal(done.kind, 'refused');
    assert.ok(done.kind === 'refused');
    assert.equal(done.summary.error?.kind, 'approval_rejected');
    assert.ok(!purge.effects.includes(`gate_purge/${recentDay(2)}`));
    const { gate: results, audit } = await gateOf(done);
    assert.deepEqual([results.decision, results.decidedBy], ['rejected', 'bob']);
    assert.deepEqual(
      results.attempts.map((a) => a.outcome),
      ['refused_requester', 'rejected'],
    );
    assert.ok(audit.some((e) => e.type === 'job.dangerous_op.reject' && e.actor.id === 'bob'));
  });

  test('timeout path: nobody decides, the gate times out, the request expires and the run is refused', async () => {
    const { outcome, request, http } = await startGated('gate_purge', recentDay(3));
    const done = await outcome;

    assert.equal(done.kind, 'refused');
    assert.ok(done.kind === 'refused');
    assert.equal(done.summary.error?.kind, 'approval_timed_out');
    assert.equal((await gate.approvals.getApproval(request.approvalId))?.record.status, 'EXPIRED');
    const { gate: results, audit } = await gateOf(done);
    assert.equal(results.decision, 'timed_out');
    assert.ok(
      audit.some((e) => e.type === 'job.dangerous_op.reject' && e.details?.reason === 'timed out'),
    );
    assert.ok(
      [409, 410].includes((await http('POST', 'bob', { decision: 'reject' })).status),
      'a late decision changes nothing',
    );
  });

  test('under SAFE a dangerous job is refused before anyone is asked', async () => {
    await setSafetyMode(runtime.deps, 'SAFE', { by: 'carol', reason: 'incident' });
    const asked = requests.length;
    const pendingBefore = (await gate.approvals.listPendingApprovals()).length;

    const outcome = await runtime.run({
      jobId: 'gate_purge',
      scheduledTime: recentDay(4),
      trigger: 'manual',
      requestedBy: 'alice',
    });

    assert.ok(outcome.kind === 'refused');
    assert.equal(outcome.summary.error?.kind, 'refused_safety');
    assert.equal(requests.length, asked, 'no approval was requested');
    assert.equal((await gate.approvals.listPendingApprovals()).length, pendingBefore);
    await runtime.deps.state.setSafetyState({
      schemaVersion: 1,
      mode: 'NORMAL',
      reason: 'test reset',
      changedBy: 'test',
      changedAt: new Date().toISOString(),
    });
  });

  test('run_record_retention purges old run records once, after approval; their evidence stays', async () => {
    const past = new LocalRuntime(stack.env, [purge, failingJob('gate_fail')], {
      ports: stack.ports,
      clock: { now: () => new Date('2026-01-10T00:00:00Z') },
    });
    await past.run({
      jobId: 'evidence_integrity_check',
      scheduledTime: '2026-01-09T00:00:00Z',
      trigger: 'manual',
    });
    await past.run({
      jobId: 'evidence_integrity_check',
      scheduledTime: '2026-01-09T01:00:00Z',
      trigger: 'manual',
    });
    const evidenceBefore = await stack.ports.evidence.list('stage=local/dt=2026-01-09/');
    const cutoff = new Date(Date.now() - 30 * 86_400_000).toISOString();
    assert.equal((await runtime.deps.state.listRunsBefore(cutoff)).length, 2);

    const { outcome, http, challenge, request } = await startGated(
      'run_record_retention',
      new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    );
    const plan = (await gate.approvals.getApproval(request.approvalId))!.record.plan;
    assert.match(plan.summary, /^purge 2 run record\(s\)/);
    assert.equal(
      (await runtime.deps.state.listRunsBefore(cutoff)).length,
      2,
      'nothing is purged while waiting',
    );
    await http('POST', 'bob', { decision: 'approve', challenge });
    const done = await outcome;

    assert.equal(done.kind, 'completed');
    assert.deepEqual(await runtime.deps.state.listRunsBefore(cutoff), []);
    assert.equal(
      await runtime.deps.state.getRun('evidence_integrity_check/2026-01-09T00:00:00Z'),
      undefined,
    );
    assert.deepEqual(
      await stack.ports.evidence.list('stage=local/dt=2026-01-09/'),
      evidenceBefore,
      'the evidence stays',
    );
  });

  test('quarantine release goes through the gate and leaves job.run.quarantine.exit', async () => {
    for (const hour of ['00', '01', '02'])
      await runtime.run({
        jobId: 'gate_fail',
        scheduledTime: recentDay(5, hour),
        trigger: 'schedule',
      });
    assert.ok(
      (await runtime.deps.state.getJobState('gate_fail'))?.quarantine,
      'three failures quarantined it',
    );

    const { outcome, http, challenge } = await startGated(
      'quarantine_release',
      new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      { jobId: 'gate_fail' },
    );
    await http('POST', 'bob', { decision: 'approve', challenge });
    const done = await outcome;

    assert.equal(done.kind, 'completed');
    assert.equal((await runtime.deps.state.getJobState('gate_fail'))?.quarantine, undefined);
    assert.equal(
      (
        await runtime.run({
          jobId: 'gate_fail',
          scheduledTime: recentDay(5, '05'),
          trigger: 'schedule',
        })
      ).kind,
      'failed',
      'it runs again (and fails again)',
    );
    const { audit, gate: results } = await gateOf(done);
    const exit = audit.find((e) => e.type === 'job.run.quarantine.exit');
    assert.deepEqual(
      [exit?.jobId, exit?.actor.id, exit?.details?.released !== null],
      ['gate_fail', 'alice', true],
    );
    assert.deepEqual([results.decision, results.decidedBy], ['approved', 'bob']);
  });

  test('relaxing goes through the gate too, and only the relaxer is exempt from the control it lifts', async () => {
    await setSafetyMode(runtime.deps, 'EMERGENCY_STOP', { by: 'carol', reason: 'incident' });
    const refused = await runtime.run({
      jobId: 'gate_purge',
      scheduledTime: recentDay(6),
      trigger: 'manual',
      requestedBy: 'alice',
    });
    assert.ok(
      refused.kind === 'refused' && refused.summary.error?.kind === 'refused_safety',
      'other dangerous jobs stay refused',
    );

    const { outcome, http, challenge } = await startGated(
      'safety_relax',
      new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      { mode: 'NORMAL' },
    );
    assert.equal(
      (await runtime.deps.state.getControls()).safety?.mode,
      'EMERGENCY_STOP',
      'nothing changes before approval',
    );
    await http('POST', 'bob', { decision: 'approve', challenge });
    assert.equal((await outcome).kind, 'completed');
    assert.equal((await runtime.deps.state.getControls()).safety?.mode, 'NORMAL');

    await runtime.deps.state.setKillSwitch({
      schemaVersion: 1,
      jobId: null,
      engaged: true,
      reason: 'stop all',
      changedBy: 'carol',
      changedAt: new Date().toISOString(),
    });
    const release = await startGated(
      'kill_switch_release',
      new Date(Date.now() + 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    );
    await release.http('POST', 'bob', { decision: 'approve', challenge: release.challenge });
    const released = await release.outcome;
    assert.equal(released.kind, 'completed');
    assert.equal((await runtime.deps.state.getControls()).globalKillSwitch?.engaged, false);
    const { audit } = await gateOf(released);
    assert.ok(audit.some((e) => e.type === 'kill_switch.release' && e.actor.id === 'alice'));
  });
});
