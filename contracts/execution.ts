import { z } from 'zod';
import { JobId, PolicySnapshotRef, Quality, SemVer, Sha256Hex, Stage, UtcTimestamp, Window } from './common';
import { Diagnostic, RunStatus } from './run-record';
import { IntegrityReport } from './integrity-report';
import { Identity } from './identity';

/** What EventBridge Scheduler (or the CLI) starts the job-run state machine with. */
export const ExecutionInput = z.object({
  jobId: JobId,
  /** <aws.scheduler.scheduled-time>: the tick, not the delivery time, so a redelivery is the same run. */
  scheduledTime: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 timestamp' }),
  trigger: z.enum(['schedule', 'manual']).default('schedule'),
  /** Who asked for the run (the scheduler, or an operator): never an approver of its dangerous op. */
  requestedBy: Identity.optional(),
  /** Parameters of an operator's run of a control job (e.g. which job's quarantine to release). */
  params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
});
export type ExecutionInput = z.infer<typeof ExecutionInput>;

/** Preflight's output at $.run: the pinned run every later step works from. */
export const RunContext = z.object({
  stage: Stage,
  jobId: JobId,
  jobVersion: SemVer,
  jobRunId: z.string().min(1),
  scheduledTime: UtcTimestamp,
  trigger: z.string(),
  executionId: z.string().min(1),
  window: Window,
  evidencePrefix: z.string().min(1),
  policySnapshot: PolicySnapshotRef,
  jobConfigSha256: Sha256Hex,
  datasetRefs: z.array(z.string()),
  outputDatasetId: z.string().min(1),
  requestedBy: z.string().min(1),
  params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  /** A dangerous op: the run waits at the approval gate before Execute. */
  approvalRequired: z.boolean(),
  claimedAt: UtcTimestamp,
});
export type RunContext = z.infer<typeof RunContext>;

export const PreflightEvent = z.object({ executionId: z.string().min(1), request: ExecutionInput });

export const JobOutput = z.object({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'output names are plain file names'),
  contentType: z.string().min(1),
  body: z.string(),
  /** Rows (JSON Lines) for a queryable table instead of a plain output file. */
  table: z.enum(['expected_ticks']).optional(),
});
export type JobOutput = z.infer<typeof JobOutput>;

/** Execute's output at $.result. */
export const ExecuteResult = z.object({
  status: RunStatus,
  quality: Quality,
  startedAt: UtcTimestamp,
  endedAt: UtcTimestamp,
  attempts: z.number().int().min(1),
  outputs: z.array(JobOutput),
  integrityReport: IntegrityReport.nullable(),
  diagnostics: z.array(Diagnostic),
});
export type ExecuteResult = z.infer<typeof ExecuteResult>;

export const ExecuteEvent = z.object({ run: RunContext });
export const RequestApprovalEvent = z.object({ run: RunContext, taskToken: z.string().min(1) });
export type ExecuteEvent = z.infer<typeof ExecuteEvent>;
export const FinalizeEvent = z.object({ run: RunContext, result: ExecuteResult });

/** The Catch of any step puts {Error, Cause} at $.error; RecordFailure gets the whole state. */
export const RecordFailureEvent = z.object({
  executionId: z.string().min(1),
  state: z.object({
    jobId: z.string(),
    scheduledTime: z.string(),
    trigger: z.string().optional(),
    run: RunContext.optional(),
    error: z.object({ Error: z.string(), Cause: z.string().optional() }),
  }),
});

/** What Finalize and RecordFailure return: the execution's output. */
export const RunSummary = z.object({
  jobRunId: z.string(),
  jobId: JobId,
  status: RunStatus,
  quality: Quality,
  evidencePrefix: z.string().nullable(),
  manifestKey: z.string().nullable(),
  error: z.object({ kind: z.string(), name: z.string(), message: z.string() }).nullable(),
});
export type RunSummary = z.infer<typeof RunSummary>;

/**
 * EventBridge "Step Functions Execution Status Change" for an execution that ended without reaching
 * Finalize or RecordFailure (stopped by a kill-switch, timed out): the ExecutionEnded function
 * evidences it. The local runtime sends the same event when it aborts an execution.
 */
export const ExecutionStatusChangeEvent = z.object({
  'detail-type': z.literal('Step Functions Execution Status Change'),
  source: z.literal('aws.states'),
  detail: z.object({
    executionArn: z.string().min(1),
    stateMachineArn: z.string().min(1),
    status: z.enum(['ABORTED', 'TIMED_OUT', 'FAILED']),
    input: z.string().nullable(),
    cause: z.string().nullable().optional(),
  }),
});
export type ExecutionStatusChangeEvent = z.infer<typeof ExecutionStatusChangeEvent>;
