import { RunContext, type AuditEvent, type Diagnostic, type ExecuteResult, type ExecutionInput, type JobDefinition, type JobOutput, type RunSummary } from '../../contracts';
import type { JobRegistry } from '../jobs/types';
import { runEvent } from './audit';
import { buildBundleObjects, buildManifest, describeObjects } from './bundle';
import { objectName, outputName } from './layout';
import type { Clock } from './clock';
import { asBookkeeping, ConfigurationError, DuplicateRunError, errorKindFromName, EvidenceIntegrityError, isRefusal, OpsrailError, RETRYABLE_KINDS, RunRefusedError, UnknownOutcomeError, ValidationError } from './errors';
import { canonicalJson, sha256Hex } from './hashing';
import { deriveJobRunId, evidencePrefix, isoSeconds, tickOf } from './ids';
import { findJob, type ResolvedPolicy } from './policy';
import type { BundleBasis, ChainLink, Controls, EvidenceStore, JobState, RunEffect, RunItem, RunMetrics, SealedOutcome, StateStore } from './ports';
import { runWindow } from './window';
import { redactError, type Redactor } from './redaction';
import { approvalIdFor, approvedPlanDigest, gateResults, planDigest, planOf, type ApprovalStore } from './approvals';
import type { JobContext, JobImplementation } from '../jobs/types';

export interface RunDependencies {
  policy: ResolvedPolicy;
  state: StateStore;
  evidence: EvidenceStore;
  clock: Clock;
  jobs: JobRegistry;
  codeVersion: string;
  redactor: Redactor;
  /** Where a job's own log lines go (already redacted on the way). */
  log: JobLog;
  metrics: RunMetrics;
  approvals: ApprovalStore;
  /**
   * Locally, whether the process holding a claim (named by its execution id) still runs: false lets a
   * run be taken over at once instead of after its lease. Absent or null: the lease decides.
   */
  isHolderAlive?: (executionId: string) => boolean | null;
}

export type JobLog = (message: string, details?: Record<string, unknown>) => void;

/** A scheduled time further ahead than this is a guess about data that does not exist yet. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

/** Which run a scheduled time belongs to: its tick, window, id (job + window start) and evidence prefix. */
function runIdentity(policy: ResolvedPolicy, job: JobDefinition, scheduledTime: string) {
  const tick = tickOf(new Date(scheduledTime));
  const window = runWindow(job, tick);
  const windowStart = new Date(window.start);
  return { tick, window, jobRunId: deriveJobRunId(job.jobId, windowStart), evidencePrefix: evidencePrefix(policy.stage, job.jobId, windowStart) };
}

/** Pins what a run works from: its id (job + window start), window, evidence prefix, policy snapshot, config hash. */
function pinRun(policy: ResolvedPolicy, job: JobDefinition, request: ExecutionInput, executionId: string, now: Date): { run: RunContext; start: AuditEvent } {
  const { tick, window, jobRunId, evidencePrefix } = runIdentity(policy, job, request.scheduledTime);
  const run: RunContext = {
    stage: policy.stage,
    jobId: job.jobId,
    jobVersion: job.jobVersion,
    jobRunId,
    scheduledTime: isoSeconds(tick),
    trigger: request.trigger,
    executionId,
    window,
    evidencePrefix,
    policySnapshot: policy.snapshot,
    jobConfigSha256: sha256Hex(canonicalJson(job)),
    datasetRefs: [...job.capabilities.datasets].sort(),
    outputDatasetId: job.capabilities.produces ?? `opsrail.outputs.${job.jobId}`,
    requestedBy: request.requestedBy ?? (request.trigger === 'schedule' ? 'scheduler' : 'operator'),
    params: request.params ?? {},
    approvalRequired: job.dangerous.value,
    claimedAt: now.toISOString(),
  };
  const start = runEvent(run, 'job.run.start', run.claimedAt, {
    actor: actorOf(request.trigger),
    window: run.window,
    inputsRefs: { datasetRefs: run.datasetRefs, policySnapshot: run.policySnapshot, replayPointersRef: `${run.evidencePrefix}${objectName('replay_pointers', run.window.start)}` },
    details: { executionId, scheduledTime: run.scheduledTime, jobConfigSha256: run.jobConfigSha256 },
  });
  return { run, start };
}

/** The run id and evidence prefix an execution input maps to, without claiming anything. */
export function deriveRunIdentity(policy: ResolvedPolicy, request: ExecutionInput): { jobRunId: string; evidencePrefix: string } {
  const { jobRunId, evidencePrefix } = runIdentity(policy, requireJob(policy, request.jobId), request.scheduledTime);
  return { jobRunId, evidencePrefix };
}

/** Pins the run (at `run.claimedAt`) and claims it until `lease`; `claimed` is false when another delivery claimed it first. */
async function pinAndClaim(deps: Pick<RunDependencies, 'policy' | 'state' | 'clock' | 'redactor'>, job: JobDefinition, request: ExecutionInput, executionId: string): Promise<{ run: RunContext; lease: string; claimed: boolean }> {
  const now = deps.clock.now();
  // Params (keys and values) and the requester are stored on the run item and in its evidence.
  const stored = { ...request, ...(request.params ? { params: deps.redactor.value(request.params) } : {}), ...(request.requestedBy ? { requestedBy: deps.redactor.id(request.requestedBy) } : {}) };
  const pinned = pinRun(deps.policy, job, stored, executionId, now);
  const lease = leaseFrom(deps.policy, now);
  const run = { ...pinned.run, leaseExpiresAt: lease };
  return { run, lease, claimed: await deps.state.claimRun(run, pinned.start, lease) };
}

/** One setting: the claim's lease, and with it Execute's in-progress record (docs/crash-safety.md). */
const leaseFrom = (policy: ResolvedPolicy, now: Date): string => new Date(now.getTime() + policy.settings.thresholds.runLeaseSeconds * 1000).toISOString();

const actorOf = (trigger: string): AuditEvent['actor'] => ({ kind: trigger === 'schedule' ? 'scheduler' : 'operator', id: trigger });

function requireJob(policy: ResolvedPolicy, jobId: string): JobDefinition {
  const job = findJob(policy, jobId);
  if (!job) throw new ConfigurationError(`job '${jobId}' is not in the catalog of stage '${policy.stage}'`);
  return job;
}

/** A run whose inputs cannot be pinned unambiguously is refused, never run on a guess (docs/safety-rules.md#preflight-refusals). */
function inputsRefusal(policy: ResolvedPolicy, job: JobDefinition, run: RunContext, now: Date): RunRefusedError | null {
  const known = new Set(policy.settings.datasets.map((d) => d.datasetId));
  const unknown = run.datasetRefs.filter((d) => !known.has(d));
  if (unknown.length) return new RunRefusedError('inputs_unpinned', `dataset refs not in the ${policy.stage} data catalog: ${unknown.join(', ')}`);
  if (job.window.kind !== 'tick' && Date.parse(run.window.end) > now.getTime()) {
    return new RunRefusedError('inputs_unpinned', `window ${run.window.start}..${run.window.end} is not complete yet`);
  }
  return null;
}

/** Kill-switches, quarantine, safety mode and dangerous ops, in that order (docs/safety-rules.md#preflight-refusals). */
export function safetyRefusal(job: JobDefinition, controls: Controls, jobState: JobState | undefined): RunRefusedError | null {
  // The jobs that relax a control are the way out of it: each is exempt from the refusal it lifts
  // (never from the approval gate, which it still passes through).
  const opKind = job.dangerous.value ? job.dangerous.opKind : null;
  const kill = controls.globalKillSwitch?.engaged ? controls.globalKillSwitch : controls.jobKillSwitches[job.jobId]?.engaged ? controls.jobKillSwitches[job.jobId] : null;
  if (kill && opKind !== 'kill_switch_release') return new RunRefusedError('refused_kill_switch', `${kill.jobId ? `kill-switch of ${kill.jobId}` : 'global kill-switch'} engaged by ${kill.changedBy} at ${kill.changedAt}: ${kill.reason}`);
  if (jobState?.quarantine) return new RunRefusedError('refused_quarantine', `job ${job.jobId} is quarantined since ${jobState.quarantine.since} (${jobState.quarantine.reason}); releasing it is a dangerous op`);
  const mode = opKind === 'safety_relax' ? 'NORMAL' : (controls.safety?.mode ?? 'NORMAL');
  if (mode === 'SAFE' && job.dangerous.value) return new RunRefusedError('refused_safety', `safety mode SAFE refuses dangerous jobs (${job.jobId}: ${job.dangerous.opKind})`);
  if (mode === 'EMERGENCY_STOP' && (job.dangerous.value || !['VALIDATION', 'REPORTING'].includes(job.jobClass))) {
    return new RunRefusedError('refused_safety', `safety mode EMERGENCY_STOP lets only non-dangerous VALIDATION and REPORTING jobs run (${job.jobId} is ${job.jobClass}${job.dangerous.value ? ', dangerous' : ''})`);
  }
  return null;
}

/** Integrity FAIL or UNKNOWN (never validated) stops every job but those that validate or repair the dataset (docs/safety-rules.md#dataset-integrity). */
function integrityRefusal(job: JobDefinition, controls: Controls): RunRefusedError | null {
  const validatesOnly = job.jobClass === 'VALIDATION' && job.capabilities.writes.length === 0;
  for (const datasetId of job.capabilities.datasets) {
    const status = controls.datasets[datasetId]?.status ?? 'UNKNOWN';
    if ((status === 'FAIL' || status === 'UNKNOWN') && !validatesOnly && !job.capabilities.repairs.includes(datasetId)) {
      return new RunRefusedError('refused_integrity', `integrity of dataset ${datasetId} is ${status}: only its repair or validation may run`);
    }
  }
  return null;
}

/**
 * A tick in the future is refused before anything is claimed (docs/handlers.md): a claim would
 * consume the window, and the real tick would later be suppressed as its duplicate.
 */
function futureTickRefusal(scheduledTime: string, now: Date): RunRefusedError | null {
  if (Date.parse(scheduledTime) <= now.getTime() + FUTURE_TOLERANCE_MS) return null;
  return new RunRefusedError('inputs_unpinned', `scheduled time ${scheduledTime} is in the future: its inputs do not exist yet (nothing was claimed)`);
}

async function admit(deps: Pick<RunDependencies, 'policy' | 'state' | 'clock'>, job: JobDefinition, run: RunContext): Promise<RunContext> {
  const [controls, jobState] = await Promise.all([deps.state.getControls(), deps.state.getJobState(job.jobId)]);
  // Safety first (kill-switch, quarantine, mode, dangerous), then pinning, then the integrity of what was pinned.
  const refusal = safetyRefusal(job, controls, jobState) ?? inputsRefusal(deps.policy, job, run, deps.clock.now()) ?? integrityRefusal(job, controls);
  if (refusal) throw refusal;
  return run;
}

/**
 * Step 1. Pins the run's inputs, claims it (with a lease), then admits it or refuses it. A second
 * delivery of the same window stops here as a duplicate, unless the claim's holder died: once its lease
 * has expired the later delivery takes the run over: restartable, never left claimed for ever
 * (docs/local-stack.md#dead-holders-of-runs, docs/crash-safety.md).
 */
export async function preflight(deps: Pick<RunDependencies, 'policy' | 'state' | 'clock' | 'redactor' | 'isHolderAlive'>, request: ExecutionInput, executionId: string): Promise<RunContext> {
  const job = requireJob(deps.policy, request.jobId);
  if (request.trigger === 'schedule' && !job.enabled) {
    throw new ConfigurationError(`job '${job.jobId}' is not enabled in stage '${deps.policy.stage}' (jobs are opt-in)`);
  }
  const future = futureTickRefusal(request.scheduledTime, deps.clock.now());
  if (future) throw future;
  const { run, lease, claimed } = await pinAndClaim(deps, job, request, executionId);
  if (claimed) return admit(deps, job, run);

  const existing = await deps.state.getRun(run.jobRunId);
  // A retried Preflight whose first claim landed (but whose answer was lost) finds its own claim.
  if (existing && existing.executionId === executionId && existing.phase === 'claimed') return admit(deps, job, RunContext.parse(existing));
  const holderGone = !!existing && deps.isHolderAlive?.(existing.executionId) === false;
  if (existing && existing.phase === 'claimed' && (holderGone || Date.parse(existing.leaseExpiresAt) < Date.parse(run.claimedAt))) {
    const takeovers = existing.audit.filter((e) => e.type === 'job.run.retry').length;
    const why = holderGone ? `holder of execution ${existing.executionId} is gone` : `lease of execution ${existing.executionId} expired at ${existing.leaseExpiresAt}`;
    const event = runEvent(existing, 'job.run.retry', run.claimedAt, {
      actor: actorOf(request.trigger),
      eventIdSuffix: `takeover-${executionId}`,
      retry: { count: takeovers + 1, reason: `${why}; taken over` },
      details: { previousExecutionId: existing.executionId, executionId },
    });
    if (await deps.state.takeOverRun(run.jobRunId, existing, { executionId, leaseExpiresAt: lease, event })) {
      // Its holder died after deciding how the run ended: finish that, never run the job again.
      // A success goes the normal way (Execute replays its stored result); anything else to RecordFailure.
      if (existing.sealed && existing.sealed.status !== 'ok' && existing.sealed.status !== 'dry_run') throw new RunAlreadyClosedError(existing.jobRunId, existing.sealed.status);
      return admit(deps, job, RunContext.parse({ ...existing, executionId, leaseExpiresAt: lease }));
    }
  }
  const duplicate = runEvent(run, 'job.run.duplicate_suppressed', run.claimedAt, {
    actor: actorOf(request.trigger),
    eventIdSuffix: executionId,
    details: { executionId, trigger: request.trigger, heldBy: existing?.executionId ?? null },
  });
  await deps.state.recordDuplicate({ ...duplicate, jobRunId: run.jobRunId }, executionId);
  throw new DuplicateRunError(run.jobRunId);
}

/** Step 3 (inside Powertools idempotency in the handler): the job's own logic, once per run. */
export async function executeJob(deps: RunDependencies, run: RunContext): Promise<ExecuteResult> {
  const job = requireJob(deps.policy, run.jobId);
  const implementation = deps.jobs.get(job.jobId);
  if (!implementation) throw new ConfigurationError(`job '${job.jobId}' is declared in the catalog but has no implementation`);
  const item = await bookkeeping('read the run', () => getClaimedRun(deps.state, run.jobRunId));
  // Every attempt that started the job counted itself; one that neither failed nor finished died mid-job.
  const started = item.attempts;
  const died = started - (item.failedAttempts ?? (item.lastAttemptError ? started : 0));
  if (died > 0 && job.idempotent !== true) {
    throw new UnknownOutcomeError(
      `attempt ${started} of run ${run.jobRunId} started the job and ended without an outcome (its holder died): the effect may or may not have happened, and ${job.jobId} is not idempotent, so it is not run again`,
    );
  }
  const log: JobLog = (message, details) => deps.log(deps.redactor.text(message), details ? deps.redactor.value(details) : undefined);
  const context: JobContext = { job, run, policy: deps.policy, clock: deps.clock, state: deps.state, evidence: deps.evidence, log, control: deps };
  if (run.approvalRequired) await readmitApproved(deps, job, implementation, context);
  if (started > 0) {
    const reason = died > 0 ? `attempt ${started} ended without an outcome (its holder died); ${job.jobId} is idempotent, so it runs again with the same key` : (item.lastAttemptError ?? 'the previous attempt did not complete');
    const retry = runEvent(run, 'job.run.retry', deps.clock.now(), { eventIdSuffix: `attempt-${started + 1}`, retry: { count: started, reason } });
    await bookkeeping('audit the retry', () => deps.state.appendAudit(run.jobRunId, [retry]));
  }
  // The last write before the job runs: from here on, this attempt's outcome is the job's.
  const { attempts } = await bookkeeping('count the attempt', () => deps.state.countExecuteAttempt(run.jobRunId));
  const startedAt = deps.clock.now().toISOString();
  let result;
  try {
    result = await implementation.run(context);
  } catch (error) {
    // The error travels to Step Functions, its history and the logs: no secret may travel with it.
    redactError(error, deps.redactor);
    // If this write fails too, the next attempt sees an attempt without an outcome: the safe reading.
    await deps.state.recordAttemptFailure(run.jobRunId, deps.redactor.text(`${(error as Error).name}: ${(error as Error).message}`)).catch(() => undefined);
    throw error;
  }
  // Redacted here, before the result reaches the state machine, the idempotency record or the evidence.
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
  };
  const bytes = Buffer.byteLength(JSON.stringify(executed));
  if (bytes > MAX_EXECUTE_RESULT_BYTES) {
    // In AWS this result would end the execution with the uncatchable States.DataLimitExceeded; fail the run cleanly instead.
    const error = new ValidationError(`job ${job.jobId} result`, [{ path: 'outputs', message: `${bytes} bytes, more than the ${MAX_EXECUTE_RESULT_BYTES} a Step Functions state can carry (256 KiB with the run context); write large outputs elsewhere and return a reference` }]);
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
async function readmitApproved(deps: RunDependencies, job: JobDefinition, implementation: JobImplementation, context: JobContext): Promise<void> {
  const { run } = context;
  const [controls, jobState, approval] = await Promise.all([deps.state.getControls(), deps.state.getJobState(job.jobId), deps.approvals.getApproval(approvalIdFor(run))]);
  const refusal = safetyRefusal(job, controls, jobState);
  if (refusal) throw refusal;
  if (approval?.record.status !== 'APPROVED') {
    throw new RunRefusedError('approval_rejected', `run ${run.jobRunId} reached Execute without an approval (request ${approval?.record.status ?? 'missing'})`);
  }
  const now = planDigest(deps.redactor, await planOf(job, implementation, context));
  if (now !== approvedPlanDigest(approval.record)) {
    throw new RunRefusedError('plan_changed', `the plan of ${job.jobId} changed after approval ${approval.record.approvalId} (approved ${approvedPlanDigest(approval.record).slice(0, 12)}, now ${now.slice(0, 12)}); it is not run on a plan nobody approved`);
  }
}

/** Step Functions passes at most 256 KiB between states; the run context and the envelope need the rest. */
export const MAX_EXECUTE_RESULT_BYTES = 200 * 1024;

async function getClaimedRun(state: StateStore, jobRunId: string): Promise<RunItem> {
  const item = await state.getRun(jobRunId);
  if (!item) throw new ConfigurationError(`run ${jobRunId} was never claimed`);
  return item;
}

const MAX_CHAIN_ATTEMPTS = 10;

/** A taken-over run whose outcome (not a success) was already sealed: RecordFailure finishes it from that outcome. */
class RunAlreadyClosedError extends OpsrailError {
  readonly kind = 'internal' as const;
  readonly retryable = false;
  constructor(jobRunId: string, status: string) {
    super(`run ${jobRunId} already ended with status ${status}; finishing its evidence`);
  }
}

/** Other runs of the same job kept changing what this run must update conditionally: retried like throttling. */
class ContentionError extends OpsrailError {
  readonly kind = 'throttling' as const;
  readonly retryable = true;
  constructor(jobRunId: string, what: string) {
    super(`run ${jobRunId}: ${what} kept moving; try again`);
    this.name = 'ThrottlingError';
  }
}

/** Reserves this run's place in its job's hash chain; retried while other runs of the job move the head. */
async function linkIntoChain(state: StateStore, item: RunItem, basis: BundleBasis, manifestFor: (link: Pick<ChainLink, 'sequence' | 'previous'>) => Uint8Array): Promise<ChainLink> {
  for (let attempt = 0; attempt < MAX_CHAIN_ATTEMPTS; attempt++) {
    const head = (await state.getJobState(item.jobId))?.chainHead;
    const sequence = (head?.sequence ?? 0) + 1;
    const previous = head ? { key: head.manifestKey, sha256: head.manifestSha256, sequence: head.sequence } : null;
    const link: ChainLink = { sequence, previous, manifestKey: `${item.evidencePrefix}${objectName('manifest', item.window.start)}`, manifestSha256: sha256Hex(manifestFor({ sequence, previous })), basis };
    const outcome = await state.linkChain(item.jobId, item.jobRunId, head?.sequence ?? 0, link);
    if (outcome === 'linked') return link;
    if (outcome === 'already') return (await getClaimedRun(state, item.jobRunId)).chain as ChainLink;
  }
  throw new ContentionError(item.jobRunId, "the job's evidence chain");
}

/**
 * Finalize and the failure paths: seals the outcome, writes the bundle write-once (objects first,
 * manifest last) and updates the job state. Every part is safe to repeat: a retried call finishes what
 * an earlier one began, with the same bytes.
 */
export async function closeRun(deps: Pick<RunDependencies, 'state' | 'evidence' | 'codeVersion' | 'redactor' | 'metrics'>, jobRunId: string, proposed: SealedOutcome, outputs: JobOutput[]): Promise<RunSummary> {
  const item = await getClaimedRun(deps.state, jobRunId);
  if (item.summary) return item.summary;
  const sealed = item.sealed ?? (await deps.state.sealOutcome(jobRunId, deps.redactor.value(proposed)));
  // Outputs of a run that did not succeed are not trusted evidence: a failed or refused run's bundle carries none.
  const trusted = sealed.status === 'ok' || sealed.status === 'dry_run' ? outputs : [];
  // A takeover changes the run item (executionId, a retry event) after the first attempt may have
  // reserved its link: the bundle is built from what the link froze, so every attempt writes its bytes.
  const bundleOf = (basis: BundleBasis) => {
    const frozen: RunItem = { ...item, executionId: basis.executionId, audit: item.audit.slice(0, basis.auditCount) };
    // Every object but the manifest passes the redactor once more on its way out (it is deterministic, so retries match).
    const objects = buildBundleObjects(frozen, sealed, trusted, basis.codeVersion).map((o) => ({
      ...o,
      body: new TextEncoder().encode(deps.redactor.text(new TextDecoder().decode(o.body))),
    }));
    const described = describeObjects(objects);
    return { objects, manifestFor: (link: Pick<ChainLink, 'sequence' | 'previous'>) => buildManifest(frozen, described, link, sealed.endedAt) };
  };
  const current: BundleBasis = { executionId: item.executionId, auditCount: item.audit.length, codeVersion: deps.codeVersion };
  const link = item.chain ?? (await linkIntoChain(deps.state, item, current, (l) => bundleOf(current).manifestFor(l)));
  const { objects, manifestFor } = bundleOf(link.basis ?? current);
  const manifest = manifestFor(link);
  try {
    if (sha256Hex(manifest) !== link.manifestSha256) {
      throw new EvidenceIntegrityError(`run ${jobRunId}: the bundle this attempt would write does not match the manifest hash its chain link reserved (${link.manifestSha256}); nothing written`, link.manifestKey);
    }
    for (const object of objects) await deps.evidence.putObject(`${item.evidencePrefix}${object.name}`, object.body, object.contentType);
    await deps.evidence.putObject(link.manifestKey, manifest, 'application/json');
  } catch (error) {
    if (error instanceof EvidenceIntegrityError) await recordIntegrityFinding(deps.state, item, error, sealed.endedAt);
    throw error;
  }
  const summary: RunSummary = {
    jobRunId,
    jobId: item.jobId,
    status: sealed.status,
    quality: sealed.quality,
    evidencePrefix: item.evidencePrefix,
    manifestKey: link.manifestKey,
    error: sealed.error,
  };
  if (!(await deps.state.completeRun(summary, sealed.endedAt, sealed.effect))) return (await getClaimedRun(deps.state, jobRunId)).summary ?? summary;
  // Once per run: only the call that completed it reports it.
  deps.metrics.record({
    jobId: item.jobId,
    succeeded: sealed.effect.kind === 'success',
    failed: sealed.effect.kind === 'failure',
    refused: sealed.status === 'skipped',
    errorKind: sealed.error?.kind ?? null,
    attempts: sealed.attempts,
    durationMs: Math.max(0, Date.parse(sealed.endedAt) - Date.parse(sealed.startedAt)),
    quarantineEntered: sealed.effect.kind === 'failure' && sealed.effect.quarantine !== null,
  });
  return summary;
}

/** An integrity finding on the run's own evidence, on its audit in the state table (once per key). */
async function recordIntegrityFinding(state: StateStore, item: RunItem, error: EvidenceIntegrityError, at: string): Promise<void> {
  const suffix = `evidence-conflict-${sha256Hex(error.key).slice(0, 16)}`;
  const event = runEvent(item, 'integrity.record', at, { eventIdSuffix: suffix, quality: 'DEGRADED', evidenceRefs: [error.key], details: { finding: 'evidence_conflict', message: error.message } });
  if (item.audit.some((e) => e.eventId === event.eventId)) return;
  await state.appendAudit(item.jobRunId, [event]).catch(() => undefined);
}

export async function finalizeRun(deps: Pick<RunDependencies, 'policy' | 'state' | 'evidence' | 'codeVersion' | 'redactor' | 'metrics' | 'approvals'>, run: RunContext, result: ExecuteResult): Promise<RunSummary> {
  const job = findJob(deps.policy, run.jobId);
  const events = [];
  if (result.integrityReport) {
    events.push(
      runEvent(run, 'integrity.record', result.endedAt, {
        quality: result.integrityReport.status,
        evidenceRefs: [`${run.evidencePrefix}${objectName('integrity_report', run.window.start)}`],
        details: { checked: result.integrityReport.checked, findings: result.integrityReport.findings.length, datasets: job?.capabilities.datasets ?? [] },
      }),
    );
  }
  events.push(
    runEvent(run, 'job.run.end', result.endedAt, {
      status: result.status,
      quality: result.quality,
      outputsRefs: result.outputs.map((o) => `${run.evidencePrefix}${outputName(run.window.start, o.name, o.table)}`),
      evidenceRefs: [`${run.evidencePrefix}${objectName('manifest', run.window.start)}`],
    }),
  );
  const approval = run.approvalRequired ? await deps.approvals.getApproval(approvalIdFor(run)) : undefined;
  if (approval) events.unshift(gateRecord(run, approval, result.endedAt));
  // Only a completed run with quality OK is a success; DEGRADED or UNKNOWN never is (docs/safety-rules.md#quality).
  const effect: RunEffect = result.quality === 'OK' ? { kind: 'success' } : { kind: 'neutral' };
  const outcome: SealedOutcome = {
    status: result.status,
    quality: result.quality,
    startedAt: result.startedAt,
    endedAt: result.endedAt,
    attempts: result.attempts,
    diagnostics: result.diagnostics,
    error: null,
    integrityReport: result.integrityReport,
    events,
    effect,
    gate: approval ? gateResults(approval) : null,
  };
  const summary = await closeRun(deps, run.jobRunId, outcome, result.outputs);
  // A validation job's verdict is the integrity of the datasets it validates (docs/safety-rules.md#dataset-integrity).
  if (job && job.jobClass === 'VALIDATION' && result.integrityReport) {
    const status = result.integrityReport.status === 'OK' ? 'OK' : result.integrityReport.status === 'DEGRADED' ? 'FAIL' : 'UNKNOWN';
    for (const datasetId of job.capabilities.datasets) {
      await deps.state.setDatasetIntegrity({ schemaVersion: 1, datasetId, status, recordedBy: run.jobRunId, recordedAt: result.endedAt });
    }
  }
  return summary;
}

export interface FailureInput {
  jobId: string;
  scheduledTime: string;
  trigger?: string | undefined;
  run?: RunContext | undefined;
  /** Execute's result, when the job ran and a later step (Finalize) failed. */
  result?: ExecuteResult | undefined;
  error: { Error: string; Cause?: string | undefined };
}

/**
 * The Fail, refusal and stop paths: any step's error lands here. A run that was never claimed (Preflight
 * itself failed) is claimed now, so the window is consumed and evidenced rather than silently retried.
 * Refusals end as `skipped`; only failures of the job itself count toward quarantine.
 */
export async function recordFailure(deps: Pick<RunDependencies, 'policy' | 'state' | 'evidence' | 'clock' | 'codeVersion' | 'redactor' | 'metrics' | 'approvals'>, input: FailureInput, executionId: string): Promise<RunSummary> {
  let kind = errorKindFromName(input.error.Error);
  // An error name is whatever the failing code threw: it is stored (and printed) only redacted.
  const error = { kind, name: deps.redactor.text(input.error.Error), message: deps.redactor.text(causeMessage(input.error.Cause)).slice(0, 2000) };
  const job = findJob(deps.policy, input.jobId);
  let run = input.run;
  let unclaimed = false;
  if (!run) {
    if (!job || Number.isNaN(Date.parse(input.scheduledTime))) {
      // Nothing to attach evidence to: the input itself was bad. The execution fails with this error.
      throw new ConfigurationError(`cannot record failure of '${input.jobId}' at '${input.scheduledTime}': ${error.name}: ${error.message}`);
    }
    if (isRefusal(kind)) {
      // Preflight refuses before claiming only what must not consume its window (a future tick):
      // unless this execution holds the claim, there is nothing of ours to evidence.
      const { jobRunId } = runIdentity(deps.policy, job, input.scheduledTime);
      const held = await deps.state.getRun(jobRunId);
      if (held?.executionId !== executionId) {
        return { jobRunId, jobId: job.jobId, status: 'skipped', quality: 'UNKNOWN', evidencePrefix: null, manifestKey: null, error };
      }
    }
    const request = { jobId: job.jobId, scheduledTime: input.scheduledTime, trigger: input.trigger === 'manual' ? ('manual' as const) : ('schedule' as const) };
    const pinned = await pinAndClaim(deps, job, request, executionId);
    run = pinned.run;
    unclaimed = !pinned.claimed;
  }
  const item = await getClaimedRun(deps.state, run.jobRunId);
  // Another execution owns (or took over) this run: its outcome is its own to record, never ours to overwrite.
  if (item.executionId !== executionId) {
    throw new ConfigurationError(`run ${item.jobRunId} is held by execution ${item.executionId}; ${error.name}: ${error.message}`);
  }
  // Claimed earlier by this same execution (a retried RecordFailure): the stored run is the pinned one.
  if (unclaimed) run = item;
  if (input.result && !isRefusal(kind)) {
    // The job ran and told its outcome; only opsrail's own bookkeeping after it failed. The run is
    // what the job did, with a diagnostic, never an error of the job (docs/crash-safety.md).
    return finalizeRun(deps, run, { ...input.result, diagnostics: [...input.result.diagnostics, bookkeepingFailed(deps.redactor, input.error)] });
  }
  const endedAt = deps.clock.now().toISOString();
  const events: AuditEvent[] = [];
  // A dangerous op's gate: nobody decided in time (the wait timed out), so the request expires, audited.
  let approval = run.approvalRequired ? await deps.approvals.getApproval(approvalIdFor(run)) : undefined;
  if (approval && approval.record.status === 'PENDING' && input.error.Error === 'States.Timeout') {
    await deps.approvals.decideApproval(approval.record.approvalId, { status: 'EXPIRED', decidedBy: null, decidedAt: endedAt, reason: 'nobody decided before the gate timed out' });
    events.push(runEvent(run, 'job.dangerous_op.reject', endedAt, { details: { approvalId: approval.record.approvalId, opKind: approval.record.opKind, reason: 'timed out' } }));
    deps.metrics.approval('expired');
    approval = await deps.approvals.getApproval(approval.record.approvalId);
  }
  if (approval?.record.status === 'EXPIRED' && input.error.Error === 'States.Timeout') {
    kind = 'approval_timed_out';
    error.kind = kind;
  }
  if (approval) events.push(gateRecord(run, approval, endedAt));
  const refused = isRefusal(kind);
  events.push(runEvent(run, 'job.run.fail', endedAt, { error, evidenceRefs: [`${run.evidencePrefix}${objectName('manifest', run.window.start)}`], details: { refused, executionId } }));
  let effect: RunEffect = { kind: 'neutral' };
  // A run already sealed keeps its outcome (closeRun returns it): its failure, if any, was counted then.
  // Neither an unknown outcome nor opsrail's own bookkeeping is a failure of the job; nor is a
  // retryable error before the job's logic ever started, or an Execute that kept meeting another
  // attempt's in-progress record (whose outcome is not this run's to judge).
  const notTheJobs =
    kind === 'unknown_outcome' || kind === 'bookkeeping' || input.error.Error === 'IdempotencyAlreadyInProgressError' || (item.attempts === 0 && RETRYABLE_KINDS.includes(kind));
  if (!refused && kind !== 'stopped' && !notTheJobs && !item.sealed) {
    const threshold = deps.policy.settings.thresholds.quarantineAfterConsecutiveFailures;
    const counted = await deps.state.countFailure(run.jobId, run.jobRunId, threshold, endedAt);
    if (counted === 'moved') throw new ContentionError(run.jobRunId, "the job's failure count");
    const { consecutiveFailures, quarantine } = counted;
    if (quarantine) {
      events.push(runEvent(run, 'job.run.quarantine.enter', quarantine.since, { details: { ...quarantine, consecutiveFailures, threshold } }));
    }
    effect = { kind: 'failure', quarantine };
  }
  const outcome: SealedOutcome = {
    status: refused ? 'skipped' : 'error',
    quality: 'UNKNOWN',
    startedAt: item.claimedAt,
    endedAt,
    attempts: item.attempts,
    diagnostics: [{ level: refused ? 'warning' : 'error', code: error.kind, message: `${error.name}: ${error.message}` }],
    error,
    integrityReport: null,
    events,
    effect,
    gate: approval ? gateResults(approval) : null,
  };
  return closeRun(deps, run.jobRunId, outcome, []);
}

/** gate.record: what the approval gate decided for this run, and how many attempts it took. */
function gateRecord(run: RunContext, approval: { record: { approvalId: string; status: string; decidedBy: string | null; opKind: string } ; attempts: unknown[] }, at: string): AuditEvent {
  return runEvent(run, 'gate.record', at, {
    details: { approvalId: approval.record.approvalId, opKind: approval.record.opKind, decision: approval.record.status, decidedBy: approval.record.decidedBy, attempts: approval.attempts.length },
  });
}

/** Lambda puts a JSON error document in Cause; keep its message (bounded after redaction: a cut can hide a secret from its pattern). */
/**
 * The diagnostic of a run recorded as succeeded after opsrail's own bookkeeping failed (`caught` is the
 * step's error as the ASL Catch passed it on). On the sealed outcome when RecordFailure sealed it; the
 * CLI shows it either way (docs/crash-safety.md).
 */
export function bookkeepingFailed(redactor: Redactor, caught: { Error: string; Cause?: string | undefined }): Diagnostic {
  return { level: 'warning', code: 'bookkeeping_failed', message: `finishing the run failed before it was recorded: ${redactor.text(caught.Error)}: ${redactor.text(causeMessage(caught.Cause)).slice(0, 2000)}` };
}

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
