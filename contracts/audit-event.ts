import { deferred } from './deferred';
import * as z from 'zod';
import { JobId, PolicySnapshotRef, Quality, SemVer, Stage, UtcTimestamp, Window } from './common';

/** The audit taxonomy: what each type records and when (docs/evidence.md#audit-events). */
export const AuditEventType = deferred(() =>
  z.enum([
    'job.run.start',
    'job.run.end',
    'job.run.fail',
    'job.run.retry',
    'job.run.duplicate_suppressed',
    /** A tick not run because this run of its job was open (overlap policy; docs/scheduling.md). */
    'job.run.tick_skipped',
    'job.run.quarantine.enter',
    'job.run.quarantine.exit',
    'job.dangerous_op.challenge',
    'job.dangerous_op.confirm',
    'job.dangerous_op.reject',
    'job.failover',
    'integrity.record',
    'gate.record',
    /** An attempt to view or decide an approval after its run closed (control evidence). */
    'gate.attempt',
    'support_bundle.created',
    // Operator actions that are not runs: who, why and when (docs/safety-rules.md).
    'safety.mode.change',
    'kill_switch.engage',
    'kill_switch.release',
    /** An operator paused or resumed one job's schedule (opsrail pause|resume). */
    'schedule.pause',
    'schedule.resume',
  ]),
);
export type AuditEventType = z.infer<typeof AuditEventType>;

export const ErrorKind = deferred(() =>
  z.enum([
    'configuration',
    'permission',
    'not_found',
    'validation',
    'throttling',
    'dependency',
    'timeout',
    'inputs_unpinned',
    'internal',
    // Refusals: the run was claimed and evidenced but its job never ran.
    'refused_safety',
    'refused_kill_switch',
    'refused_quarantine',
    'refused_integrity',
    // The approval gate: a named human said no, or nobody decided in time.
    'approval_rejected',
    'approval_timed_out',
    // The plan Execute would act on is not the plan the approvers saw.
    'plan_changed',
    // An operator (kill-switch) or the platform (timeout) stopped a started execution.
    'stopped',
    // The holder of an Execute died: the job's effect may or may not have happened
    // (docs/crash-safety.md).
    'unknown_outcome',
    // opsrail's own stores (state, idempotency, evidence) failed: never a fault of the job.
    'bookkeeping',
  ]),
);

/**
 * Kinds that refuse a run before its job runs: not failures of the job, so they never count toward
 * quarantine.
 */
export type ErrorKind = z.infer<typeof ErrorKind>;
export const REFUSAL_KINDS = [
  'inputs_unpinned',
  'refused_safety',
  'refused_kill_switch',
  'refused_quarantine',
  'refused_integrity',
  'approval_rejected',
  'approval_timed_out',
  'plan_changed',
] as const satisfies readonly ErrorKind[];

export const AuditEvent = deferred(() =>
  z
    .strictObject({
      schemaVersion: z.literal(1),
      eventId: z.string().min(1),
      type: AuditEventType,
      at: UtcTimestamp,
      stage: Stage,
      /** Absent only for events about the whole stage (global kill-switch, safety mode). */
      jobId: JobId.optional(),
      jobVersion: SemVer.optional(),
      jobRunId: z.string().min(1).optional(),
      actor: z.strictObject({
        kind: z.enum(['scheduler', 'operator', 'system']),
        id: z.string().min(1),
      }),
      window: Window.optional(),
      inputsRefs: z
        .strictObject({
          datasetRefs: z.array(z.string()),
          policySnapshot: PolicySnapshotRef,
          replayPointersRef: z.string().optional(),
        })
        .optional(),
      status: z.enum(['ok', 'error', 'skipped', 'dry_run']).optional(),
      quality: Quality.optional(),
      outputsRefs: z.array(z.string()).optional(),
      error: z.strictObject({ kind: ErrorKind, name: z.string(), message: z.string() }).optional(),
      evidenceRefs: z.array(z.string()).optional(),
      retry: z.strictObject({ count: z.number().int().min(1), reason: z.string() }).optional(),
      details: z.record(z.string(), z.unknown()).optional(),
      /**
       * Control events only: their place in the stage's hash chain of control events
       * (docs/evidence.md).
       */
      chain: z
        .strictObject({
          sequence: z.number().int().min(1),
          previous: z
            .strictObject({
              key: z.string().min(1),
              sha256: z.string().regex(/^[a-f0-9]{64}$/),
              sequence: z.number().int().min(1),
            })
            .nullable(),
        })
        .optional(),
    })
    .superRefine((event, ctx) => {
      const required: Partial<Record<AuditEventType, (keyof typeof event)[]>> = {
        'job.run.start': ['jobVersion', 'jobRunId', 'window', 'inputsRefs'],
        'job.run.end': ['jobRunId', 'status', 'quality', 'outputsRefs'],
        'job.run.fail': ['jobRunId', 'error', 'evidenceRefs'],
        'job.run.retry': ['jobRunId', 'retry'],
        'job.run.duplicate_suppressed': ['jobRunId'],
        'job.run.quarantine.enter': ['jobId', 'details'],
        'job.run.quarantine.exit': ['jobId', 'details'],
        'safety.mode.change': ['details'],
        'kill_switch.engage': ['details'],
        'kill_switch.release': ['details'],
        'schedule.pause': ['jobId', 'details'],
        'schedule.resume': ['jobId', 'details'],
      };
      if (event.type.startsWith('job.') && event.jobId === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['jobId'],
          message: `jobId is required for ${event.type}`,
        });
      for (const field of required[event.type] ?? []) {
        if (event[field] === undefined)
          ctx.addIssue({
            code: 'custom',
            path: [field],
            message: `${field} is required for ${event.type}`,
          });
      }
    }),
);
export type AuditEvent = z.infer<typeof AuditEvent>;
