import { deferred } from './deferred';
import * as z from 'zod';
import { JobId, SemVer, Stage, UtcTimestamp } from './common';
import { ErrorKind } from './audit-event';

/**
 * The step of the state machine a failed run stopped in (docs/evidence.md#tickets): `execution`
 * when the whole execution ended (stopped, timed out) before any step recorded it.
 */
export const FailedStep = deferred(() =>
  z.enum(['preflight', 'request_approval', 'execute', 'finalize', 'execution', 'unknown']),
);
export type FailedStep = z.infer<typeof FailedStep>;

/** What kind of problem a failure is (docs/evidence.md#classification). */
export const TicketCategory = deferred(() =>
  z.enum([
    'configuration',
    'permission',
    'not_found',
    'transient',
    'secret_missing',
    'rate_limited',
    'conflict',
    'bug',
    'unknown',
  ]),
);
export type TicketCategory = z.infer<typeof TicketCategory>;

/** Lowest first: the order `open_tickets` sorts by, highest first (docs/evidence.md#risk). */
export const RISK_LEVELS = ['low', 'medium', 'high', 'critical'] as const;
export const RiskLevel = deferred(() => z.enum(RISK_LEVELS));
export type RiskLevel = z.infer<typeof RiskLevel>;

/**
 * The audit ticket of a failed run (`ticket/` in its bundle, with `ticket_md/` its Markdown
 * rendering): what failed, its classification, risk, evidence and the suggested action
 * (docs/evidence.md#tickets). A pure function of what is stored about the run, so every attempt
 * writes the same bytes.
 */
export const AuditTicket = deferred(() =>
  z.strictObject({
    schema_version: z.literal(1),
    /** `tkt-` and 16 hex of the SHA-256 of `<stage>/<run id>`: one ticket per run. */
    ticket_id: z.string().regex(/^tkt-[a-f0-9]{16}$/, 'must be tkt- and 16 lowercase hex'),
    stage: Stage,
    job_id: JobId,
    job_version: SemVer,
    run_id: z.string().min(1),
    /** When the run ended (its run record's endedAt), never the time the ticket was written. */
    opened_at: UtcTimestamp,
    status: z.literal('open'),
    failed: z.strictObject({
      step: FailedStep,
      /** The run's error kind, as in its run record. */
      error_code: ErrorKind,
      error_name: z.string(),
      /** Redacted, as everything in the ticket. */
      message: z.string(),
      attempts: z.number().int().min(0),
    }),
    classification: z.strictObject({
      category: TicketCategory,
      /** The HTTP status a dependency answered, when the failure was one. */
      http_status: z.number().int().min(100).max(599).nullable(),
      /** Why this category: the rule that matched, in words. */
      cause: z.string().min(1),
    }),
    risk: RiskLevel,
    /** The rules that set the risk level (docs/evidence.md#tickets). */
    risk_reasons: z.array(z.string().min(1)).min(1),
    /** The run needed approval (a dangerous op). */
    dangerous: z.boolean(),
    /** This failure put the job in quarantine. */
    quarantined: z.boolean(),
    /** Keys of the run's other evidence: its bundle's objects and manifest. */
    evidence_refs: z.array(z.string().min(1)).min(1),
    suggested_action: z.string().min(1),
  }),
);
export type AuditTicket = z.infer<typeof AuditTicket>;
