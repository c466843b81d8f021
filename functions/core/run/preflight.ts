import {
  RunContext,
  type AuditEvent,
  type ExecutionInput,
  type JobDefinition,
} from '../../../contracts';
import { stageResourceNames } from '../../../contracts/resource-names';
import { runEvent } from '../audit';
import {
  ConfigurationError,
  DuplicateRunError,
  RunAlreadyClosedError,
  RunBufferedError,
  RunRefusedError,
  TickSkippedError,
} from '../errors';
import { canonicalJson, sha256Hex } from '../hashing';
import { isoSeconds } from '../ids';
import { objectName } from '../layout';
import type { ResolvedPolicy } from '../policy';
import type { ActiveRun, ClaimOutcome, Controls, JobState } from '../ports';
import { actorOf, leaseFrom, requireJob, runIdentity, type RunDependencies } from './dependencies';

/** A scheduled time further ahead than this is a guess about data that does not exist yet. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

/**
 * Pins what a run works from: its id (job + window start), window, evidence prefix, policy
 * snapshot, config hash.
 */
function pinRun(
  policy: ResolvedPolicy,
  job: JobDefinition,
  request: ExecutionInput,
  executionId: string,
  now: Date,
): { run: RunContext; start: AuditEvent } {
  const { tick, window, jobRunId, evidencePrefix } = runIdentity(
    policy,
    job,
    request.scheduledTime,
  );
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
    jobFunction: stageResourceNames(policy.stage).jobFunction(job.jobId),
    claimedAt: now.toISOString(),
  };
  const start = runEvent(run, 'job.run.start', run.claimedAt, {
    actor: actorOf(request.trigger),
    window: run.window,
    inputsRefs: {
      datasetRefs: run.datasetRefs,
      policySnapshot: run.policySnapshot,
      replayPointersRef: `${run.evidencePrefix}${objectName('replay_pointers', run.window.start)}`,
    },
    details: {
      executionId,
      scheduledTime: run.scheduledTime,
      jobConfigSha256: run.jobConfigSha256,
    },
  });
  return { run, start };
}

/**
 * Pins the run (at `run.claimedAt`) and claims it until `lease`; `claimed` is false when another
 * delivery claimed it first.
 */
export async function pinAndClaim(
  deps: Pick<RunDependencies, 'policy' | 'state' | 'clock' | 'redactor'>,
  job: JobDefinition,
  request: ExecutionInput,
  executionId: string,
  /**
   * Overlap `skip` and `buffer_one` take the job's slot with the claim (docs/scheduling.md#overlap);
   * RecordFailure, evidencing a failure Preflight never claimed, does not.
   */
  exclusive = job.overlap !== 'allow',
): Promise<{ run: RunContext; lease: string; claimed: ClaimOutcome }> {
  const now = deps.clock.now();
  // Params (keys and values) and the requester are stored on the run item and in its evidence.
  const stored = {
    ...request,
    ...(request.params ? { params: deps.redactor.value(request.params) } : {}),
    ...(request.requestedBy ? { requestedBy: deps.redactor.id(request.requestedBy) } : {}),
  };
  const pinned = pinRun(deps.policy, job, stored, executionId, now);
  const lease = leaseFrom(deps.policy, now);
  const run = { ...pinned.run, leaseExpiresAt: lease };
  return {
    run,
    lease,
    claimed: await deps.state.claimRun(run, pinned.start, lease, exclusive),
  };
}

/**
 * A run whose inputs cannot be pinned unambiguously is refused, never run on a guess
 * (docs/safety-rules.md#preflight-refusals).
 */
function inputsRefusal(
  policy: ResolvedPolicy,
  job: JobDefinition,
  run: RunContext,
  now: Date,
): RunRefusedError | null {
  const known = new Set(policy.settings.datasets.map((d) => d.datasetId));
  const unknown = run.datasetRefs.filter((d) => !known.has(d));
  if (unknown.length)
    return new RunRefusedError(
      'inputs_unpinned',
      `dataset refs not in the ${policy.stage} data catalog: ${unknown.join(', ')}`,
    );
  if (job.window.kind !== 'tick' && Date.parse(run.window.end) > now.getTime()) {
    return new RunRefusedError(
      'inputs_unpinned',
      `window ${run.window.start}..${run.window.end} is not complete yet`,
    );
  }
  return null;
}

/**
 * Kill-switches, quarantine, safety mode and dangerous ops, in that order
 * (docs/safety-rules.md#preflight-refusals).
 */
export function safetyRefusal(
  job: JobDefinition,
  controls: Controls,
  jobState: JobState | undefined,
): RunRefusedError | null {
  // The jobs that relax a control are the way out of it: each is exempt from the refusal it lifts
  // (never from the approval gate, which it still passes through).
  const opKind = job.dangerous.value ? job.dangerous.opKind : null;
  const kill = controls.globalKillSwitch?.engaged
    ? controls.globalKillSwitch
    : controls.jobKillSwitches[job.jobId]?.engaged
      ? controls.jobKillSwitches[job.jobId]
      : null;
  if (kill && opKind !== 'kill_switch_release')
    return new RunRefusedError(
      'refused_kill_switch',
      `${kill.jobId ? `kill-switch of ${kill.jobId}` : 'global kill-switch'} engaged by ${kill.changedBy} at ${kill.changedAt}: ${kill.reason}`,
    );
  if (jobState?.quarantine)
    return new RunRefusedError(
      'refused_quarantine',
      `job ${job.jobId} is quarantined since ${jobState.quarantine.since} (${jobState.quarantine.reason}); releasing it is a dangerous op`,
    );
  const mode = opKind === 'safety_relax' ? 'NORMAL' : (controls.safety?.mode ?? 'NORMAL');
  if (mode === 'SAFE' && job.dangerous.value)
    return new RunRefusedError(
      'refused_safety',
      `safety mode SAFE refuses dangerous jobs (${job.jobId}: ${job.dangerous.opKind})`,
    );
  if (
    mode === 'EMERGENCY_STOP' &&
    (job.dangerous.value || !['VALIDATION', 'REPORTING'].includes(job.jobClass))
  ) {
    return new RunRefusedError(
      'refused_safety',
      `safety mode EMERGENCY_STOP lets only non-dangerous VALIDATION and REPORTING jobs run (${job.jobId} is ${job.jobClass}${job.dangerous.value ? ', dangerous' : ''})`,
    );
  }
  return null;
}

/**
 * Integrity FAIL or UNKNOWN (never validated) stops every job but those that validate or repair the
 * dataset (docs/safety-rules.md#dataset-integrity).
 */
function integrityRefusal(job: JobDefinition, controls: Controls): RunRefusedError | null {
  const validatesOnly = job.jobClass === 'VALIDATION' && job.capabilities.writes.length === 0;
  for (const datasetId of job.capabilities.datasets) {
    const status = controls.datasets[datasetId]?.status ?? 'UNKNOWN';
    if (
      (status === 'FAIL' || status === 'UNKNOWN') &&
      !validatesOnly &&
      !job.capabilities.repairs.includes(datasetId)
    ) {
      return new RunRefusedError(
        'refused_integrity',
        `integrity of dataset ${datasetId} is ${status}: only its repair or validation may run`,
      );
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
  return new RunRefusedError(
    'inputs_unpinned',
    `scheduled time ${scheduledTime} is in the future: its inputs do not exist yet (nothing was claimed)`,
  );
}

async function admit(
  deps: Pick<RunDependencies, 'policy' | 'state' | 'clock'>,
  job: JobDefinition,
  run: RunContext,
): Promise<RunContext> {
  const [controls, jobState] = await Promise.all([
    deps.state.getControls(),
    deps.state.getJobState(job.jobId),
  ]);
  // Safety first (kill-switch, quarantine, mode, dangerous), then pinning, then the integrity of
  // what was pinned.
  const refusal =
    safetyRefusal(job, controls, jobState) ??
    inputsRefusal(deps.policy, job, run, deps.clock.now()) ??
    integrityRefusal(job, controls);
  if (refusal) throw refusal;
  return run;
}

/**
 * How long a buffered tick's place lasts without a poll: two polls and a minute, so a tick whose
 * execution ended (stopped, timed out) gives its place up to the next.
 */
const waitingLeaseMs = (policy: ResolvedPolicy) =>
  (2 * policy.settings.scheduler.bufferPollSeconds + 60) * 1000;

/**
 * A tick that found `open`, another window's run of its job, holding the slot
 * (docs/scheduling.md#overlap). `buffer_one`: the first such tick waits (the state machine's
 * WaitForOpenRun, then Preflight again); anything else is skipped, audited on the open run (so the
 * event is in its evidence and the `skipped_ticks` query) and counted (TickSkipped).
 */
async function overlapped(
  deps: Pick<RunDependencies, 'policy' | 'state' | 'clock' | 'metrics'>,
  job: JobDefinition,
  run: RunContext,
  request: ExecutionInput,
  open: ActiveRun,
): Promise<never> {
  const now = deps.clock.now();
  if (job.overlap === 'buffer_one') {
    const before = (await deps.state.getSlot(job.jobId)).waiting;
    const waiting = await deps.state.waitForSlot(
      job.jobId,
      {
        executionId: run.executionId,
        scheduledTime: run.scheduledTime,
        leaseExpiresAt: new Date(now.getTime() + waitingLeaseMs(deps.policy)).toISOString(),
      },
      now.toISOString(),
    );
    if (waiting === 'waiting') {
      // Counted once per tick, at its first wait, not at every poll.
      if (before?.executionId !== run.executionId) deps.metrics.tick('buffered', job.jobId);
      throw new RunBufferedError(run.jobRunId, open.jobRunId);
    }
  }
  const holder = await deps.state.getRun(open.jobRunId);
  if (holder) {
    const event = runEvent(holder, 'job.run.tick_skipped', now.toISOString(), {
      actor: actorOf(request.trigger),
      eventIdSuffix: `tick-skipped-${sha256Hex(run.executionId).slice(0, 16)}`,
      details: {
        skippedJobRunId: run.jobRunId,
        skippedScheduledTime: run.scheduledTime,
        executionId: run.executionId,
        trigger: request.trigger,
        overlap: job.overlap,
      },
    });
    // A retried Preflight of the same tick does not audit it twice.
    if (!holder.audit.some((e) => e.eventId === event.eventId))
      await deps.state.appendAudit(open.jobRunId, [event]);
  }
  deps.metrics.tick('skipped', job.jobId);
  throw new TickSkippedError(run.jobRunId, open.jobRunId);
}

/**
 * Step 1. Pins the run's inputs, claims it (with a lease), then admits it or refuses it. A second
 * delivery of the same window stops here as a duplicate, unless the claim's holder died: once its
 * lease has expired the later delivery takes the run over: restartable, never left claimed for ever
 * (docs/local-stack.md#dead-holders-of-runs, docs/crash-safety.md).
 */
export async function preflight(
  deps: Pick<
    RunDependencies,
    'policy' | 'state' | 'clock' | 'redactor' | 'isHolderAlive' | 'metrics'
  >,
  request: ExecutionInput,
  executionId: string,
): Promise<RunContext> {
  const job = requireJob(deps.policy, request.jobId);
  if (request.trigger === 'schedule' && !job.enabled) {
    throw new ConfigurationError(
      `job '${job.jobId}' is not enabled in stage '${deps.policy.stage}' (jobs are opt-in)`,
    );
  }
  const future = futureTickRefusal(request.scheduledTime, deps.clock.now());
  if (future) throw future;
  const { run, lease, claimed } = await pinAndClaim(deps, job, request, executionId);
  if (typeof claimed === 'object') return overlapped(deps, job, run, request, claimed.busy);
  // A buffered tick that got the slot gives its place up (a no-op for every other tick).
  if (job.overlap === 'buffer_one') await deps.state.leaveWaiting(job.jobId, executionId);
  if (claimed) return admit(deps, job, run);

  const existing = await deps.state.getRun(run.jobRunId);
  // A retried Preflight whose first claim landed (but whose answer was lost) finds its own claim.
  if (existing && existing.executionId === executionId && existing.phase === 'claimed')
    return admit(deps, job, RunContext.parse({ ...existing, jobFunction: run.jobFunction }));
  const holderGone = !!existing && deps.isHolderAlive?.(existing.executionId) === false;
  if (
    existing &&
    existing.phase === 'claimed' &&
    (holderGone || Date.parse(existing.leaseExpiresAt) < Date.parse(run.claimedAt))
  ) {
    const takeovers = existing.audit.filter((e) => e.type === 'job.run.retry').length;
    const why = holderGone
      ? `holder of execution ${existing.executionId} is gone`
      : `lease of execution ${existing.executionId} expired at ${existing.leaseExpiresAt}`;
    const event = runEvent(existing, 'job.run.retry', run.claimedAt, {
      actor: actorOf(request.trigger),
      eventIdSuffix: `takeover-${executionId}`,
      retry: { count: takeovers + 1, reason: `${why}; taken over` },
      details: { previousExecutionId: existing.executionId, executionId },
    });
    if (
      await deps.state.takeOverRun(run.jobRunId, existing, {
        executionId,
        leaseExpiresAt: lease,
        event,
      })
    ) {
      // Its holder died after deciding how the run ended: finish that, never run the job again. A
      // success goes the normal way (Execute replays its stored result); anything else to
      // RecordFailure.
      if (
        existing.sealed &&
        existing.sealed.status !== 'ok' &&
        existing.sealed.status !== 'dry_run'
      )
        throw new RunAlreadyClosedError(existing.jobRunId, existing.sealed.status);
      return admit(
        deps,
        job,
        // The job's function by today's name: a run claimed by an older release has none.
        RunContext.parse({
          ...existing,
          jobFunction: run.jobFunction,
          executionId,
          leaseExpiresAt: lease,
        }),
      );
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
