/**
 * The run metrics (CloudWatch, embedded metric format via Powertools Metrics): the handlers emit
 * them, the dashboard and the alarms read them, both from these names.
 */
export const METRIC_NAMESPACE = 'opsrail';
export const RUN_METRICS = {
  completed: 'RunCompleted',
  succeeded: 'RunSucceeded',
  failed: 'RunFailed',
  refused: 'RunRefused',
  retries: 'RunRetries',
  durationMs: 'RunDurationMs',
  quarantineEntered: 'QuarantineEntered',
} as const;
/**
 * Dimensions of every run metric: the stage's figures. The job's id is in each EMF record as a
 * property (not a dimension, which would make a metric, and a bill, per job), so the dashboard's
 * per-job figures are a Logs Insights query over the records (docs/observability.md#metrics).
 */
export const RUN_METRIC_DIMENSIONS = ['service', 'stage'] as const;
/**
 * The only run metric with a per-job dimension: each enabled job's dead-man's switch alarms on it.
 */
export const PER_JOB_METRICS = [RUN_METRICS.succeeded] as const;
export const PER_JOB_METRIC_DIMENSIONS = ['service', 'stage', 'jobId'] as const;
/** RunFailed is also emitted per error class (per stage), with this extra dimension. */
export const ERROR_KIND_DIMENSION = 'errorKind';

/** Approval metrics, per stage (dimensions service, stage). */
export const APPROVAL_METRICS = {
  requested: 'ApprovalRequested',
  approved: 'ApprovalApproved',
  rejected: 'ApprovalRejected',
  /** Nobody decided within the policy's timeout: pending longer than policy allows. */
  expired: 'ApprovalExpired',
} as const;
export const APPROVAL_METRIC_DIMENSIONS = ['service', 'stage'] as const;

/**
 * Tick metrics, per stage (dimensions service, stage; the job's id is a property, never a
 * dimension): a tick that found another window's run of its job open (docs/scheduling.md#overlap).
 */
export const TICK_METRICS = {
  /** Not run (overlap `skip`, or `buffer_one` with a tick already waiting). */
  skipped: 'TickSkipped',
  /** Waiting for the open run to end (overlap `buffer_one`); counted once per tick. */
  buffered: 'TickBuffered',
} as const;
