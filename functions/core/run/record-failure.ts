import type {
  AuditEvent,
  Diagnostic,
  ExecuteStateOutput,
  NotificationRecord,
  RunContext,
  RunSummary,
} from '../../../contracts';
import { approvalIdFor, gateResults } from '../approvals';
import { gateRecord, runEvent } from '../audit';
import {
  ConfigurationError,
  ContentionError,
  errorKindFromName,
  isRefusal,
  RETRYABLE_KINDS,
} from '../errors';
import { objectName } from '../layout';
import { findJob } from '../policy';
import type { RunEffect, SealedOutcome } from '../ports';
import type { Redactor } from '../redaction';
import { classifyFailure, failedStepOf, type FailureFacts, SUGGESTED_ACTION } from '../tickets';
import { getClaimedRun, runIdentity, type RunDependencies } from './dependencies';
import { closeRun, finalizeRun, notificationDegraded, runNotifications } from './finalize';
import { logOnlyNotify } from '../notifications';
import { pinAndClaim } from './preflight';

export interface FailureInput {
  jobId: string;
  scheduledTime: string;
  trigger?: string | undefined;
  run?: RunContext | undefined;
  /**
   * The Execute state's output, when the job ran and a later step (Finalize) failed: its Payload is
   * Execute's result.
   */
  result?: ExecuteStateOutput | undefined;
  error: { Error: string; Cause?: string | undefined };
}

/**
 * The Fail, refusal and stop paths: any step's error lands here. A run that was never claimed
 * (Preflight itself failed) is claimed now, so the window is consumed and evidenced rather than
 * silently retried. Refusals end as `skipped`; only failures of the job itself count toward
 * quarantine.
 */
export async function recordFailure(
  deps: Pick<
    RunDependencies,
    'policy' | 'state' | 'evidence' | 'clock' | 'codeVersion' | 'redactor' | 'metrics' | 'approvals'
  > &
    Partial<Pick<RunDependencies, 'notify' | 'log'>>,
  input: FailureInput,
  executionId: string,
): Promise<RunSummary> {
  let kind = errorKindFromName(input.error.Error);
  // An error name is whatever the failing code threw: it is stored (and printed) only redacted.
  const error = {
    kind,
    name: deps.redactor.text(input.error.Error),
    message: deps.redactor.text(causeMessage(input.error.Cause)).slice(0, 2000),
  };
  const job = findJob(deps.policy, input.jobId);
  let run = input.run;
  let unclaimed = false;
  if (!run) {
    if (!job || Number.isNaN(Date.parse(input.scheduledTime))) {
      // Nothing to attach evidence to: the input itself was bad. The execution fails with this
      // error.
      throw new ConfigurationError(
        `cannot record failure of '${input.jobId}' at '${input.scheduledTime}': ${error.name}: ${error.message}`,
      );
    }
    if (isRefusal(kind)) {
      // Preflight refuses before claiming only what must not consume its window (a future tick):
      // unless this execution holds the claim, there is nothing of ours to evidence.
      const { jobRunId } = runIdentity(deps.policy, job, input.scheduledTime);
      const held = await deps.state.getRun(jobRunId);
      if (held?.executionId !== executionId) {
        return {
          jobRunId,
          jobId: job.jobId,
          status: 'skipped',
          quality: 'UNKNOWN',
          evidencePrefix: null,
          manifestKey: null,
          error,
        };
      }
    }
    const request = {
      jobId: job.jobId,
      scheduledTime: input.scheduledTime,
      trigger: input.trigger === 'manual' ? ('manual' as const) : ('schedule' as const),
    };
    // Without the overlap slot: this run only records a failure, it never holds the job up.
    const pinned = await pinAndClaim(deps, job, request, executionId, false);
    run = pinned.run;
    unclaimed = !pinned.claimed;
  }
  const item = await getClaimedRun(deps.state, run.jobRunId);
  // Another execution owns (or took over) this run: its outcome is its own to record, never ours to
  // overwrite.
  if (item.executionId !== executionId) {
    throw new ConfigurationError(
      `run ${item.jobRunId} is held by execution ${item.executionId}; ${error.name}: ${error.message}`,
    );
  }
  // Claimed earlier by this same execution (a retried RecordFailure): the stored run is the pinned
  // one.
  if (unclaimed) run = item;
  if (input.result && !isRefusal(kind)) {
    // The job ran and told its outcome; only opsrail's own bookkeeping after it failed. The run is
    // what the job did, with a diagnostic, never an error of the job (docs/crash-safety.md).
    const result = input.result.Payload;
    return finalizeRun(deps, run, {
      ...result,
      diagnostics: [...result.diagnostics, bookkeepingFailed(deps.redactor, input.error)],
    });
  }
  const endedAt = deps.clock.now().toISOString();
  const events: AuditEvent[] = [];
  // A dangerous op's gate: nobody decided in time (the wait timed out), so the request expires,
  // audited.
  let approval = run.approvalRequired
    ? await deps.approvals.getApproval(approvalIdFor(run))
    : undefined;
  if (approval && approval.record.status === 'PENDING' && input.error.Error === 'States.Timeout') {
    await deps.approvals.decideApproval(approval.record.approvalId, {
      status: 'EXPIRED',
      decidedBy: null,
      decidedAt: endedAt,
      reason: 'nobody decided before the gate timed out',
    });
    events.push(
      runEvent(run, 'job.dangerous_op.reject', endedAt, {
        details: {
          approvalId: approval.record.approvalId,
          opKind: approval.record.opKind,
          reason: 'timed out',
        },
      }),
    );
    deps.metrics.approval('expired');
    approval = await deps.approvals.getApproval(approval.record.approvalId);
  }
  if (approval?.record.status === 'EXPIRED' && input.error.Error === 'States.Timeout') {
    kind = 'approval_timed_out';
    error.kind = kind;
  }
  if (approval) events.push(gateRecord(run, approval, endedAt));
  const refused = isRefusal(kind);
  events.push(
    runEvent(run, 'job.run.fail', endedAt, {
      error,
      // A failed run's bundle holds its audit ticket (docs/evidence.md#tickets); a refusal's none.
      evidenceRefs: [
        `${run.evidencePrefix}${objectName('manifest', run.window.start)}`,
        ...(refused ? [] : [`${run.evidencePrefix}${objectName('ticket', run.window.start)}`]),
      ],
      details: { refused, executionId },
    }),
  );
  let effect: RunEffect = { kind: 'neutral' };
  // A run already sealed keeps its outcome (closeRun returns it): its failure, if any, was counted
  // then. Neither an unknown outcome nor opsrail's own bookkeeping is a failure of the job; nor is
  // a retryable error before the job's logic ever started, or an Execute that kept meeting another
  // attempt's in-progress record (whose outcome is not this run's to judge).
  const notTheJobs =
    kind === 'unknown_outcome' ||
    kind === 'bookkeeping' ||
    input.error.Error === 'IdempotencyAlreadyInProgressError' ||
    (item.attempts === 0 && RETRYABLE_KINDS.includes(kind));
  if (!refused && kind !== 'stopped' && !notTheJobs && !item.sealed) {
    const threshold = deps.policy.settings.thresholds.quarantineAfterConsecutiveFailures;
    const counted = await deps.state.countFailure(run.jobId, run.jobRunId, threshold, endedAt);
    if (counted === 'moved') throw new ContentionError(run.jobRunId, "the job's failure count");
    const { consecutiveFailures, quarantine } = counted;
    if (quarantine) {
      events.push(
        runEvent(run, 'job.run.quarantine.enter', quarantine.since, {
          details: { ...quarantine, consecutiveFailures, threshold },
        }),
      );
    }
    effect = { kind: 'failure', quarantine };
  }
  // A failed run tells people (docs/notifications.md): once per run, never for a refusal or a stop,
  // and not again once the outcome is sealed (a retried RecordFailure keeps the sealed record).
  const notifications = runNotifications(approval?.record, undefined);
  const diagnostics: Diagnostic[] = [
    {
      level: refused ? 'warning' : 'error',
      code: error.kind,
      message: `${error.name}: ${error.message}`,
    },
  ];
  if (!refused && kind !== 'stopped' && !item.sealed) {
    const alert = await sendFailureAlert(deps, run, error, item.attempts);
    if ('record' in alert) notifications.push(alert.record);
    else diagnostics.push(alert.diagnostic);
  }
  for (const record of notifications.filter((r) => r.degraded))
    diagnostics.push(deps.redactor.value(notificationDegraded(record)));
  const outcome: SealedOutcome = {
    status: refused ? 'skipped' : 'error',
    quality: 'UNKNOWN',
    startedAt: item.claimedAt,
    endedAt,
    attempts: item.attempts,
    diagnostics,
    error,
    integrityReport: null,
    events,
    effect,
    gate: approval ? gateResults(approval) : null,
    ...(notifications.length > 0 ? { notifications: deps.redactor.value(notifications) } : {}),
    // For the run's audit ticket (docs/evidence.md#tickets).
    failedStep: failedStepOf({
      hasRun: input.run !== undefined,
      attempts: item.attempts,
      errorName: input.error.Error,
      approvalRequired: run.approvalRequired,
      approved: approval?.record.status === 'APPROVED',
    }),
  };
  return closeRun(deps, run.jobRunId, outcome, []);
}

/**
 * The failure alert (kind failure_alert, docs/notifications.md): keyed by the run id, so a retried
 * RecordFailure or a takeover never sends it twice; the reason is redacted before it is written
 * (the chain redacts again). A chain that throws (its ledger unreachable) becomes a diagnostic: the
 * failure is still recorded.
 */
async function sendFailureAlert(
  deps: Pick<RunDependencies, 'policy' | 'clock' | 'redactor'> &
    Partial<Pick<RunDependencies, 'notify' | 'log'>>,
  run: RunContext,
  error: { kind: string; name: string; message: string },
  attempts: number,
): Promise<{ record: NotificationRecord } | { diagnostic: Diagnostic }> {
  const notify =
    deps.notify ??
    logOnlyNotify(
      (message, details) => deps.log?.(message, details),
      () => deps.clock.now(),
    );
  const text = deps.redactor.text;
  const classified = classifyFailure(error as FailureFacts);
  try {
    const record = await notify({
      kind: 'failure_alert',
      dedupeKey: `failure_alert/${run.jobRunId}`,
      title: text(`opsrail ${deps.policy.stage}: ${run.jobId} failed`),
      markdown: text(
        [
          `**${run.jobId}** failed (${error.kind}).`,
          '',
          `- run: \`${run.jobRunId}\``,
          `- window: ${run.window.start} – ${run.window.end}`,
          `- attempts: ${attempts}`,
          `- error: ${error.name}: ${error.message}`,
          // The ticket's classification and suggested action (docs/evidence.md#tickets).
          `- classified: ${classified.category}${classified.http_status ? ` (HTTP ${classified.http_status})` : ''}: ${classified.cause}`,
          `- suggested action: ${SUGGESTED_ACTION[classified.category]}`,
          `- evidence: \`${run.evidencePrefix}${objectName('manifest', run.window.start)}\``,
        ].join('\n'),
      ),
    });
    return { record };
  } catch (caught) {
    return {
      diagnostic: {
        level: 'warning',
        code: 'failure_alert_not_sent',
        message: text(`the failure alert could not be sent: ${(caught as Error).message}`),
      },
    };
  }
}

/**
 * The diagnostic of a run recorded as succeeded after opsrail's own bookkeeping failed (`caught` is
 * the step's error as the ASL Catch passed it on). On the sealed outcome when RecordFailure sealed
 * it; the CLI shows it either way (docs/crash-safety.md).
 */
export function bookkeepingFailed(
  redactor: Redactor,
  caught: { Error: string; Cause?: string | undefined },
): Diagnostic {
  return {
    level: 'warning',
    code: 'bookkeeping_failed',
    message: `finishing the run failed before it was recorded: ${redactor.text(caught.Error)}: ${redactor.text(causeMessage(caught.Cause)).slice(0, 2000)}`,
  };
}

/**
 * Lambda puts a JSON error document in Cause; keep its message (bounded after redaction: a cut can
 * hide a secret from its pattern).
 */
function causeMessage(cause: string | undefined): string {
  if (!cause) return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: a plain message
  }
  return cause;
}
