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
/** Dimensions of every run metric (the alarm on a job must name exactly these). */
export const RUN_METRIC_DIMENSIONS = ['service', 'stage', 'jobId'] as const;
/** RunFailed is also emitted per error class, with this extra dimension. */
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
