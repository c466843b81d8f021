import type {
  GateResults,
  NotificationRecord,
  DatasetIntegrity,
  KillSwitch,
  SafetyState,
  AuditEvent,
  Diagnostic,
  ErrorKind,
  FailedStep,
  IntegrityReport,
  JobOutput,
  Quality,
  RunContext,
  RunStatus,
  RunSummary,
} from '../../contracts';

/**
 * The link of one run's manifest into its job's hash chain, reserved before the manifest is
 * written.
 */
export interface ChainLink {
  sequence: number;
  manifestKey: string;
  manifestSha256: string;
  previous: { key: string; sha256: string; sequence: number } | null;
  /**
   * On the run's own link only: what the manifest was hashed from, so whichever attempt writes the
   * bundle (the first, or a takeover) writes exactly these bytes (docs/crash-safety.md).
   */
  basis?: BundleBasis;
}

/** The parts of a run item that change after its chain link is reserved, frozen at that moment. */
export interface BundleBasis {
  executionId: string;
  /** How many of the run's audit events (an append-only list) the bundle holds. */
  auditCount: number;
  codeVersion: string;
}

/**
 * How a run ended, fixed once (the first Finalize or RecordFailure to get there wins); retries
 * reuse it.
 */
export interface SealedOutcome {
  status: RunStatus;
  quality: Quality;
  startedAt: string;
  endedAt: string;
  attempts: number;
  diagnostics: Diagnostic[];
  error: { kind: ErrorKind; name: string; message: string } | null;
  integrityReport: IntegrityReport | null;
  /**
   * Audit events that close the run (integrity.record, job.run.end or job.run.fail,
   * quarantine.enter).
   */
  events: AuditEvent[];
  /** How the run moves its job's counters, decided once with the outcome. */
  effect: RunEffect;
  /** What the approval gate decided, for dangerous ops (gate_results in the bundle). */
  gate?: GateResults | null;
  /** What the run told people, channel by channel (notifications in the bundle). */
  notifications?: NotificationRecord[];
  /** The step a failed run stopped in, for its ticket (docs/evidence.md#tickets). */
  failedStep?: FailedStep;
}

export interface RunItem extends RunContext {
  phase: 'claimed' | 'finalized';
  audit: AuditEvent[];
  attempts: number;
  /**
   * Until when the claiming execution holds the run; afterwards a later delivery may take it over.
   */
  leaseExpiresAt: string;
  /** Why the last attempt of the job's logic failed (the reason of the next job.run.retry). */
  lastAttemptError?: string;
  /** Attempts that reported their failure; an attempt neither failed nor finished died mid-job. */
  failedAttempts?: number;
  sealed?: SealedOutcome;
  /** This run's failure as counted against its job (once, by countFailure). */
  failure?: FailureCount;
  chain?: ChainLink;
  summary?: RunSummary;
  /**
   * The run holds its job's overlap slot (overlap `skip` or `buffer_one`): completing it frees the
   * slot (docs/scheduling.md#overlap).
   */
  exclusive?: boolean;
}

/** The run holding its job's overlap slot: claimed and not yet completed. */
export interface ActiveRun {
  jobRunId: string;
  scheduledTime: string;
  executionId: string;
}

/** The one tick of a `buffer_one` job waiting for its open run to end. */
export interface WaitingTick {
  executionId: string;
  scheduledTime: string;
  /** Renewed at every poll; once past, the tick is taken for gone and another may wait. */
  leaseExpiresAt: string;
}

/** What a claim found: the run claimed, already claimed (a duplicate), or the job's slot busy. */
export type ClaimOutcome = true | false | { busy: ActiveRun };

export interface JobState {
  jobId: string;
  lastRunAt?: string;
  lastStatus?: RunStatus;
  lastQuality?: Quality;
  consecutiveFailures: number;
  runCount: number;
  lastSuccessAt?: string;
  /** When the job last failed, and the error kind it failed with (its heartbeat). */
  lastFailureAt?: string;
  lastFailureKind?: string;
  chainHead?: ChainLink;
  quarantine?: Quarantine;
}

export interface Quarantine {
  since: string;
  jobRunId: string;
  reason: string;
}

/** Everything Preflight must know before letting a job run, read in one query. */
export interface Controls {
  safety: SafetyState | null;
  globalKillSwitch: KillSwitch | null;
  jobKillSwitches: Record<string, KillSwitch>;
  datasets: Record<string, DatasetIntegrity>;
  /** Jobs whose schedule an operator paused (`opsrail pause`): no scheduled tick starts a run. */
  pausedJobs: Record<string, SchedulePause>;
}

/** An operator's pause of one job's schedule (`opsrail pause`), until `opsrail resume`. */
export interface SchedulePause {
  jobId: string;
  pausedBy: string;
  pausedAt: string;
  reason: string;
}

/** Which run records `listRuns` returns; every field narrows. */
export interface RunQuery {
  jobId?: string;
  /** Runs scheduled at or after this UTC instant (ISO 8601). */
  since?: string;
}

export interface OpenRun {
  jobRunId: string;
  jobId: string;
  scheduledTime: string;
  trigger: string;
  executionId: string;
  leaseExpiresAt: string;
}

/**
 * A failure's place in its job's run of consecutive failures, and the quarantine it started, if
 * any.
 */
export interface FailureCount {
  consecutiveFailures: number;
  quarantine: Quarantine | null;
}

/** How a finished run moves its job's counters. */
export type RunEffect =
  | { kind: 'success' }
  | { kind: 'failure'; quarantine: Quarantine | null }
  /**
   * Refused, stopped, or completed with quality DEGRADED/UNKNOWN: neither success nor a job
   * failure.
   */
  | { kind: 'neutral' };

/**
 * The head of the stage's chain of control events, kept like a job's manifest chain head. It holds
 * the head event's bytes too, so an event whose write was cut short after linking is written by the
 * next one.
 */
export interface ControlChainHead {
  sequence: number;
  key: string;
  sha256: string;
  body: string;
}

export interface ControlChainReader {
  getControlChainHead(): Promise<ControlChainHead | undefined>;
}

export interface JobStateReader {
  getJobState(jobId: string): Promise<JobState | undefined>;
}

/** The state table. Every write that decides something is conditional. */
export interface StateStore extends JobStateReader, ControlChainReader {
  /**
   * Moves the control chain head from `expectedSequence` (0: no head yet) to `head`; false when
   * another event moved it first.
   */
  linkControlChain(expectedSequence: number, head: ControlChainHead): Promise<boolean>;
  /**
   * true when this call claimed the run; false when it was already claimed. `exclusive` (overlap
   * `skip`, `buffer_one`) also takes the job's overlap slot in the same write: when another run of
   * the job holds it, nothing is written and that run is returned as `busy`. A run that exists
   * wins over a busy slot: a second delivery is always a duplicate.
   */
  claimRun(
    run: RunContext,
    startEvent: AuditEvent,
    leaseExpiresAt: string,
    exclusive?: boolean,
  ): Promise<ClaimOutcome>;
  /**
   * Makes `tick` the job's waiting tick (overlap `buffer_one`) unless another live one (its lease
   * not past `now`) waits: 'waiting' when this execution is (or stays) the waiting tick, with its
   * lease renewed; otherwise the one that waits.
   */
  waitForSlot(jobId: string, tick: WaitingTick, now: string): Promise<'waiting' | WaitingTick>;
  /** Clears the job's waiting tick if it is this execution's (after its run was claimed). */
  leaveWaiting(jobId: string, executionId: string): Promise<void>;
  /** The job's overlap slot: the run holding it and the tick waiting, if any. */
  getSlot(jobId: string): Promise<{ active?: ActiveRun; waiting?: WaitingTick }>;
  /**
   * Takes over a claim whose lease expired, from the execution that held it; false if anything
   * moved.
   */
  takeOverRun(
    jobRunId: string,
    from: { executionId: string; leaseExpiresAt: string },
    to: { executionId: string; leaseExpiresAt: string; event: AuditEvent },
  ): Promise<boolean>;
  /** Runs claimed and not yet finalized. */
  listOpenRuns(): Promise<OpenRun[]>;
  appendAudit(jobRunId: string, events: AuditEvent[]): Promise<void>;
  recordAttemptFailure(jobRunId: string, reason: string): Promise<void>;
  getRun(jobRunId: string): Promise<RunItem | undefined>;
  recordDuplicate(event: AuditEvent & { jobRunId: string }, executionId: string): Promise<void>;
  listDuplicates(jobRunId: string): Promise<AuditEvent[]>;
  /**
   * Counts one real execution attempt of the run's job logic; returns the new count and why the
   * last one failed.
   */
  countExecuteAttempt(jobRunId: string): Promise<{ attempts: number; lastAttemptError?: string }>;
  /** Stores the outcome unless one is already sealed; returns whichever is stored. */
  sealOutcome(jobRunId: string, outcome: SealedOutcome): Promise<SealedOutcome>;
  /**
   * Moves the job's chain head from `expectedSequence` to `link` and records the link on the run,
   * atomically. 'conflict': another run moved the head first; 'already': this run is already
   * linked.
   */
  linkChain(
    jobId: string,
    jobRunId: string,
    expectedSequence: number,
    link: ChainLink,
  ): Promise<'linked' | 'conflict' | 'already'>;
  /**
   * Counts the run's failure against its job, once: a repeat returns the first answer. The failure
   * that reaches `threshold` puts the job in quarantine in the same write, so concurrent failures
   * neither share a count nor miss the threshold. 'moved': the job state kept changing; try again
   * later.
   */
  countFailure(
    jobId: string,
    jobRunId: string,
    threshold: number,
    at: string,
  ): Promise<FailureCount | 'moved'>;
  /**
   * Marks the run finalized and updates the job state, once (a failure was counted by
   * countFailure). false when it was already finalized.
   */
  completeRun(
    summary: RunSummary,
    endedAt: string,
    effect: RunEffect,
    /** The run holds its job's overlap slot: freed in the same write. */
    releaseSlot?: boolean,
  ): Promise<boolean>;
  releaseQuarantine(jobId: string): Promise<Quarantine | null>;
  /**
   * Finalized runs scheduled before `cutoff` (for run_record_retention): a record's age is its
   * run's.
   */
  listRunsBefore(
    cutoff: string,
  ): Promise<{ jobRunId: string; jobId: string; scheduledTime: string }[]>;
  /**
   * Deletes a run's items (the run and its duplicate records); its evidence in S3 stays under
   * Object Lock.
   */
  deleteRun(jobRunId: string): Promise<void>;
  /**
   * Run records (claimed or finalized) with their audit lists, in jobRunId order: the history
   * `opsrail runs` and `opsrail show` read.
   */
  listRuns(query: RunQuery): Promise<RunItem[]>;
  getControls(): Promise<Controls>;
  /** Pauses a job's schedule (a pause) or resumes it (null). */
  setSchedulePause(jobId: string, pause: SchedulePause | null): Promise<void>;
  setSafetyState(state: SafetyState): Promise<void>;
  setKillSwitch(killSwitch: KillSwitch): Promise<void>;
  setDatasetIntegrity(integrity: DatasetIntegrity): Promise<void>;
  getSchedulerCursor(jobId: string): Promise<string | undefined>;
  setSchedulerCursor(jobId: string, tick: string): Promise<void>;
  /**
   * Gives `holder` (a run's jobRunId) the next sequence number of an export dataset, once: the
   * counter moves from the last number given to the next in the same conditional write that
   * records the holder's number, so concurrent holders get consecutive numbers and a holder asking
   * again (a retry, a takeover of its run) gets the number and time it got first
   * (docs/exports.md#sequence-numbers).
   */
  allocateExportSequence(dataset: string, holder: string, at: string): Promise<ExportSequence>;
  /** The last sequence number given for an export dataset (0: none yet), for verify. */
  getExportSequence(dataset: string): Promise<number>;
}

/** An export dataset's sequence number, as allocated to one run. */
export interface ExportSequence {
  sequence: number;
  /** When it was allocated: the entry's generated_at, the same on every attempt of the run. */
  allocatedAt: string;
}

export interface EvidenceReader {
  /** The object's bytes, or undefined when there is no such object. */
  getObject(key: string): Promise<Uint8Array | undefined>;
  /** Every key under a prefix, in key order. */
  list(prefix: string): Promise<string[]>;
}

export interface EvidenceStore extends EvidenceReader {
  /** Write-once: 'already_exists' when an object is already stored under the key. */
  putObject(
    key: string,
    body: Uint8Array,
    contentType: string,
  ): Promise<'written' | 'already_exists'>;
}

export type { JobOutput };

/** What a finished run tells the metrics (once per run). */
export interface RunMetricsRecord {
  jobId: string;
  succeeded: boolean;
  failed: boolean;
  refused: boolean;
  errorKind: string | null;
  attempts: number;
  durationMs: number;
  quarantineEntered: boolean;
}

export interface RunMetrics {
  record(run: RunMetricsRecord): void;
  /** A tick that found another window's run of its job open (docs/scheduling.md#overlap). */
  tick(event: 'skipped' | 'buffered', jobId: string): void;
  approval(event: 'requested' | 'approved' | 'rejected' | 'expired'): void;
}
