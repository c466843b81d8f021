import { SafetyMode } from '../../contracts';
import type { AuditEventType } from '../../contracts';
import { auditEvent } from '../core/audit';
import { ValidationError } from '../core/errors';
import { sha256Hex } from '../core/hashing';
import type { JobContext, JobImplementation, JobResult } from './types';

/**
 * The dangerous ops that relax a control. Each runs only through the approval gate (its job is
 * `dangerous`), with the operator who asked as requester and a second person as approver; the
 * gate's decision is in the run's bundle (gate_results), and the change itself is audited.
 */
const done = (summary: string): JobResult => ({
  quality: 'OK',
  outputs: [{ name: 'change.txt', contentType: 'text/plain', body: `${summary}\n` }],
  integrityReport: null,
  diagnostics: [],
});

function param(context: JobContext, name: string, required: boolean): string | undefined {
  const value = context.run.params[name];
  if (value === undefined && required)
    throw new ValidationError(`${context.job.jobId} parameters`, [
      { path: `params.${name}`, message: 'is required' },
    ]);
  return value === undefined ? undefined : String(value);
}

function targetJob(context: JobContext, required: boolean): string | undefined {
  const jobId = param(context, 'jobId', required);
  if (jobId && !context.policy.jobs.some((j) => j.jobId === jobId))
    throw new ValidationError(`${context.job.jobId} parameters`, [
      { path: 'params.jobId', message: `'${jobId}' is not in the catalog` },
    ]);
  return jobId;
}

/**
 * The change is audited in this run's own trail, which Finalize writes into its bundle (Execute
 * never writes evidence). The event names the job it is about; the actor is the operator who asked.
 */
async function audit(
  context: JobContext,
  type: AuditEventType,
  details: Record<string, unknown>,
  jobId?: string,
): Promise<void> {
  const event = auditEvent({
    eventId: `${context.run.jobRunId}#${type}`,
    type,
    at: context.clock.now(),
    stage: context.run.stage,
    ...(jobId ? { jobId } : {}),
    jobRunId: context.run.jobRunId,
    actor: { kind: 'operator', id: context.run.requestedBy },
    details: { ...details, approvedRun: context.run.jobRunId },
  });
  await context.control.state.appendAudit(context.run.jobRunId, [event]);
}

export const quarantineRelease: JobImplementation = {
  jobId: 'quarantine_release',
  async plan(context) {
    const jobId = targetJob(context, true) as string;
    const quarantine = (await context.state.getJobState(jobId))?.quarantine;
    return {
      summary: `release the quarantine of ${jobId}${quarantine ? ` (since ${quarantine.since}: ${quarantine.reason})` : ' (it is not quarantined)'}`,
      details: { jobId, quarantine: quarantine ?? null },
    };
  },
  async run(context) {
    const jobId = targetJob(context, true) as string;
    const released = await context.control.state.releaseQuarantine(jobId);
    await audit(context, 'job.run.quarantine.exit', { released }, jobId);
    return done(released ? `quarantine of ${jobId} released` : `${jobId} was not quarantined`);
  },
};

export const killSwitchRelease: JobImplementation = {
  jobId: 'kill_switch_release',
  async plan(context) {
    const jobId = targetJob(context, false);
    return {
      summary: `release the ${jobId ? `kill-switch of ${jobId}` : 'global kill-switch'}`,
      details: { jobId: jobId ?? null },
    };
  },
  async run(context) {
    const jobId = targetJob(context, false) ?? null;
    await context.control.state.setKillSwitch({
      schemaVersion: 1,
      jobId,
      engaged: false,
      reason: `released by approved run ${context.run.jobRunId}`,
      changedBy: context.run.requestedBy,
      changedAt: context.clock.now().toISOString(),
    });
    await audit(context, 'kill_switch.release', { scope: jobId ?? 'global' }, jobId ?? undefined);
    return done(`${jobId ? `kill-switch of ${jobId}` : 'global kill-switch'} released`);
  },
};

function targetMode(context: JobContext): SafetyMode {
  const mode = SafetyMode.safeParse(param(context, 'mode', false) ?? 'NORMAL');
  if (!mode.success || mode.data === 'EMERGENCY_STOP')
    throw new ValidationError('safety_relax parameters', [
      { path: 'params.mode', message: 'must be NORMAL or SAFE' },
    ]);
  return mode.data;
}

export const safetyRelax: JobImplementation = {
  jobId: 'safety_relax',
  async plan(context) {
    const from = (await context.control.state.getControls()).safety?.mode ?? 'NORMAL';
    return {
      summary: `relax the safety mode from ${from} to ${targetMode(context)}`,
      details: { from, to: targetMode(context) },
    };
  },
  async run(context) {
    const to = targetMode(context);
    const from = (await context.control.state.getControls()).safety?.mode ?? 'NORMAL';
    await context.control.state.setSafetyState({
      schemaVersion: 1,
      mode: to,
      reason: `relaxed by approved run ${context.run.jobRunId}`,
      changedBy: context.run.requestedBy,
      changedAt: context.clock.now().toISOString(),
    });
    await audit(context, 'safety.mode.change', { from, to });
    return done(`safety mode ${from} → ${to}`);
  },
};

/**
 * Purges finalized run records older than policy's retention.runRecordDays from the state table.
 */
const cutoffOf = (context: JobContext) =>
  new Date(
    Date.parse(context.run.window.start) -
      context.policy.settings.retention.runRecordDays * 86_400_000,
  ).toISOString();

export const runRecordRetention: JobImplementation = {
  jobId: 'run_record_retention',
  async plan(context) {
    const runs = await context.control.state.listRunsBefore(cutoffOf(context));
    return {
      summary: `purge ${runs.length} run record(s) of runs scheduled before ${cutoffOf(context)} from the state table (their evidence in S3 stays under Object Lock)`,
      // The first 50 are shown; the digest binds the approval to the whole list
      // (docs/approvals.md).
      details: {
        cutoff: cutoffOf(context),
        count: runs.length,
        jobRunIds: runs.slice(0, 50).map((r) => r.jobRunId),
        allJobRunIdsSha256: sha256Hex(runs.map((r) => r.jobRunId).join('\n')),
      },
    };
  },
  async run(context) {
    const runs = await context.control.state.listRunsBefore(cutoffOf(context));
    for (const run of runs) await context.control.state.deleteRun(run.jobRunId);
    return {
      quality: 'OK',
      outputs: [
        {
          name: 'purged.json',
          contentType: 'application/json',
          body: `${JSON.stringify({ cutoff: cutoffOf(context), purged: runs.map((r) => r.jobRunId) })}\n`,
        },
      ],
      integrityReport: null,
      diagnostics: [{ level: 'info', code: 'purged', message: String(runs.length) }],
    };
  },
};

/**
 * The built-in jobs with a dry run of their own (`plan`): all RequestApproval needs of the built-in
 * jobs, so its bundle holds only these (a test checks no other built-in job has a plan).
 */
export const plannedJobs: readonly JobImplementation[] = [
  runRecordRetention,
  quarantineRelease,
  killSwitchRelease,
  safetyRelax,
];
