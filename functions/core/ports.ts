import type {
  AuditEvent,
  Diagnostic,
  ErrorKind,
  IntegrityReport,
  JobOutput,
  Quality,
  RunContext,
  RunStatus,
  RunSummary,
} from '../../contracts';

/** The link of one run's manifest into its job's hash chain, reserved before the manifest is written. */
export interface ChainLink {
  sequence: number;
  manifestKey: string;
  manifestSha256: string;
  previous: { key: string; sha256: string; sequence: number } | null;
}

/** How a run ended, fixed once (the first Finalize or RecordFailure to get there wins); retries reuse it. */
export interface SealedOutcome {
  status: RunStatus;
  quality: Quality;
  startedAt: string;
  endedAt: string;
  attempts: number;
  diagnostics: Diagnostic[];
  error: { kind: ErrorKind; name: string; message: string } | null;
  integrityReport: IntegrityReport | null;
  /** Audit events that close the run (integrity.record, job.run.end or job.run.fail). */
  events: AuditEvent[];
}

export interface RunItem extends RunContext {
  phase: 'claimed' | 'finalized';
  audit: AuditEvent[];
  attempts: number;
  sealed?: SealedOutcome;
  chain?: ChainLink;
  summary?: RunSummary;
}

export interface JobState {
  jobId: string;
  lastRunAt?: string;
  lastStatus?: RunStatus;
  lastQuality?: Quality;
  consecutiveFailures: number;
  runCount: number;
  chainHead?: ChainLink;
}

export interface JobStateReader {
  getJobState(jobId: string): Promise<JobState | undefined>;
}

/** The state table. Every write that decides something is conditional. */
export interface StateStore extends JobStateReader {
  /** true when this call claimed the run; false when it was already claimed. */
  claimRun(run: RunContext, startEvent: AuditEvent): Promise<boolean>;
  getRun(jobRunId: string): Promise<RunItem | undefined>;
  recordDuplicate(event: AuditEvent & { jobRunId: string }, executionId: string): Promise<void>;
  listDuplicates(jobRunId: string): Promise<AuditEvent[]>;
  /** Counts one real execution attempt of the run's job logic and returns the new count. */
  countExecuteAttempt(jobRunId: string): Promise<number>;
  /** Stores the outcome unless one is already sealed; returns whichever is stored. */
  sealOutcome(jobRunId: string, outcome: SealedOutcome): Promise<SealedOutcome>;
  /**
   * Moves the job's chain head from `expectedSequence` to `link` and records the link on the run,
   * atomically. 'conflict': another run moved the head first; 'already': this run is already linked.
   */
  linkChain(jobId: string, jobRunId: string, expectedSequence: number, link: ChainLink): Promise<'linked' | 'conflict' | 'already'>;
  /** Marks the run finalized and updates the job state, once. false when it was already finalized. */
  completeRun(summary: RunSummary, endedAt: string): Promise<boolean>;
  getSchedulerCursor(jobId: string): Promise<string | undefined>;
  setSchedulerCursor(jobId: string, tick: string): Promise<void>;
}

export interface EvidenceReader {
  /** The object's bytes, or undefined when there is no such object. */
  getObject(key: string): Promise<Uint8Array | undefined>;
}

export interface EvidenceStore extends EvidenceReader {
  /** Write-once: 'already_exists' when an object is already stored under the key. */
  putObject(key: string, body: Uint8Array, contentType: string): Promise<'written' | 'already_exists'>;
}

export type { JobOutput };
