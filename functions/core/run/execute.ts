import type {
  ExecuteResult,
  JobDefinition,
  NotificationRecord,
  RunContext,
} from '../../../contracts';
import type { JobContext, JobImplementation } from '../../jobs/types';
import { approvalIdFor, approvedPlanDigest, planDigest, planOf } from '../approvals';
import { runEvent } from '../audit';
import {
  asBookkeeping,
  ConfigurationError,
  RunRefusedError,
  UnknownOutcomeError,
  ValidationError,
} from '../errors';
import { redactError } from '../redaction';
import { getClaimedRun, requireJob, type JobLog, type RunDependencies } from './dependencies';
import { evidenceAsDeclared } from './job-permissions';
import { safetyRefusal } from './preflight';
import type { SecretReader } from '../../jobs/kinds/ports';
import type { WebhookPorts } from '../webhook-delivery';
import { logOnlyNotify, type Notify } from '../notifications';

/** Without a secret reader (in-memory tests, plans), reading a secret is a configuration error. */
export const unavailableSecrets: SecretReader = {
  read: (ref) =>
    Promise.reject(new ConfigurationError(`no secret reader is configured to read ${ref}`)),
};

/** Without webhook ports, every POST fails as a network failure (and the delivery says so). */
export const unavailableWebhooks: Omit<WebhookPorts, 'clock'> = {
  http: {
    post: async () => ({ failure: 'network', detail: 'no webhook poster is configured' }),
  },
  sleep: async () => undefined,
  random: () => 0,
};

/** Step 3 (inside Powertools idempotency in the handler): the job's own logic, once per run. */
export async function executeJob(deps: RunDependencies, run: RunContext): Promise<ExecuteResult> {
  const job = requireJob(deps.policy, run.jobId);
  const implementation = deps.jobs.get(job.jobId);
  if (!implementation)
    throw new ConfigurationError(
      `job '${job.jobId}' is declared in the catalog but has no implementation`,
    );
  const item = await bookkeeping('read the run', () => getClaimedRun(deps.state, run.jobRunId));
  // Every attempt that started the job counted itself; one that neither failed nor finished died
  // mid-job.
  const started = item.attempts;
  const died = started - (item.failedAttempts ?? (item.lastAttemptError ? started : 0));
  if (died > 0 && job.idempotent !== true) {
    throw new UnknownOutcomeError(
      `attempt ${started} of run ${run.jobRunId} started the job and ended without an outcome (its holder died): the effect may or may not have happened, and ${job.jobId} is not idempotent, so it is not run again`,
    );
  }
  const log: JobLog = (message, details) =>
    deps.log(deps.redactor.text(message), details ? deps.redactor.value(details) : undefined);
  // Every notification the job sends goes into the run's bundle, where Finalize judges it
  // (docs/notifications.md#in-the-evidence).
  const sent: NotificationRecord[] = [];
  const chain = deps.notify ?? logOnlyNotify(log, () => deps.clock.now());
  const notify: Notify = async (notification) => {
    const record = await chain(notification);
    sent.push(record);
    return record;
  };
  // The job's code reaches evidence only as its catalog entry declares (its role in AWS).
  const evidence = evidenceAsDeclared(job, deps.evidence);
  const context: JobContext = {
    job,
    run,
    policy: deps.policy,
    clock: deps.clock,
    state: deps.state,
    evidence,
    secrets: deps.secrets ?? unavailableSecrets,
    webhooks: deps.webhooks ?? unavailableWebhooks,
    notify,
    codeVersion: deps.codeVersion,
    log,
    control: { ...deps, evidence },
  };
  if (run.approvalRequired) await readmitApproved(deps, job, implementation, context);
  if (started > 0) {
    const reason =
      died > 0
        ? `attempt ${started} ended without an outcome (its holder died); ${job.jobId} is idempotent, so it runs again with the same key`
        : (item.lastAttemptError ?? 'the previous attempt did not complete');
    const retry = runEvent(run, 'job.run.retry', deps.clock.now(), {
      eventIdSuffix: `attempt-${started + 1}`,
      retry: { count: started, reason },
    });
    await bookkeeping('audit the retry', () => deps.state.appendAudit(run.jobRunId, [retry]));
  }
  // The last write before the job runs: from here on, this attempt's outcome is the job's.
  const { attempts } = await bookkeeping('count the attempt', () =>
    deps.state.countExecuteAttempt(run.jobRunId),
  );
  // A run starts when it is claimed, as a failed run's record does: its duration covers the
  // preflight, every attempt and the job (docs/observability.md#kpis).
  const startedAt = item.claimedAt;
  let result;
  try {
    result = await implementation.run(context);
  } catch (error) {
    // The error travels to Step Functions, its history and the logs: no secret may travel with it.
    redactError(error, deps.redactor);
    // If this write fails too, the next attempt sees an attempt without an outcome: the safe
    // reading.
    await deps.state
      .recordAttemptFailure(
        run.jobRunId,
        deps.redactor.text(`${(error as Error).name}: ${(error as Error).message}`),
      )
      .catch(() => undefined);
    throw error;
  }
  // Redacted here, before the result reaches the state machine, the idempotency record or the
  // evidence.
  const executed: ExecuteResult = {
    status: job.mode === 'live' ? 'ok' : 'dry_run',
    quality: result.quality,
    startedAt,
    endedAt: deps.clock.now().toISOString(),
    attempts,
    outputs: result.outputs.map((o) => ({ ...o, body: deps.redactor.text(o.body) })),
    // Stored in the idempotency table as part of this result: redacted like everything else.
    integrityReport: result.integrityReport && deps.redactor.value(result.integrityReport),
    diagnostics: deps.redactor.value(result.diagnostics),
    ...(sent.length > 0 ? { notifications: deps.redactor.value(sent) } : {}),
  };
  const bytes = Buffer.byteLength(JSON.stringify(executed));
  if (bytes > MAX_EXECUTE_RESULT_BYTES) {
    // In AWS this result would end the execution with the uncatchable States.DataLimitExceeded;
    // fail the run cleanly instead.
    const error = new ValidationError(`job ${job.jobId} result`, [
      {
        path: 'outputs',
        message: `${bytes} bytes, more than the ${MAX_EXECUTE_RESULT_BYTES} a Step Functions state can carry (256 KiB with the run context); write large outputs elsewhere and return a reference`,
      },
    ]);
    await deps.state.recordAttemptFailure(run.jobRunId, `${error.name}: ${error.message}`);
    throw error;
  }
  return executed;
}

/** A call to opsrail's own stores: its retryable failures are bookkeeping, never the job's. */
async function bookkeeping<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw asBookkeeping(what, error);
  }
}

/**
 * Between the gate and the job (docs/approvals.md, "Re-admission" and "Plan binding"): an approval
 * never outlasts a control engaged while it waited (kill-switch, quarantine, safety mode), and it
 * covers only the plan the approvers saw. Either refuses the run, with the refusal names the ASL
 * routes to RecordRefusal. Inside the job's idempotency: a replayed result is never re-judged.
 */
async function readmitApproved(
  deps: RunDependencies,
  job: JobDefinition,
  implementation: JobImplementation,
  context: JobContext,
): Promise<void> {
  const { run } = context;
  const [controls, jobState, approval] = await Promise.all([
    deps.state.getControls(),
    deps.state.getJobState(job.jobId),
    deps.approvals.getApproval(approvalIdFor(run)),
  ]);
  const refusal = safetyRefusal(job, controls, jobState);
  if (refusal) throw refusal;
  if (approval?.record.status !== 'APPROVED') {
    throw new RunRefusedError(
      'approval_rejected',
      `run ${run.jobRunId} reached Execute without an approval (request ${approval?.record.status ?? 'missing'})`,
    );
  }
  const now = planDigest(deps.redactor, await planOf(job, implementation, context));
  if (now !== approvedPlanDigest(approval.record)) {
    throw new RunRefusedError(
      'plan_changed',
      `the plan of ${job.jobId} changed after approval ${approval.record.approvalId} (approved ${approvedPlanDigest(approval.record).slice(0, 12)}, now ${now.slice(0, 12)}); it is not run on a plan nobody approved`,
    );
  }
}

/**
 * Step Functions passes at most 256 KiB between states; the run context and the envelope need the
 * rest.
 */
export const MAX_EXECUTE_RESULT_BYTES = 200 * 1024;
