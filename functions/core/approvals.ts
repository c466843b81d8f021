import { createHmac, timingSafeEqual } from 'node:crypto';
import { ApprovalRecord, type DangerousOpKind, type GateResults, type RunContext } from '../../contracts';
import type { Clock } from './clock';
import type { ControlDependencies } from './controls';
import type { RunMetrics } from './ports';
import { ConfigurationError } from './errors';
import { sha256Hex } from './hashing';
import { runEvent } from './audit';

export interface ApprovalAttempt {
  at: string;
  method: string;
  identity: string | null;
  userAgent: string | null;
  outcome: string;
}

/** Where approvals live (the state table). Every decision is a conditional PENDING → decided write. */
export interface ApprovalStore {
  /** false when a record with this id exists already (a retried request). */
  putApproval(record: ApprovalRecord, taskToken: string): Promise<boolean>;
  getApproval(approvalId: string): Promise<{ record: ApprovalRecord; taskToken: string; attempts: ApprovalAttempt[] } | undefined>;
  /** false when the approval was no longer PENDING (decided already: single use). */
  decideApproval(approvalId: string, decision: Pick<ApprovalRecord, 'status' | 'decidedBy' | 'decidedAt' | 'reason'>, from?: ApprovalRecord['status']): Promise<boolean>;
  recordApprovalAttempt(approvalId: string, attempt: ApprovalAttempt): Promise<void>;
  setDeliveries(approvalId: string, deliveries: ApprovalRecord['deliveries']): Promise<void>;
  listPendingApprovals(): Promise<ApprovalRecord[]>;
}

/** Resolves the waiting Step Functions task: SendTaskSuccess/Failure in AWS. */
export interface TaskCallbacks {
  succeed(taskToken: string, output: Record<string, unknown>): Promise<'sent' | 'task_gone'>;
  fail(taskToken: string, error: string, cause: string): Promise<'sent' | 'task_gone'>;
}

export interface Announcer {
  channel: 'slack' | 'sns';
  announce(message: { subject: string; text: string; link: string }): Promise<{ ok: boolean; detail: string }>;
}

/** One approval per run and execution (a retried request finds its own). */
export const approvalIdFor = (run: Pick<RunContext, 'jobRunId' | 'executionId'>): string => sha256Hex(`${run.jobRunId}|${run.executionId}`).slice(0, 32);

/** What the run's bundle says the gate decided (gate_results), from the approval record and its attempts. */
export function gateResults(stored: { record: ApprovalRecord; attempts: ApprovalAttempt[] }): GateResults {
  const { record } = stored;
  return {
    schemaVersion: 1,
    jobRunId: record.jobRunId,
    gate: 'human_approval',
    approvalId: record.approvalId,
    opKind: record.opKind,
    requestedBy: record.requestedBy,
    decision: record.status === 'APPROVED' ? 'approved' : record.status === 'REJECTED' ? 'rejected' : 'timed_out',
    decidedBy: record.decidedBy,
    decidedAt: record.decidedAt,
    attempts: stored.attempts,
  };
}

/** The link carries the approval id, its expiry and an HMAC over both: never the task token. */
export function signature(key: Uint8Array, approvalId: string, expiresEpoch: number): string {
  return createHmac('sha256', key).update(`${approvalId}.${expiresEpoch}`).digest('hex');
}

export function approvalLink(baseUrl: string, key: Uint8Array, record: Pick<ApprovalRecord, 'approvalId' | 'expiresAt'>): string {
  const exp = Math.floor(Date.parse(record.expiresAt) / 1000);
  return `${baseUrl.replace(/\/$/, '')}/approvals/${record.approvalId}?exp=${exp}&sig=${signature(key, record.approvalId, exp)}`;
}

/** Constant-time check; a missing, truncated or forged signature, or a changed expiry, fails. */
export function verifySignature(key: Uint8Array, approvalId: string, exp: string | undefined, sig: string | undefined): boolean {
  if (!exp || !/^\d{1,12}$/.test(exp) || !sig || !/^[a-f0-9]{64}$/.test(sig)) return false;
  return timingSafeEqual(Buffer.from(signature(key, approvalId, Number(exp)), 'hex'), Buffer.from(sig, 'hex'));
}

export interface ApprovalDependencies extends ControlDependencies {
  metrics: RunMetrics;
  approvals: ApprovalStore;
  signingKey: Uint8Array;
  tasks: TaskCallbacks;
  announcers: Announcer[];
  log: (message: string, details?: Record<string, unknown>) => void;
  linkBaseUrl: string;
}

/**
 * Stores the pending approval (with the task token, which is never printed or logged), audits the
 * challenge, and announces the link by Slack and SNS; if neither reaches anyone, by the log.
 */
export async function requestApproval(
  deps: ApprovalDependencies,
  run: RunContext,
  request: { opKind: DangerousOpKind; plan: ApprovalRecord['plan']; requestedBy: string; taskToken: string },
): Promise<{ record: ApprovalRecord; link: string }> {
  const approvalId = approvalIdFor(run);
  const existing = await deps.approvals.getApproval(approvalId);
  if (existing) return { record: existing.record, link: approvalLink(deps.linkBaseUrl, deps.signingKey, existing.record) };
  const allowed = (deps.policy.settings.approvals.approversByOpKind[request.opKind] ?? []).filter((a: string) => a !== request.requestedBy);
  if (allowed.length === 0) throw new ConfigurationError(`nobody but the requester may approve ${request.opKind} in stage ${deps.policy.stage} (policy approvals.approversByOpKind)`);
  const now = deps.clock.now();
  const record: ApprovalRecord = ApprovalRecord.parse({
    schemaVersion: 1,
    approvalId,
    jobId: run.jobId,
    jobVersion: run.jobVersion,
    jobRunId: run.jobRunId,
    opKind: request.opKind,
    plan: deps.redactor.value(request.plan),
    requestedBy: request.requestedBy,
    allowedApprovers: allowed,
    challenge: `${request.opKind.replace(/_/g, '-')}-${sha256Hex(`challenge|${approvalId}`).slice(0, 6)}`,
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + deps.policy.settings.approvals.timeoutSeconds * 1000).toISOString(),
    status: 'PENDING',
    decidedBy: null,
    decidedAt: null,
    reason: null,
    deliveries: [],
  });
  if (!(await deps.approvals.putApproval(record, request.taskToken))) return requestApproval(deps, run, request);
  await deps.state.appendAudit(run.jobRunId, [
    runEvent(run, 'job.dangerous_op.challenge', now, { details: { approvalId, opKind: request.opKind, requestedBy: request.requestedBy, allowedApprovers: allowed, plan: record.plan.summary, expiresAt: record.expiresAt } }),
  ]);
  const link = approvalLink(deps.linkBaseUrl, deps.signingKey, record);
  const message = { subject: `opsrail ${deps.policy.stage}: approve ${request.opKind} of ${run.jobId}?`, text: `${record.plan.summary}\nRequested by ${request.requestedBy}; approvers: ${allowed.join(', ')}; expires ${record.expiresAt}.`, link };
  const deliveries: ApprovalRecord['deliveries'] = [];
  for (const announcer of deps.announcers) {
    const result = await announcer.announce(message).catch((error: unknown) => ({ ok: false, detail: (error as Error).message }));
    deliveries.push({ channel: announcer.channel, ok: result.ok, detail: deps.redactor.text(result.detail) });
  }
  if (!deliveries.some((d) => d.ok)) {
    // Nothing reached anyone: the log is the last resort, and it must carry the link.
    deps.log(`approval needed: ${message.subject}`, { link, approvalId });
    deliveries.push({ channel: 'log', ok: true, detail: 'written to the function log' });
  }
  await deps.approvals.setDeliveries(approvalId, deliveries);
  deps.metrics.approval('requested');
  return { record: { ...record, deliveries }, link };
}

export interface ApprovalHttpRequest {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  form: Record<string, string | undefined>;
  /** From an authenticated source only (IAM, or a verified sign-in token), never from the form. */
  identity: string | null;
  userAgent: string | null;
  /** Set by the identity source when it refused the request (a bad token, a CSRF token that does not match). */
  refusal?: { status: number; outcome: string; message: string };
}

/**
 * What the endpoint decided, as data: the approval endpoint (functions/approval-endpoint) renders it
 * as the page, the CLI prints its title. `request` is set when the confirmation page is to be shown.
 */
export interface ApprovalHttpResponse {
  status: number;
  title: string;
  message: string;
  request?: ApprovalRecord;
  /** The methods allowed, on a 405. */
  allow?: string;
}

function page(status: number, title: string, message = ''): ApprovalHttpResponse {
  return { status, title, message };
}

/**
 * The approval endpoint. GET and HEAD only render the confirmation page (mail scanners and Slack
 * unfurls fetch every link): they change nothing. A POST with the typed challenge, by an authenticated
 * approver who is not the requester and is allowed for the op kind, decides once. Every attempt,
 * refused or not, is audited with the identity and user agent.
 */
export async function handleApprovalHttp(deps: ApprovalDependencies, request: ApprovalHttpRequest): Promise<ApprovalHttpResponse> {
  const method = request.method.toUpperCase();
  const match = /^\/approvals\/([a-f0-9]{32})\/?$/.exec(request.path);
  if (!match) return page(404, 'Not found');
  const approvalId = match[1] as string;
  const stored = await deps.approvals.getApproval(approvalId);
  const now = deps.clock.now();
  // Every attempt goes on the approval record (and from there into the run's gate_results) and the log:
  // the endpoint itself never writes evidence (only Finalize and Fail do).
  const audit = async (outcome: string) => {
    const attempt: ApprovalAttempt = { at: now.toISOString(), method, identity: request.identity, userAgent: request.userAgent, outcome };
    if (stored) await deps.approvals.recordApprovalAttempt(approvalId, attempt);
    deps.log('approval attempt', { approvalId, jobRunId: stored?.record.jobRunId ?? null, ...attempt });
  };
  if (!stored) return page(404, 'No such approval request');
  const { record } = stored;
  if (!verifySignature(deps.signingKey, approvalId, request.query.exp, request.query.sig)) {
    await audit('refused_bad_signature');
    return page(403, 'This link is not valid', 'The link was changed or cut short.');
  }
  if (now.getTime() > Number(request.query.exp) * 1000 || now.getTime() > Date.parse(record.expiresAt)) {
    await audit('refused_expired');
    return page(410, 'This request has expired');
  }
  if (method === 'GET' || method === 'HEAD') {
    await audit('viewed');
    return { ...page(200, `Approve ${record.opKind} of ${record.jobId}?`), request: record };
  }
  if (method !== 'POST') {
    await audit('refused_method');
    return { ...page(405, 'Method not allowed'), allow: 'GET, HEAD, POST' };
  }
  const refuse = async (status: number, outcome: string, message: string) => {
    await audit(outcome);
    return page(status, message);
  };
  if (record.status !== 'PENDING') return refuse(409, 'refused_already_decided', `Already ${record.status.toLowerCase()}: a link works once`);
  if (request.refusal) return refuse(request.refusal.status, request.refusal.outcome, request.refusal.message);
  if (!request.identity) return refuse(401, 'refused_unauthenticated', 'Sign in as an approver first');
  if (request.identity === record.requestedBy) return refuse(403, 'refused_requester', 'The requester may not approve their own request');
  if (!record.allowedApprovers.includes(request.identity)) return refuse(403, 'refused_not_allowed', `${request.identity} may not approve ${record.opKind}`);
  const decision = request.form.decision;
  if (decision !== 'approve' && decision !== 'reject') return refuse(400, 'refused_bad_request', 'decision must be approve or reject');
  // Confirming takes the typed challenge (proof a person read the request); saying no never needs it.
  if (decision === 'approve' && (request.form.challenge ?? '').trim() !== record.challenge) return refuse(400, 'refused_wrong_challenge', 'The challenge does not match');

  const reason = deps.redactor.text((request.form.reason ?? '').slice(0, 1000)) || null;
  const status = decision === 'approve' ? 'APPROVED' : 'REJECTED';
  if (!(await deps.approvals.decideApproval(approvalId, { status, decidedBy: request.identity, decidedAt: now.toISOString(), reason }))) {
    return refuse(409, 'refused_already_decided', 'Already decided: a link works once');
  }
  const sent =
    decision === 'approve'
      ? await deps.tasks.succeed(stored.taskToken, { approvalId, decidedBy: request.identity, decidedAt: now.toISOString() })
      : await deps.tasks.fail(stored.taskToken, 'ApprovalRejected', `rejected by ${request.identity}${reason ? `: ${reason}` : ''}`);
  if (sent === 'task_gone') {
    // The run stopped waiting (timed out or was stopped) before this decision arrived.
    await deps.approvals.decideApproval(approvalId, { status: 'EXPIRED', decidedBy: null, decidedAt: now.toISOString(), reason: 'the run had stopped waiting' }, status);
    return refuse(410, 'refused_task_gone', 'The run had already stopped waiting');
  }
  await deps.state.appendAudit(record.jobRunId, [
    runEvent({ stage: deps.policy.stage, jobId: record.jobId, jobVersion: record.jobVersion, jobRunId: record.jobRunId }, decision === 'approve' ? 'job.dangerous_op.confirm' : 'job.dangerous_op.reject', now, {
      actor: { kind: 'operator', id: request.identity },
      details: { approvalId, opKind: record.opKind, userAgent: request.userAgent, reason },
    }),
  ]);
  await audit(decision === 'approve' ? 'approved' : 'rejected');
  deps.metrics.approval(decision === 'approve' ? 'approved' : 'rejected');
  return page(200, decision === 'approve' ? 'Approved' : 'Rejected', `${record.opKind} of ${record.jobId} ${decision === 'approve' ? 'will run' : 'will not run'}. Decided by ${request.identity}.`);
}

export type { Clock };
