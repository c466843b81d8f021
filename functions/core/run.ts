import { RunContext } from '../../contracts';
import type { AuditEvent, ExecuteResult, ExecutionInput, JobDefinition, JobOutput, RunSummary } from '../../contracts';
import type { JobRegistry } from '../jobs/types';
import { runEvent } from './audit';
import { buildBundleObjects, buildManifest, describeObjects, MANIFEST_NAME } from './bundle';
import type { Clock } from './clock';
import { ConfigurationError, DuplicateRunError, errorKindFromName, OpsrailError } from './errors';
import { canonicalJson, sha256Hex } from './hashing';
import { deriveJobRunId, evidencePrefix, isoSeconds, tickOf } from './ids';
import { findJob, type ResolvedPolicy } from './policy';
import type { ChainLink, EvidenceStore, RunItem, SealedOutcome, StateStore } from './ports';

export interface RunDependencies {
  policy: ResolvedPolicy;
  state: StateStore;
  evidence: EvidenceStore;
  clock: Clock;
  jobs: JobRegistry;
  codeVersion: string;
}

/** Pins what a run works from: its id, window, evidence prefix, policy snapshot and config hash. */
function pinRun(policy: ResolvedPolicy, job: JobDefinition, request: ExecutionInput, executionId: string, now: Date): { run: RunContext; start: AuditEvent } {
  const tick = tickOf(new Date(request.scheduledTime));
  const windowEnd = new Date(tick.getTime() + job.windowMinutes * 60_000);
  const run: RunContext = {
    stage: policy.stage,
    jobId: job.jobId,
    jobVersion: job.jobVersion,
    jobRunId: deriveJobRunId(job.jobId, tick),
    scheduledTime: isoSeconds(tick),
    trigger: request.trigger,
    executionId,
    window: { start: isoSeconds(tick), end: isoSeconds(windowEnd) },
    evidencePrefix: evidencePrefix(policy.stage, job.jobId, tick),
    policySnapshot: policy.snapshot,
    jobConfigSha256: sha256Hex(canonicalJson(job)),
    datasetRefs: [...job.capabilities.datasets].sort(),
    claimedAt: now.toISOString(),
  };
  const start = runEvent(run, 'job.run.start', run.claimedAt, {
    actor: actorOf(request.trigger),
    window: run.window,
    inputsRefs: { datasetRefs: run.datasetRefs, policySnapshot: run.policySnapshot, replayPointersRef: `${run.evidencePrefix}replay_pointers.json` },
    details: { executionId, scheduledTime: run.scheduledTime },
  });
  return { run, start };
}

function pickRunContext(item: RunItem): RunContext {
  return RunContext.parse(item);
}

const actorOf = (trigger: string): AuditEvent['actor'] => ({ kind: trigger === 'schedule' ? 'scheduler' : 'operator', id: trigger });

function requireJob(policy: ResolvedPolicy, jobId: string): JobDefinition {
  const job = findJob(policy, jobId);
  if (!job) throw new ConfigurationError(`job '${jobId}' is not in the catalog of stage '${policy.stage}'`);
  return job;
}

/** Step 1. Pins the run's inputs and claims it; a second delivery of the same tick stops here. */
export async function preflight(deps: Pick<RunDependencies, 'policy' | 'state' | 'clock'>, request: ExecutionInput, executionId: string): Promise<RunContext> {
  const job = requireJob(deps.policy, request.jobId);
  if (request.trigger === 'schedule' && !job.enabled) {
    throw new ConfigurationError(`job '${job.jobId}' is not enabled in stage '${deps.policy.stage}' (jobs are opt-in)`);
  }
  const { run, start } = pinRun(deps.policy, job, request, executionId, deps.clock.now());
  if (await deps.state.claimRun(run, start)) return run;
  // A retried Preflight whose first claim landed (but whose answer was lost) finds its own claim.
  const existing = await deps.state.getRun(run.jobRunId);
  if (existing && existing.executionId === executionId && existing.phase === 'claimed') return pickRunContext(existing);
  const duplicate = runEvent(run, 'job.run.duplicate_suppressed', run.claimedAt, {
    actor: actorOf(request.trigger),
    eventIdSuffix: executionId,
    details: { executionId, trigger: request.trigger },
  });
  await deps.state.recordDuplicate({ ...duplicate, jobRunId: run.jobRunId }, executionId);
  throw new DuplicateRunError(run.jobRunId);
}

/** Step 3 (inside Powertools idempotency in the handler): the job's own logic, once per run. */
export async function executeJob(deps: RunDependencies, run: RunContext): Promise<ExecuteResult> {
  const job = requireJob(deps.policy, run.jobId);
  const implementation = deps.jobs.get(job.jobId);
  if (!implementation) throw new ConfigurationError(`job '${job.jobId}' is declared in the catalog but has no implementation`);
  const attempts = await deps.state.countExecuteAttempt(run.jobRunId);
  const startedAt = deps.clock.now().toISOString();
  const result = await implementation.run({ job, run, policy: deps.policy, clock: deps.clock, state: deps.state, evidence: deps.evidence });
  return {
    status: job.mode === 'live' ? 'ok' : 'dry_run',
    quality: result.quality,
    startedAt,
    endedAt: deps.clock.now().toISOString(),
    attempts,
    outputs: result.outputs,
    integrityReport: result.integrityReport,
    diagnostics: result.diagnostics,
  };
}

async function getClaimedRun(state: StateStore, jobRunId: string): Promise<RunItem> {
  const item = await state.getRun(jobRunId);
  if (!item) throw new ConfigurationError(`run ${jobRunId} was never claimed`);
  return item;
}

const MAX_CHAIN_ATTEMPTS = 10;

/** Reserves this run's place in its job's hash chain; retried while other runs of the job move the head. */
async function linkIntoChain(state: StateStore, item: RunItem, manifestFor: (link: Pick<ChainLink, 'sequence' | 'previous'>) => Uint8Array): Promise<ChainLink> {
  for (let attempt = 0; attempt < MAX_CHAIN_ATTEMPTS; attempt++) {
    const head = (await state.getJobState(item.jobId))?.chainHead;
    const sequence = (head?.sequence ?? 0) + 1;
    const previous = head ? { key: head.manifestKey, sha256: head.manifestSha256, sequence: head.sequence } : null;
    const link: ChainLink = { sequence, previous, manifestKey: `${item.evidencePrefix}${MANIFEST_NAME}`, manifestSha256: sha256Hex(manifestFor({ sequence, previous })) };
    const outcome = await state.linkChain(item.jobId, item.jobRunId, head?.sequence ?? 0, link);
    if (outcome === 'linked') return link;
    if (outcome === 'already') return (await getClaimedRun(state, item.jobRunId)).chain as ChainLink;
  }
  throw new OpsrailRetryableChainError(item.jobRunId);
}

class OpsrailRetryableChainError extends OpsrailError {
  readonly kind = 'throttling' as const;
  readonly retryable = true;
  constructor(jobRunId: string) {
    super(`run ${jobRunId}: the job's evidence chain kept moving; try again`);
  }
}

/**
 * Steps 4 and Fail: seals the outcome, writes the bundle write-once (objects first, manifest last) and
 * updates the job state. Every part is safe to repeat: a retried call finishes what an earlier one began.
 */
export async function closeRun(deps: Pick<RunDependencies, 'state' | 'evidence' | 'codeVersion'>, jobRunId: string, proposed: SealedOutcome, outputs: JobOutput[]): Promise<RunSummary> {
  let item = await getClaimedRun(deps.state, jobRunId);
  if (item.summary) return item.summary;
  const sealed = item.sealed ?? (await deps.state.sealOutcome(jobRunId, proposed));
  // Outputs of a run that did not succeed are not trusted evidence: a failed run's bundle carries none.
  const objects = buildBundleObjects(item, sealed, sealed.status === 'error' ? [] : outputs, deps.codeVersion);
  const described = describeObjects(objects);
  const manifestFor = (link: Pick<ChainLink, 'sequence' | 'previous'>) => buildManifest(item, described, link, sealed.endedAt);
  const link = item.chain ?? (await linkIntoChain(deps.state, item, manifestFor));
  for (const object of objects) await deps.evidence.putObject(`${item.evidencePrefix}${object.name}`, object.body, object.contentType);
  await deps.evidence.putObject(link.manifestKey, manifestFor(link), 'application/json');
  const summary: RunSummary = {
    jobRunId,
    jobId: item.jobId,
    status: sealed.status,
    quality: sealed.quality,
    evidencePrefix: item.evidencePrefix,
    manifestKey: link.manifestKey,
    error: sealed.error,
  };
  if (!(await deps.state.completeRun(summary, sealed.endedAt))) {
    item = await getClaimedRun(deps.state, jobRunId);
    return item.summary ?? summary;
  }
  return summary;
}

export async function finalizeRun(deps: Pick<RunDependencies, 'state' | 'evidence' | 'codeVersion'>, run: RunContext, result: ExecuteResult): Promise<RunSummary> {
  const events = [];
  if (result.integrityReport) {
    events.push(
      runEvent(run, 'integrity.record', result.endedAt, {
        quality: result.integrityReport.status,
        evidenceRefs: [`${run.evidencePrefix}integrity_report.json`],
        details: { checked: result.integrityReport.checked, findings: result.integrityReport.findings.length },
      }),
    );
  }
  events.push(
    runEvent(run, 'job.run.end', result.endedAt, {
      status: result.status,
      quality: result.quality,
      outputsRefs: result.outputs.map((o) => `${run.evidencePrefix}outputs/${o.name}`),
      evidenceRefs: [`${run.evidencePrefix}${MANIFEST_NAME}`],
    }),
  );
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
  };
  return closeRun(deps, run.jobRunId, outcome, result.outputs);
}

/**
 * The Fail path: any step's error lands here. A run that was never claimed (Preflight itself failed)
 * is claimed now, so the tick is consumed and evidenced rather than silently retried by a redelivery.
 */
export async function recordFailure(
  deps: Pick<RunDependencies, 'policy' | 'state' | 'evidence' | 'clock' | 'codeVersion'>,
  input: { jobId: string; scheduledTime: string; trigger?: string | undefined; run?: RunContext | undefined; error: { Error: string; Cause?: string | undefined } },
  executionId: string,
): Promise<RunSummary> {
  const error = { kind: errorKindFromName(input.error.Error), name: input.error.Error, message: causeMessage(input.error.Cause) };
  let run = input.run;
  if (!run) {
    const job = findJob(deps.policy, input.jobId);
    if (!job || Number.isNaN(Date.parse(input.scheduledTime))) {
      // Nothing to attach evidence to: the input itself was bad. The execution fails with this error.
      throw new ConfigurationError(`cannot record failure of '${input.jobId}' at '${input.scheduledTime}': ${error.name}: ${error.message}`);
    }
    const request = { jobId: job.jobId, scheduledTime: input.scheduledTime, trigger: input.trigger === 'manual' ? ('manual' as const) : ('schedule' as const) };
    const pinned = pinRun(deps.policy, job, request, executionId, deps.clock.now());
    run = pinned.run;
    if (!(await deps.state.claimRun(pinned.run, pinned.start))) {
      const owner = await getClaimedRun(deps.state, pinned.run.jobRunId);
      // Another execution owns this run: its outcome is its own to record, never ours to overwrite.
      if (owner.executionId !== executionId) {
        throw new ConfigurationError(`run ${owner.jobRunId} belongs to execution ${owner.executionId}; ${error.name}: ${error.message}`);
      }
      run = owner;
    }
  }
  const item = await getClaimedRun(deps.state, run.jobRunId);
  const endedAt = deps.clock.now().toISOString();
  const outcome: SealedOutcome = {
    status: 'error',
    quality: 'UNKNOWN',
    startedAt: item.claimedAt,
    endedAt,
    attempts: item.attempts,
    diagnostics: [{ level: 'error', code: error.kind, message: `${error.name}: ${error.message}` }],
    error,
    integrityReport: null,
    events: [runEvent(run, 'job.run.fail', endedAt, { error, evidenceRefs: [`${run.evidencePrefix}${MANIFEST_NAME}`] })],
  };
  return closeRun(deps, run.jobRunId, outcome, []);
}

/** Lambda puts a JSON error document in Cause; keep its message, bounded. */
function causeMessage(cause: string | undefined): string {
  if (!cause) return '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage.slice(0, 2000);
  } catch {
    // not JSON: a plain message
  }
  return cause.slice(0, 2000);
}
