import { deferred } from './deferred';
import * as z from 'zod';
import {
  JobId,
  PolicySnapshotRef,
  Quality,
  SemVer,
  Sha256Hex,
  Stage,
  UtcTimestamp,
  Window,
} from './common';
import { Diagnostic, RunStatus } from './run-record';
import { IntegrityReport } from './integrity-report';
import { Identity } from './identity';
import { NotificationRecord } from './notification';

/** A run parameter's name: a plain word, since it becomes a DynamoDB map key and an audit field. */
export const RunParamName = deferred(() =>
  z
    .string()
    .regex(
      /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/,
      'must start with a letter, then letters, digits, _ . or - (1-64 chars)',
    ),
);

/** Parameters of an operator's run of a control job (e.g. which job's quarantine to release). */
export const RunParams = deferred(() =>
  z
    .record(RunParamName, z.union([z.string().max(1024), z.number(), z.boolean()]))
    .refine((params) => Object.keys(params).length <= 32, { message: 'at most 32 parameters' }),
);

/** What EventBridge Scheduler (or the CLI) starts the job-run state machine with. */
export const ExecutionInput = deferred(() =>
  z.object({
    jobId: JobId,
    /**
     * <aws.scheduler.scheduled-time>: the tick, not the delivery time, so a redelivery is the same
     * run.
     */
    scheduledTime: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 timestamp' }),
    trigger: z.enum(['schedule', 'manual']).default('schedule'),
    /**
     * Who asked for the run (the scheduler, or an operator): never an approver of its dangerous op.
     */
    requestedBy: Identity.optional(),
    /** Parameters of an operator's run of a control job (e.g. which job's quarantine to release). */
    params: RunParams.optional(),
  }),
);
export type ExecutionInput = z.infer<typeof ExecutionInput>;

/** Preflight's output at $.run: the pinned run every later step works from. */
export const RunContext = deferred(() =>
  z.object({
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
    params: RunParams,
    /** A dangerous op: the run waits at the approval gate before Execute. */
    approvalRequired: z.boolean(),
    /**
     * The function the Execute state invokes: the job's own, with only the job's permissions
     * (stageResourceNames(stage).jobFunction; docs/writing-a-job.md#permissions).
     */
    jobFunction: z.string().min(1),
    claimedAt: UtcTimestamp,
    /**
     * Until when this execution holds the run (claim or takeover time + runLeaseSeconds). Execute's
     * in-progress record expires with it, so a takeover never meets a live one
     * (docs/crash-safety.md).
     */
    leaseExpiresAt: UtcTimestamp.optional(),
  }),
);
export type RunContext = z.infer<typeof RunContext>;

export const PreflightEvent = deferred(() =>
  z.object({ executionId: z.string().min(1), request: ExecutionInput }),
);

export const JobOutput = deferred(() =>
  z.object({
    name: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/,
        'output names are plain file names (up to 200 characters)',
      ),
    /** Sent as the object's Content-Type header: a media type, nothing a header cannot carry. */
    contentType: z
      .string()
      .regex(
        /^[\w.+-]+\/[\w.+-]+(; ?[\w.-]+=[\w.-]+)*$/,
        'must be a media type such as text/plain or application/json; charset=utf-8',
      )
      .max(200),
    body: z.string(),
    /** Rows (JSON Lines) for a queryable table instead of a plain output file. */
    table: z
      .enum(['expected_ticks', 'latency_samples', 'latency_rollups', 'latency_alerts'])
      .optional(),
  }),
);
export type JobOutput = z.infer<typeof JobOutput>;

/** Execute's output at $.result. */
export const ExecuteResult = deferred(() =>
  z.object({
    status: RunStatus,
    quality: Quality,
    startedAt: UtcTimestamp,
    endedAt: UtcTimestamp,
    attempts: z.number().int().min(1),
    outputs: z.array(JobOutput),
    integrityReport: IntegrityReport.nullable(),
    diagnostics: z.array(Diagnostic),
    /** Every notification the job sent (docs/notifications.md), for the run's bundle. */
    notifications: z.array(NotificationRecord).optional(),
  }),
);
export type ExecuteResult = z.infer<typeof ExecuteResult>;

export const ExecuteEvent = deferred(() => z.object({ run: RunContext }));
export const RequestApprovalEvent = deferred(() =>
  z.object({ run: RunContext, taskToken: z.string().min(1) }),
);
export type ExecuteEvent = z.infer<typeof ExecuteEvent>;
export const FinalizeEvent = deferred(() => z.object({ run: RunContext, result: ExecuteResult }));

/**
 * What the Execute state leaves at $.result: lambda:invoke's answer with only its Payload kept (the
 * state's ResultSelector), Execute's result.
 */
export const ExecuteStateOutput = deferred(() => z.object({ Payload: ExecuteResult }));
export type ExecuteStateOutput = z.infer<typeof ExecuteStateOutput>;

/** The Catch of any step puts {Error, Cause} at $.error; RecordFailure gets the whole state. */
export const RecordFailureEvent = deferred(() =>
  z.object({
    executionId: z.string().min(1),
    state: z.object({
      jobId: z.string(),
      scheduledTime: z.string(),
      trigger: z.string().optional(),
      run: RunContext.optional(),
      /**
       * Present when Execute succeeded and a later step failed: the job's effect happened. The
       * Execute state's lambda:invoke output, of which the state machine keeps the Payload.
       */
      result: ExecuteStateOutput.optional(),
      error: z.object({ Error: z.string(), Cause: z.string().optional() }),
    }),
  }),
);

/** What Finalize and RecordFailure return: the execution's output. */
export const RunSummary = deferred(() =>
  z.object({
    jobRunId: z.string(),
    jobId: JobId,
    status: RunStatus,
    quality: Quality,
    evidencePrefix: z.string().nullable(),
    manifestKey: z.string().nullable(),
    error: z.object({ kind: z.string(), name: z.string(), message: z.string() }).nullable(),
  }),
);
export type RunSummary = z.infer<typeof RunSummary>;

/**
 * A string holding JSON, parsed: text that is not JSON is an issue on its field, never a
 * SyntaxError.
 */
const JsonText = deferred(() =>
  z.string().transform((text, ctx): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not JSON text' });
      return z.NEVER;
    }
  }),
);

/**
 * EventBridge "Step Functions Execution Status Change" for an execution that ended without reaching
 * Finalize or RecordFailure (stopped by a kill-switch, timed out): the ExecutionEnded function
 * evidences it. The local runtime sends the same event when it aborts an execution.
 */
export const ExecutionStatusChangeEvent = deferred(() =>
  z.object({
    'detail-type': z.literal('Step Functions Execution Status Change'),
    source: z.literal('aws.states'),
    detail: z.object({
      executionArn: z.string().min(1),
      stateMachineArn: z.string().min(1),
      status: z.enum(['ABORTED', 'TIMED_OUT', 'FAILED']),
      /**
       * The execution's input as JSON text: an ExecutionInput for opsrail's state machine (null when
       * omitted).
       */
      input: JsonText.pipe(ExecutionInput).nullable(),
      cause: z.string().nullable().optional(),
    }),
  }),
);
export type ExecutionStatusChangeEvent = z.infer<typeof ExecutionStatusChangeEvent>;
