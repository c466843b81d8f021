import type { ApprovalRecord, ApprovalSource, PendingApprovals } from '../../contracts';
import {
  approvalLink,
  handleApprovalHttp,
  type ApprovalDependencies,
  type ApprovalHttpRequest,
} from './approvals';

/**
 * A decision by an approver whose identity the caller has already verified (Slack, IAM, the local
 * --as).
 */
export interface VerifiedDecision {
  approvalId: string;
  identity: string;
  source: ApprovalSource;
  decision: 'approve' | 'reject';
  challenge?: string;
  reason?: string;
  userAgent: string | null;
}

/** The outcome in a form a channel can show: the endpoint's status and its one-line title. */
export interface DecisionOutcome {
  status: number;
  title: string;
}

/**
 * Every channel decides through the approval endpoint's own rules (single use, four eyes, allowed
 * approvers, the typed challenge, every attempt audited): this hands it the request the link would
 * have made, signed here with the link key, and the identity the channel verified.
 */
export async function decideAsVerified(
  deps: ApprovalDependencies,
  decision: VerifiedDecision,
): Promise<DecisionOutcome> {
  const stored = await deps.approvals.getApproval(decision.approvalId);
  if (!stored) return { status: 404, title: 'No such approval request' };
  const url = new URL(approvalLink(deps.linkBaseUrl, deps.signingKey, stored.record));
  const response = await handleApprovalHttp(deps, {
    method: 'POST',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    form: { decision: decision.decision, challenge: decision.challenge, reason: decision.reason },
    identity: decision.identity,
    userAgent: decision.userAgent,
    source: decision.source,
  });
  return { status: response.status, title: response.title };
}

/** A pending request as `opsrail approvals` lists it (the page's content), with its link. */
export type PendingApprovalRow = ApprovalRecord & { link: string };

export async function pendingApprovalRows(
  deps: ApprovalDependencies,
): Promise<PendingApprovalRow[]> {
  const pending = await deps.approvals.listPendingApprovals();
  return pending.map((record) => ({
    ...record,
    link: approvalLink(deps.linkBaseUrl, deps.signingKey, record),
  }));
}

/** An answer of the endpoint that is data, not a page: the endpoint sends it as JSON. */
export interface JsonAnswer {
  status: number;
  json: unknown;
  /** The methods allowed, on a 405. */
  allow?: string;
}

/**
 * `GET /approvals`: the pending requests as JSON, for an authenticated caller only (the decision
 * URL's IAM identity; the page URL carries none). undefined for every other request: the endpoint
 * handles it.
 */
export async function pendingApprovalsRoute(
  deps: ApprovalDependencies,
  request: ApprovalHttpRequest,
): Promise<JsonAnswer | undefined> {
  if (!/^\/approvals\/?$/.test(request.path)) return undefined;
  if (request.method.toUpperCase() !== 'GET')
    return { status: 405, allow: 'GET', json: { error: 'method not allowed' } };
  if (!request.identity)
    return {
      status: 401,
      json: { error: 'sign the request with your AWS credentials (the decision URL)' },
    };
  const json: PendingApprovals = { approvals: await pendingApprovalRows(deps) };
  deps.log('approvals listed', { identity: request.identity, count: json.approvals.length });
  return { status: 200, json };
}
