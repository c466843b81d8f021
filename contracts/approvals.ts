import { deferred } from './deferred';
import * as z from 'zod';
import { JobId, SemVer, Sha256Hex, UtcTimestamp } from './common';
import { DangerousOpKind } from './job';
import { NotificationRecord } from './notification';

/**
 * Where an approver's verified identity came from: the caller's IAM identity (the decision Function
 * URL), the local user (`--as`, local page), a signed-in token, a signed Slack interaction, the
 * CLI.
 */
export const ApprovalSource = deferred(() =>
  z.enum(['iam', 'local', 'oidc', 'page', 'slack', 'cli']),
);
export type ApprovalSource = z.infer<typeof ApprovalSource>;

/** One approver's decision. With minApprovals > 1 several are collected before the run proceeds. */
export const ApprovalDecision = deferred(() =>
  z.strictObject({
    by: z.string().min(1).max(200),
    decision: z.enum(['approve', 'reject']),
    at: UtcTimestamp,
    source: ApprovalSource,
    reason: z.string().max(1000).nullable(),
  }),
);
export type ApprovalDecision = z.infer<typeof ApprovalDecision>;

/**
 * One attempt to view or decide a request; every field is bounded (docs/approvals.md, "Attempts").
 */
export const ApprovalAttempt = deferred(() =>
  z.strictObject({
    at: UtcTimestamp,
    method: z.string().max(16),
    source: ApprovalSource.optional(),
    identity: z.string().max(200).nullable(),
    userAgent: z.string().max(256).nullable(),
    outcome: z.string().max(64),
  }),
);
export type ApprovalAttempt = z.infer<typeof ApprovalAttempt>;

/** A request for a human to approve one dangerous op of one run (docs/approvals.md). */
export const ApprovalRecord = deferred(() =>
  z.strictObject({
    schemaVersion: z.literal(1),
    approvalId: z.string().regex(/^[a-f0-9]{32}$/, 'must be 32 lowercase hex characters'),
    jobId: JobId,
    jobVersion: SemVer,
    jobRunId: z.string().min(1),
    opKind: DangerousOpKind,
    /**
     * What exactly will be done, computed by a dry run (e.g. the keys or counts a purge will touch).
     */
    plan: z.strictObject({
      summary: z.string().min(1),
      details: z.record(z.string(), z.unknown()),
    }),
    /**
     * SHA-256 of the plan as shown (canonical JSON): Execute recomputes the plan and refuses with
     * plan_changed when it differs. Absent only in records written before plans were bound.
     */
    planSha256: Sha256Hex.optional(),
    requestedBy: z.string().min(1),
    allowedApprovers: z.array(z.string().min(1)),
    /** How many distinct allowed approvers must approve (policy approvals.minApprovalsByOpKind). */
    minApprovals: z.number().int().min(1).max(10).default(1),
    /** The decisions taken so far: at most one per approver. */
    decisions: z.array(ApprovalDecision).default([]),
    /** A short random text the approver types back: proof that a person read this request's page. */
    challenge: z.string().min(6),
    createdAt: UtcTimestamp,
    expiresAt: UtcTimestamp,
    status: z.enum(['PENDING', 'APPROVED', 'REJECTED', 'EXPIRED']),
    decidedBy: z.string().nullable(),
    decidedAt: UtcTimestamp.nullable(),
    reason: z.string().nullable(),
    /**
     * What reached whom when the request was announced; the log when nothing else did
     * (docs/approvals.md#announcing-a-request).
     */
    deliveries: z.array(
      z.strictObject({
        channel: z.enum(['slack', 'sns', 'log']),
        ok: z.boolean(),
        detail: z.string(),
      }),
    ),
    /**
     * The request as it went down the notification chain (docs/notifications.md), besides the
     * announcers above; it goes into the run's bundle (notifications).
     */
    notification: NotificationRecord.optional(),
  }),
);
export type ApprovalRecord = z.infer<typeof ApprovalRecord>;

/**
 * gate_results: what a gate decided for a run, and every attempt to decide it
 * (docs/evidence.md#what-a-runs-bundle-holds).
 */
export const GateResults = deferred(() =>
  z.strictObject({
    schemaVersion: z.literal(1),
    jobRunId: z.string().min(1),
    gate: z.literal('human_approval'),
    approvalId: z.string().min(1),
    opKind: DangerousOpKind,
    requestedBy: z.string().min(1),
    decision: z.enum(['approved', 'rejected', 'timed_out']),
    decidedBy: z.string().nullable(),
    decidedAt: UtcTimestamp.nullable(),
    /** The following four are absent in bundles written before N-of-M and plan binding. */
    minApprovals: z.number().int().min(1).optional(),
    decisions: z.array(ApprovalDecision).optional(),
    planSha256: Sha256Hex.optional(),
    /** Attempts beyond the stored maximum: counted (and logged), not kept. */
    attemptsNotStored: z.number().int().min(0).optional(),
    attempts: z.array(ApprovalAttempt),
  }),
);
export type GateResults = z.infer<typeof GateResults>;

/**
 * The Lambda Function URL event the approval endpoint accepts (payload format 2.0), reduced to what
 * it reads. Anything else is answered 400, never thrown.
 */
export const ApprovalEndpointEvent = deferred(() =>
  z.object({
    rawPath: z.string().max(2048),
    queryStringParameters: z.record(z.string(), z.string()).nullish(),
    /**
     * Only `accept` is read: `application/json` asks for the answer as data (the CLI), not as the
     * page.
     */
    headers: z.record(z.string(), z.string()).nullish(),
    /** The sign-in cookies (docs/approval-sign-in.md). */
    cookies: z.array(z.string().max(16_384)).max(50).nullish(),
    body: z.string().nullish(),
    isBase64Encoded: z.boolean().optional(),
    requestContext: z.object({
      /** The Function URL's host: the sign-in callback returns there. */
      domainName: z.string().max(253).nullish(),
      http: z.object({ method: z.string().min(1).max(16), userAgent: z.string().nullish() }),
      authorizer: z
        .object({ iam: z.object({ userArn: z.string().nullish() }).nullish() })
        .nullish(),
    }),
  }),
);
export type ApprovalEndpointEvent = z.infer<typeof ApprovalEndpointEvent>;

/**
 * `GET /approvals` on the IAM-authenticated decision URL: what `opsrail approvals --stage` lists.
 */
export const PendingApprovals = deferred(() =>
  z.strictObject({
    approvals: z.array(ApprovalRecord.extend({ link: z.url() })),
  }),
);
export type PendingApprovals = z.infer<typeof PendingApprovals>;

/**
 * The endpoint's answer as data, for a caller that asked for `application/json` (`opsrail approve
 * --stage`): the same status, title and message the page shows, never HTML to scrape.
 */
export const ApprovalAnswer = deferred(() =>
  z.strictObject({
    status: z.number().int(),
    title: z.string(),
    message: z.string(),
    outcome: z.string().max(64).optional(),
  }),
);
export type ApprovalAnswer = z.infer<typeof ApprovalAnswer>;
