import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  ApprovalRecord,
  Identity,
  identityKey,
  sameIdentity,
  type ApprovalAttempt,
  type ApprovalDecision,
  type ApprovalSource,
  type DangerousOpKind,
  type GateResults,
  type JobDefinition,
  type NotificationRecord,
  type RunContext,
} from '../../contracts';
import type { JobContext, JobImplementation } from '../jobs/types';
import type { Clock } from './clock';
import { recordControlEvent, type ControlDependencies } from './controls';
import type { Notify } from './notifications';
import type { RunMetrics } from './ports';
import { ConfigurationError, OpsrailError } from './errors';
import { canonicalJson, sha256Hex } from './hashing';
import { runEvent } from './audit';
import type { Redactor } from './redaction';

export type { ApprovalAttempt };

/**
 * Attempts kept on the request; later ones are counted and logged (docs/approvals.md, "Attempts").
 */
export const MAX_STORED_ATTEMPTS = 50;
/** A decision is a few short form fields; a larger body is refused with 413 before it is read. */
export const MAX_BODY_BYTES = 16 * 1024;
const MAX_USER_AGENT_CHARS = 256;
const MAX_IDENTITY_CHARS = 200;
const MAX_REASON_CHARS = 1000;

export interface StoredApproval {
  record: ApprovalRecord;
  taskToken: string;
  attempts: ApprovalAttempt[];
  /** Attempts that arrived once MAX_STORED_ATTEMPTS were kept: counted, not stored. */
  attemptsNotStored: number;
}

type Closing = Pick<ApprovalRecord, 'status' | 'decidedBy' | 'decidedAt' | 'reason'>;

/**
 * Where approvals live (the state table). Every decision is a conditional write on a PENDING
 * record.
 */
export interface ApprovalStore {
  /** false when a record with this id exists already (a retried request). */
  putApproval(record: ApprovalRecord, taskToken: string): Promise<boolean>;
  getApproval(approvalId: string): Promise<StoredApproval | undefined>;
  /**
   * Closes a request (e.g. EXPIRED); false when it was no longer in state `from` (default PENDING).
   */
  decideApproval(
    approvalId: string,
    decision: Closing,
    from?: ApprovalRecord['status'],
  ): Promise<boolean>;
  /**
   * Adds one approver's decision while the request is PENDING and holds exactly `expected`
   * decisions (an optimistic write: concurrent decisions never overwrite each other), closing it
   * with `close` in the same write when this decision settles it. false when anything moved.
   */
  addDecision(
    approvalId: string,
    decision: ApprovalDecision,
    expected: number,
    close: Closing | null,
  ): Promise<boolean>;
  /** Keeps the attempt while fewer than `max` are kept, otherwise only counts it. */
  recordApprovalAttempt(
    approvalId: string,
    attempt: ApprovalAttempt,
    max: number,
  ): Promise<'stored' | 'counted'>;
  /** What the announcement reached, and (if sent) the request's record from the notification chain. */
  setDeliveries(
    approvalId: string,
    deliveries: ApprovalRecord['deliveries'],
    notification?: NotificationRecord,
  ): Promise<void>;
  listPendingApprovals(): Promise<ApprovalRecord[]>;
}

/** Resolves the waiting Step Functions task: SendTaskSuccess/Failure in AWS. */
export interface TaskCallbacks {
  succeed(taskToken: string, output: Record<string, unknown>): Promise<'sent' | 'task_gone'>;
  fail(taskToken: string, error: string, cause: string): Promise<'sent' | 'task_gone'>;
}

export interface Announcer {
  channel: 'slack' | 'sns';
  /**
   * approvalId lets a channel offer its own way to decide (Slack buttons,
   * docs/approval-slack-and-cli.md).
   */
  announce(message: {
    subject: string;
    text: string;
    link: string;
    approvalId?: string;
  }): Promise<{ ok: boolean; detail: string }>;
}

/** One approval per run and execution (a retried request finds its own). */
export const approvalIdFor = (run: Pick<RunContext, 'jobRunId' | 'executionId'>): string =>
  sha256Hex(`${run.jobRunId}|${run.executionId}`).slice(0, 32);

/**
 * What the run's bundle says the gate decided (gate_results), from the approval record and its
 * attempts.
 */
export function gateResults(
  stored: Pick<StoredApproval, 'record' | 'attempts'> & { attemptsNotStored?: number },
): GateResults {
  const { record } = stored;
  const decision =
    record.status === 'APPROVED'
      ? 'approved'
      : record.status === 'REJECTED'
        ? 'rejected'
        : 'timed_out';
  return {
    schemaVersion: 1,
    jobRunId: record.jobRunId,
    gate: 'human_approval',
    approvalId: record.approvalId,
    opKind: record.opKind,
    requestedBy: record.requestedBy,
    decision,
    decidedBy: record.decidedBy,
    decidedAt: record.decidedAt,
    minApprovals: record.minApprovals ?? 1,
    decisions: record.decisions ?? [],
    ...(record.planSha256 ? { planSha256: record.planSha256 } : {}),
    attemptsNotStored: stored.attemptsNotStored ?? 0,
    attempts: stored.attempts,
  };
}

/** The link carries the approval id, its expiry and an HMAC over both: never the task token. */
export function signature(key: Uint8Array, approvalId: string, expiresEpoch: number): string {
  return createHmac('sha256', key).update(`${approvalId}.${expiresEpoch}`).digest('hex');
}

export function approvalLink(
  baseUrl: string,
  key: Uint8Array,
  record: Pick<ApprovalRecord, 'approvalId' | 'expiresAt'>,
): string {
  const exp = Math.floor(Date.parse(record.expiresAt) / 1000);
  const base = baseUrl.replace(/\/$/, '');
  return `${base}/approvals/${record.approvalId}?exp=${exp}&sig=${signature(key, record.approvalId, exp)}`;
}

/** Constant-time check; a missing, truncated or forged signature, or a changed expiry, fails. */
export function verifySignature(
  key: Uint8Array,
  approvalId: string,
  exp: string | undefined,
  sig: string | undefined,
): boolean {
  if (!exp || !/^\d{1,12}$/.test(exp) || !sig || !/^[a-f0-9]{64}$/.test(sig)) return false;
  const expected = Buffer.from(signature(key, approvalId, Number(exp)), 'hex');
  return timingSafeEqual(expected, Buffer.from(sig, 'hex'));
}

export interface ApprovalDependencies extends ControlDependencies {
  metrics: RunMetrics;
  approvals: ApprovalStore;
  signingKey: Uint8Array;
  tasks: TaskCallbacks;
  announcers: Announcer[];
  log: (message: string, details?: Record<string, unknown>) => void;
  linkBaseUrl: string;
  /**
   * The stage's notification chain: the request goes down it too (kind approval_request), besides
   * the announcers. Absent: only the announcers.
   */
  notify?: Notify;
}

/**
 * The plan approvers are shown: the job's own dry run, or (for a job without one) what it is and
 * its params.
 */
export async function planOf(
  job: JobDefinition,
  implementation: JobImplementation | undefined,
  context: JobContext,
): Promise<ApprovalRecord['plan']> {
  const plan = await implementation?.plan?.(context);
  const opKind = job.dangerous.value ? job.dangerous.opKind : 'none';
  return (
    plan ?? {
      summary: `${job.jobId} (${opKind}): ${job.description}`,
      details: { params: context.run.params },
    }
  );
}

/** The plan as stored and shown (redacted), hashed canonically: what an approval is bound to. */
export function planDigest(redactor: Redactor, plan: ApprovalRecord['plan']): string {
  return sha256Hex(canonicalJson(redactor.value(plan)));
}

/** The digest an approval is bound to (records written before binding: their stored plan). */
export const approvedPlanDigest = (record: ApprovalRecord): string =>
  record.planSha256 ?? sha256Hex(canonicalJson(record.plan));

/**
 * Random per request (never derivable from the link or the id); shown only on the request's page.
 */
const newChallenge = (opKind: DangerousOpKind): string =>
  `${opKind.replace(/_/g, '-')}-${randomBytes(3).toString('hex')}`;

/**
 * Stores the pending approval (with the task token, which is never printed or logged), audits the
 * request, and announces the link by Slack and SNS; if neither reaches anyone, by the log.
 */
export async function requestApproval(
  deps: ApprovalDependencies,
  run: RunContext,
  request: {
    opKind: DangerousOpKind;
    plan: ApprovalRecord['plan'];
    requestedBy: string;
    taskToken: string;
  },
): Promise<{ record: ApprovalRecord; link: string }> {
  const approvalId = approvalIdFor(run);
  const existing = await deps.approvals.getApproval(approvalId);
  if (existing)
    return {
      record: existing.record,
      link: approvalLink(deps.linkBaseUrl, deps.signingKey, existing.record),
    };
  const { approvals } = deps.policy.settings;
  const listed: string[] = approvals.approversByOpKind[request.opKind] ?? [];
  // Ids are stored redacted (docs/redaction.md): a secret-bearing id becomes a stable pseudonym.
  const requestedBy = storedIdentity(deps.redactor, request.requestedBy);
  const allowed = listed
    .filter((a) => !sameIdentity(a, request.requestedBy))
    .map((a) => storedIdentity(deps.redactor, a));
  const minApprovals = approvals.minApprovalsByOpKind?.[request.opKind] ?? 1;
  if (allowed.length < minApprovals) {
    const needed =
      minApprovals === 1
        ? 'nobody but the requester may approve'
        : `fewer than ${minApprovals} people besides the requester may approve`;
    throw new ConfigurationError(
      `${needed} ${request.opKind} in stage ${deps.policy.stage} (policy approvals.approversByOpKind)`,
    );
  }
  const now = deps.clock.now();
  const plan = deps.redactor.value(request.plan);
  const record: ApprovalRecord = ApprovalRecord.parse({
    schemaVersion: 1,
    approvalId,
    jobId: run.jobId,
    jobVersion: run.jobVersion,
    jobRunId: run.jobRunId,
    opKind: request.opKind,
    plan,
    planSha256: planDigest(deps.redactor, request.plan),
    requestedBy,
    allowedApprovers: allowed,
    minApprovals,
    decisions: [],
    challenge: newChallenge(request.opKind),
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + approvals.timeoutSeconds * 1000).toISOString(),
    status: 'PENDING',
    decidedBy: null,
    decidedAt: null,
    reason: null,
    deliveries: [],
  });
  if (!(await deps.approvals.putApproval(record, request.taskToken)))
    return requestApproval(deps, run, request);
  const details = {
    approvalId,
    opKind: request.opKind,
    requestedBy,
    allowedApprovers: allowed,
    minApprovals,
    plan: record.plan.summary,
    planSha256: record.planSha256,
    expiresAt: record.expiresAt,
  };
  await deps.state.appendAudit(run.jobRunId, [
    runEvent(run, 'job.dangerous_op.challenge', now, { details }),
  ]);
  const link = approvalLink(deps.linkBaseUrl, deps.signingKey, record);
  const quorum = minApprovals > 1 ? ` (${minApprovals} of them must approve)` : '';
  const message = {
    subject: `opsrail ${deps.policy.stage}: approve ${request.opKind} of ${run.jobId}?`,
    text: `${record.plan.summary}\nRequested by ${requestedBy}; approvers: ${allowed.join(', ')}${quorum}; expires ${record.expiresAt}.`,
    link,
    approvalId,
  };
  const deliveries: ApprovalRecord['deliveries'] = [];
  for (const announcer of deps.announcers) {
    const result = await announcer
      .announce(message)
      .catch((error: unknown) => ({ ok: false, detail: (error as Error).message }));
    deliveries.push({
      channel: announcer.channel,
      ok: result.ok,
      detail: deps.redactor.text(result.detail),
    });
  }
  if (!deliveries.some((d) => d.ok)) {
    // Nothing reached anyone: the log is the last resort, and it must carry the link.
    deps.log(`approval needed: ${message.subject}`, { link, approvalId });
    deliveries.push({ channel: 'log', ok: true, detail: 'written to the function log' });
  }
  // Down the notification chain as well (docs/notifications.md): keyed per request, so a retried
  // RequestApproval never posts it twice. A chain that cannot answer never fails the request.
  const notification = deps.notify
    ? await deps
        .notify({
          kind: 'approval_request',
          dedupeKey: `approval_request/${approvalId}`,
          title: message.subject,
          markdown: `${message.text}\n\n[Open the request](${link})`,
        })
        .then((sent) => deps.redactor.value(sent))
        .catch((error: unknown) => {
          deps.log('approval request notification failed', {
            approvalId,
            error: deps.redactor.text((error as Error).message),
          });
          return undefined;
        })
    : undefined;
  await deps.approvals.setDeliveries(approvalId, deliveries, notification);
  deps.metrics.approval('requested');
  return {
    record: { ...record, deliveries, ...(notification ? { notification } : {}) },
    link,
  };
}

const clip = (text: string | null | undefined, max: number): string | null =>
  text == null ? null : text.length > max ? `${text.slice(0, max - 1)}…` : text;

/**
 * Records one attempt, bounded (each field clipped, at most MAX_STORED_ATTEMPTS kept, the rest
 * counted), so no number or size of attempts can grow the request past what the run's own writes
 * carry. An attempt after the run closed is also control evidence (write-once, under control/).
 */
async function recordAttempt(
  deps: ApprovalDependencies,
  stored: StoredApproval | undefined,
  attempt: ApprovalAttempt & { approvalId: string },
): Promise<void> {
  const { approvalId, ...raw } = attempt;
  const bounded: ApprovalAttempt = {
    at: raw.at,
    method: clip(raw.method, 16) as string,
    ...(raw.source ? { source: raw.source } : {}),
    identity: clip(
      raw.identity === null ? null : deps.redactor.text(raw.identity),
      MAX_IDENTITY_CHARS,
    ),
    userAgent: clip(
      raw.userAgent === null ? null : deps.redactor.text(raw.userAgent),
      MAX_USER_AGENT_CHARS,
    ),
    outcome: raw.outcome,
  };
  const jobRunId = stored?.record.jobRunId ?? null;
  const kept = stored
    ? await deps.approvals.recordApprovalAttempt(approvalId, bounded, MAX_STORED_ATTEMPTS)
    : 'not_stored';
  deps.log('approval attempt', { approvalId, jobRunId, ...bounded, kept });
  if (kept !== 'stored' || !stored) return;
  const run = await deps.state.getRun(stored.record.jobRunId);
  if (run?.phase !== 'finalized') return;
  // The run's bundle is sealed: only write-once control evidence can still say this attempt
  // happened.
  const actor = {
    by: bounded.identity || 'anonymous',
    reason: `approval attempt after run ${stored.record.jobRunId} closed`,
  };
  await recordControlEvent(
    deps,
    'gate.attempt',
    actor,
    { approvalId, jobRunId: stored.record.jobRunId, ...bounded },
    stored.record.jobId,
  );
}

/**
 * A decision request from any verified identity source (the link's POST, Slack, the CLI, a token).
 */
export interface DecisionRequest {
  approvalId: string;
  /**
   * Who decides, as the source verified it (IAM caller, signed-in subject, Slack user, local user);
   * null: nobody.
   */
  approver: string | null;
  source: ApprovalSource;
  /** The typed challenge; needed to approve, never to reject. */
  challenge: string | undefined;
  decision: string | undefined;
  reason: string | undefined;
  userAgent: string | null;
  /** How the attempt arrived, for the audit (HTTP method, or e.g. SLACK); POST by default. */
  method?: string;
  /**
   * The identity source refused the request (see ApprovalHttpRequest.refusal): audited, nothing
   * decided.
   */
  refusal?: IdentityRefusal;
}

export type DecisionOutcomeName =
  | 'approved'
  | 'rejected'
  | 'approval_recorded'
  | 'refused_unknown'
  | 'refused_expired'
  | 'refused_already_decided'
  | 'refused_unauthenticated'
  | 'refused_bad_identity'
  | 'refused_requester'
  | 'refused_not_allowed'
  | 'refused_bad_request'
  | 'refused_wrong_challenge'
  | 'refused_duplicate_approver'
  | 'refused_task_gone'
  | 'refused_busy';

export interface DecisionOutcome {
  /** The HTTP status that fits (200 decided or recorded; 4xx refused; 503 try again). */
  status: number;
  outcome: DecisionOutcomeName | IdentityRefusalOutcome;
  /** A short sentence for the person deciding. */
  message: string;
  /** Approvals still needed before the run proceeds (0 once approved). */
  remaining?: number;
}

const MAX_DECISION_WRITES = 5;

/**
 * The one place a decision is taken. The caller has verified the approver's identity; this checks
 * it against the request (normalised, never the requester, on the allowed list, once per approver),
 * the challenge, and collects decisions until minApprovals distinct approvers approved or one
 * rejected. Every attempt, refused or not, is recorded.
 */
export async function decideApproval(
  deps: ApprovalDependencies,
  request: DecisionRequest,
): Promise<DecisionOutcome> {
  return decide(deps, request, await deps.approvals.getApproval(request.approvalId), 0);
}

/** decideApproval on a request just read (`moves`: how many times other decisions moved it). */
async function decide(
  deps: ApprovalDependencies,
  request: DecisionRequest,
  stored: StoredApproval | undefined,
  moves: number,
): Promise<DecisionOutcome> {
  const now = deps.clock.now();
  const audit = (outcome: DecisionOutcomeName | IdentityRefusalOutcome) =>
    recordAttempt(deps, stored, {
      approvalId: request.approvalId,
      at: now.toISOString(),
      method: request.method ?? 'POST',
      source: request.source,
      identity: request.approver,
      userAgent: request.userAgent,
      outcome,
    });
  const refuse = async (
    status: number,
    outcome: DecisionOutcomeName | IdentityRefusalOutcome,
    message: string,
  ): Promise<DecisionOutcome> => {
    await audit(outcome);
    return { status, outcome, message };
  };
  if (!stored) return refuse(404, 'refused_unknown', 'No such approval request');
  const { record } = stored;
  if (now.getTime() > Date.parse(record.expiresAt))
    return refuse(410, 'refused_expired', 'This request has expired');
  if (record.status !== 'PENDING')
    return refuse(
      409,
      'refused_already_decided',
      `Already ${record.status.toLowerCase()}: a link works once`,
    );
  if (request.refusal)
    return refuse(request.refusal.status, request.refusal.outcome, request.refusal.message);
  if (request.approver === null)
    return refuse(401, 'refused_unauthenticated', 'Sign in as an approver first');
  const parsed = Identity.safeParse(request.approver);
  if (!parsed.success)
    return refuse(
      400,
      'refused_bad_identity',
      'The approver identity is not valid (whitespace or control characters)',
    );
  // Compared and stored in the stored form, as the request's own ids are (docs/redaction.md).
  const approver = storedIdentity(deps.redactor, parsed.data);
  if (sameIdentity(approver, record.requestedBy))
    return refuse(403, 'refused_requester', 'The requester may not approve their own request');
  if (!record.allowedApprovers.some((a) => sameIdentity(a, approver)))
    return refuse(403, 'refused_not_allowed', `${approver} may not approve ${record.opKind}`);
  const decision = request.decision;
  if (decision !== 'approve' && decision !== 'reject')
    return refuse(400, 'refused_bad_request', 'decision must be approve or reject');
  // Confirming takes the typed challenge (proof a person read the page); saying no never needs it.
  if (decision === 'approve' && (request.challenge ?? '').trim() !== record.challenge)
    return refuse(400, 'refused_wrong_challenge', 'The challenge does not match');
  const decisions = record.decisions ?? [];
  if (decisions.some((d) => sameIdentity(d.by, approver)))
    return refuse(
      409,
      'refused_duplicate_approver',
      `${approver} has already decided; each approver counts once`,
    );

  // Redacted before it is cut short: a cut can leave a secret too short for its pattern.
  const reason = deps.redactor.text(request.reason ?? '').slice(0, MAX_REASON_CHARS) || null;
  const entry: ApprovalDecision = {
    by: approver,
    decision,
    at: now.toISOString(),
    source: request.source,
    reason,
  };
  const minApprovals = record.minApprovals ?? 1;
  const approvers = new Set(
    decisions.filter((d) => d.decision === 'approve').map((d) => identityKey(d.by)),
  );
  if (decision === 'approve') approvers.add(identityKey(approver));
  const remaining = Math.max(0, minApprovals - approvers.size);
  const closes = decision === 'reject' || remaining === 0;
  const status = decision === 'reject' ? 'REJECTED' : 'APPROVED';
  const close: Closing | null = closes
    ? { status, decidedBy: approver, decidedAt: entry.at, reason }
    : null;
  if (!(await deps.approvals.addDecision(record.approvalId, entry, decisions.length, close))) {
    // Another decision landed first: decide again on what is stored now.
    if (moves + 1 < MAX_DECISION_WRITES)
      return decide(deps, request, await deps.approvals.getApproval(request.approvalId), moves + 1);
    return refuse(503, 'refused_busy', 'Other decisions kept arriving; try again');
  }
  // Audited before the waiting task is released: a Finalize that follows at once finds both.
  const runRef = {
    stage: deps.policy.stage,
    jobId: record.jobId,
    jobVersion: record.jobVersion,
    jobRunId: record.jobRunId,
  };
  const type = decision === 'approve' ? 'job.dangerous_op.confirm' : 'job.dangerous_op.reject';
  const userAgent = clip(
    request.userAgent === null ? null : deps.redactor.text(request.userAgent),
    MAX_USER_AGENT_CHARS,
  );
  await deps.state.appendAudit(record.jobRunId, [
    runEvent(runRef, type, now, {
      actor: { kind: 'operator', id: approver },
      ...(minApprovals > 1 ? { eventIdSuffix: String(decisions.length + 1) } : {}),
      details: {
        approvalId: record.approvalId,
        opKind: record.opKind,
        source: request.source,
        userAgent,
        reason,
        approvals: approvers.size,
        minApprovals,
      },
    }),
  ]);
  const outcome: DecisionOutcomeName = !closes
    ? 'approval_recorded'
    : decision === 'approve'
      ? 'approved'
      : 'rejected';
  await audit(outcome);
  if (close) {
    const sent =
      decision === 'approve'
        ? await deps.tasks.succeed(stored.taskToken, {
            approvalId: record.approvalId,
            decidedBy: approver,
            decidedAt: entry.at,
          })
        : await deps.tasks.fail(
            stored.taskToken,
            'ApprovalRejected',
            `rejected by ${approver}${reason ? `: ${reason}` : ''}`,
          );
    if (sent === 'task_gone') {
      // The run stopped waiting (timed out or was stopped) before this decision arrived.
      const expired: Closing = {
        status: 'EXPIRED',
        decidedBy: null,
        decidedAt: entry.at,
        reason: 'the run had stopped waiting',
      };
      await deps.approvals.decideApproval(record.approvalId, expired, status);
      return refuse(410, 'refused_task_gone', 'The run had already stopped waiting');
    }
  }
  if (closes) deps.metrics.approval(decision === 'approve' ? 'approved' : 'rejected');
  const what = `${record.opKind} of ${record.jobId}`;
  if (!closes)
    return {
      status: 200,
      outcome,
      message: `Approval by ${approver} recorded: ${remaining} more needed before ${what} runs`,
      remaining,
    };
  return {
    status: 200,
    outcome,
    message: `${what} ${decision === 'approve' ? 'will run' : 'will not run'}. Decided by ${approver}.`,
    remaining: 0,
  };
}

export interface ApprovalHttpRequest {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  form: Record<string, string | undefined>;
  /**
   * From an authenticated source only, never from the form: the IAM caller, the verified subject or
   * e-mail of a sign-in token, or (the local stack only) the local user who names themselves.
   */
  identity: string | null;
  userAgent: string | null;
  /**
   * The request body's size; above MAX_BODY_BYTES the request is refused (413) without its form.
   */
  bodyBytes?: number;
  /** Where `identity` came from (IAM caller by default). */
  source?: ApprovalSource;
  /**
   * Set by the identity source when it refused the request (a sign-in token that does not verify, a
   * CSRF token that does not match): the attempt is audited with this outcome and nothing is
   * decided.
   */
  refusal?: IdentityRefusal;
}

/** Why the approval page's identity source refused a request (docs/approval-sign-in.md). */
export type IdentityRefusalOutcome =
  | 'refused_token_expired'
  | 'refused_token_issuer'
  | 'refused_token_audience'
  | 'refused_token_signature'
  | 'refused_token_invalid'
  | 'refused_token_claim'
  | 'refused_csrf';

export interface IdentityRefusal {
  status: number;
  outcome: IdentityRefusalOutcome;
  message: string;
}

/**
 * What the endpoint decided, as data: the approval endpoint (functions/approval-endpoint/page.ts)
 * renders it as the page or as JSON, the CLI and Slack show its title. No HTML is made in the core.
 */
export interface ApprovalHttpResponse {
  status: number;
  /** One line for the person asking (the page's heading). */
  title: string;
  /** A sentence more, or ''. */
  message: string;
  /** Set when the confirmation page is to be shown (a GET or HEAD on a valid link). */
  request?: ApprovalRecord;
  /** The decision's outcome, on a POST that reached the decision rules. */
  outcome?: DecisionOutcomeName | IdentityRefusalOutcome;
  /** The methods allowed, on a 405. */
  allow?: string;
  /** On a 503: when to try again. */
  retryAfterSeconds?: number;
}

const answer = (status: number, title: string, message = ''): ApprovalHttpResponse => ({
  status,
  title,
  message,
});

/**
 * The approval endpoint. GET and HEAD only show the confirmation page (mail scanners and Slack
 * unfurls fetch every link): they change nothing. A POST on a valid link goes to decideApproval
 * with the authenticated identity. Every attempt, refused or not, is recorded with identity and
 * user agent.
 */
export async function handleApprovalHttp(
  deps: ApprovalDependencies,
  request: ApprovalHttpRequest,
): Promise<ApprovalHttpResponse> {
  const method = request.method.toUpperCase().slice(0, 16);
  const match = /^\/approvals\/([a-f0-9]{32})\/?$/.exec(request.path);
  if (!match) return answer(404, 'Not found');
  const approvalId = match[1] as string;
  const stored = await deps.approvals.getApproval(approvalId);
  const now = deps.clock.now();
  const source = request.source ?? 'iam';
  const audit = (outcome: string) =>
    recordAttempt(deps, stored, {
      approvalId,
      at: now.toISOString(),
      method,
      source,
      identity: request.identity,
      userAgent: request.userAgent,
      outcome,
    });
  if (!stored) return answer(404, 'No such approval request');
  const { record } = stored;
  if ((request.bodyBytes ?? 0) > MAX_BODY_BYTES) {
    await audit('refused_too_large');
    return answer(
      413,
      'Request too large',
      `A decision is a few short fields (at most ${MAX_BODY_BYTES} bytes).`,
    );
  }
  if (!verifySignature(deps.signingKey, approvalId, request.query.exp, request.query.sig)) {
    await audit('refused_bad_signature');
    return answer(403, 'This link is not valid', 'The link was changed or cut short.');
  }
  if (
    now.getTime() > Number(request.query.exp) * 1000 ||
    now.getTime() > Date.parse(record.expiresAt)
  ) {
    await audit('refused_expired');
    return answer(410, 'This request has expired');
  }
  if (method === 'GET' || method === 'HEAD') {
    await audit('viewed');
    return { ...answer(200, `Approve ${record.opKind} of ${record.jobId}?`), request: record };
  }
  if (method !== 'POST') {
    await audit('refused_method');
    return { ...answer(405, 'Method not allowed'), allow: 'GET, HEAD, POST' };
  }
  const decided = await decide(
    deps,
    {
      approvalId,
      approver: request.identity,
      source,
      challenge: request.form.challenge,
      decision: request.form.decision,
      reason: request.form.reason,
      userAgent: request.userAgent,
      method,
      ...(request.refusal ? { refusal: request.refusal } : {}),
    },
    stored,
    0,
  );
  if (decided.status !== 200)
    return { ...answer(decided.status, decided.message), outcome: decided.outcome };
  const title =
    decided.outcome === 'approved'
      ? 'Approved'
      : decided.outcome === 'rejected'
        ? 'Rejected'
        : 'Approval recorded';
  return { ...answer(200, title, decided.message), outcome: decided.outcome };
}

/**
 * Answers an error of the endpoint itself: 503 when it may pass (retry), 500 otherwise; never the
 * error's text.
 */
export function endpointError(error: unknown): ApprovalHttpResponse {
  const retryable = error instanceof OpsrailError && error.retryable;
  if (retryable) return { ...answer(503, 'Try again in a moment'), retryAfterSeconds: 5 };
  return answer(500, 'Something went wrong');
}

export type { Clock };

/**
 * The form an identity is stored in: as given, or, when it holds a secret (an e-mail address, say),
 * the redactor's stable pseudonym of its comparison key, so two spellings of one person still
 * compare equal once stored (docs/redaction.md, docs/approvals.md).
 */
export function storedIdentity(redactor: Redactor, identity: string): string {
  return redactor.id(identity) === identity ? identity : redactor.id(identityKey(identity));
}
