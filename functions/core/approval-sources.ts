import type { ApprovalRecord, ApprovalSource, PendingApprovals } from '../../contracts';
import { approvalLink, handleApprovalHttp, SECURITY_HEADERS, type ApprovalDependencies, type ApprovalHttpRequest, type ApprovalHttpResponse } from './approvals';

/** A decision by an approver whose identity the caller has already verified (Slack, IAM, the local --as). */
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

const unescapeHtml = (s: string) => s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] as string);

/** The one-line title of an approval endpoint page (its <h1>), as text; undefined for anything else. */
export function pageTitle(html: string): string | undefined {
  const title = /<h1>(.*?)<\/h1>/.exec(html)?.[1];
  return title === undefined ? undefined : unescapeHtml(title);
}

/**
 * Every channel decides through the approval endpoint's own rules (single use, four eyes, allowed
 * approvers, the typed challenge, every attempt audited): this hands it the request the link would
 * have made, signed here with the link key, and the identity the channel verified.
 */
export async function decideAsVerified(deps: ApprovalDependencies, decision: VerifiedDecision): Promise<DecisionOutcome> {
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
  return { status: response.status, title: pageTitle(response.body) ?? String(response.status) };
}

/** A pending request as `opsrail approvals` lists it (the page's content), with its link. */
export type PendingApprovalRow = ApprovalRecord & { link: string };

export async function pendingApprovalRows(deps: ApprovalDependencies): Promise<PendingApprovalRow[]> {
  const pending = await deps.approvals.listPendingApprovals();
  return pending.map((record) => ({ ...record, link: approvalLink(deps.linkBaseUrl, deps.signingKey, record) }));
}

/**
 * `GET /approvals`: the pending requests as JSON, for an authenticated caller only (the decision URL's
 * IAM identity; the page URL carries none). undefined for every other request: the endpoint handles it.
 */
export async function pendingApprovalsRoute(deps: ApprovalDependencies, request: ApprovalHttpRequest): Promise<ApprovalHttpResponse | undefined> {
  if (!/^\/approvals\/?$/.test(request.path)) return undefined;
  // The endpoint's security headers on every answer, JSON ones too.
  const headers = { ...SECURITY_HEADERS, 'content-type': 'application/json' };
  if (request.method.toUpperCase() !== 'GET') return { status: 405, headers: { ...headers, allow: 'GET' }, body: '{"error":"method not allowed"}' };
  if (!request.identity) return { status: 401, headers, body: '{"error":"sign the request with your AWS credentials (the decision URL)"}' };
  const body: PendingApprovals = { approvals: await pendingApprovalRows(deps) };
  deps.log('approvals listed', { identity: request.identity, count: body.approvals.length });
  return { status: 200, headers, body: JSON.stringify(body) };
}
