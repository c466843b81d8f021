import { z } from 'zod';
import { JobId, SemVer, UtcTimestamp } from './common';
import { DangerousOpKind } from './job';

/** Where a decision came from: the approval page, a Slack interaction or the CLI. */
export const ApprovalSource = z.enum(['page', 'slack', 'cli']);
export type ApprovalSource = z.infer<typeof ApprovalSource>;

/** A request for a human to approve one dangerous op of one run (seed 000 §6). */
export const ApprovalRecord = z.strictObject({
  schemaVersion: z.literal(1),
  approvalId: z.string().regex(/^[a-f0-9]{32}$/, 'must be 32 lowercase hex characters'),
  jobId: JobId,
  jobVersion: SemVer,
  jobRunId: z.string().min(1),
  opKind: DangerousOpKind,
  /** What exactly will be done, computed by a dry run (e.g. the keys or counts a purge will touch). */
  plan: z.strictObject({ summary: z.string().min(1), details: z.record(z.string(), z.unknown()) }),
  requestedBy: z.string().min(1),
  allowedApprovers: z.array(z.string().min(1)),
  /** A short text the approver types back: proof that a person read this request. */
  challenge: z.string().min(6),
  createdAt: UtcTimestamp,
  expiresAt: UtcTimestamp,
  status: z.enum(['PENDING', 'APPROVED', 'REJECTED', 'EXPIRED']),
  decidedBy: z.string().nullable(),
  decidedAt: UtcTimestamp.nullable(),
  reason: z.string().nullable(),
  /** What reached whom when the request was announced (seed 004 notification fallback). */
  deliveries: z.array(z.strictObject({ channel: z.enum(['slack', 'sns', 'log']), ok: z.boolean(), detail: z.string() })),
});
export type ApprovalRecord = z.infer<typeof ApprovalRecord>;

/** Seed 000 contract gate_results: what a gate decided for a run, and every attempt to decide it. */
export const GateResults = z.strictObject({
  schemaVersion: z.literal(1),
  jobRunId: z.string().min(1),
  gate: z.literal('human_approval'),
  approvalId: z.string().min(1),
  opKind: DangerousOpKind,
  requestedBy: z.string().min(1),
  decision: z.enum(['approved', 'rejected', 'timed_out']),
  decidedBy: z.string().nullable(),
  decidedAt: UtcTimestamp.nullable(),
  attempts: z.array(
    z.strictObject({
      at: UtcTimestamp,
      method: z.string(),
      identity: z.string().nullable(),
      userAgent: z.string().nullable(),
      outcome: z.string(),
      source: ApprovalSource.optional(),
    }),
  ),
});
export type GateResults = z.infer<typeof GateResults>;

/** `GET /approvals` on the IAM-authenticated decision URL: what `opsrail approvals --stage` lists. */
export const PendingApprovals = z.strictObject({ approvals: z.array(ApprovalRecord.extend({ link: z.url() })) });
export type PendingApprovals = z.infer<typeof PendingApprovals>;
