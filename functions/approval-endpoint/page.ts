import type { ApprovalAnswer, ApprovalRecord } from '../../contracts';
import type { ApprovalHttpResponse } from '../core/approvals';
import type { JsonAnswer } from '../core/approval-sources';

/**
 * The approval page as HTML, from the endpoint's structured answer (docs/approval-sign-in.md): one
 * column that reads on a phone and a desktop, no script, every field labelled, no decision
 * pre-selected, the plan as a table. The same page serves in Lambda and on the local stack.
 */
export interface PageContext {
  method: string;
  /** The verified approver, when signed in. */
  signedInAs: string | null;
  /** Where "Sign in" leads (the identity provider, through the endpoint's /auth/sign-in). */
  signInUrl: string | null;
  /** The CSRF token bound to this page (see csrfToken in sign-in.ts); present when signed in. */
  csrfToken: string | null;
}

export interface RenderedPage {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

const STYLE = [
  'body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:44rem;padding:1rem;color:#111;background:#fff}',
  'h1{font-size:1.4rem;line-height:1.3}table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}',
  'th,td{border:1px solid #888;padding:.4rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}',
  'th{background:#eee;width:35%}fieldset{border:1px solid #888;margin:0 0 1rem;padding:.5rem 1rem}',
  'label{display:block;margin:.4rem 0}input[type=text]{font:inherit;width:100%;box-sizing:border-box;padding:.5rem}',
  'button,.button{font:inherit;padding:.6rem 1.2rem;border:2px solid #114;background:#114;color:#fff;border-radius:4px;text-decoration:none;display:inline-block}',
  'code{font-size:1.1rem;background:#eee;padding:.1rem .3rem;user-select:all}.hint{color:#444;font-size:.9rem}',
].join('');

/**
 * A plan value as text: arrays as their items (the table says how many), objects as key: value
 * pairs.
 */
function cell(value: unknown): string {
  if (value === null || value === undefined) return '<em>none</em>';
  if (Array.isArray(value)) {
    if (value.length === 0) return '<em>none</em>';
    return `${value.length} item(s)<ul>${value.map((v) => `<li>${cell(v)}</li>`).join('')}</ul>`;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    return entries.length === 0
      ? '<em>none</em>'
      : entries.map(([k, v]) => `${escapeHtml(k)}: ${cell(v)}`).join('<br>');
  }
  return escapeHtml(String(value));
}

function planTable(record: ApprovalRecord): string {
  const rows = Object.entries(record.plan.details).map(
    ([key, value]) => `<tr><th scope="row">${escapeHtml(key)}</th><td>${cell(value)}</td></tr>`,
  );
  return (
    `<h2>What will be done</h2><p>${escapeHtml(record.plan.summary)}</p>` +
    `<table><caption class="hint">The dry run's plan, exactly as it will be carried out</caption>` +
    `<tbody><tr><th scope="row">operation</th><td>${escapeHtml(record.opKind)} (job ${escapeHtml(record.jobId)} ${escapeHtml(record.jobVersion)})</td></tr>${rows.join('')}</tbody></table>`
  );
}

function requestTable(record: ApprovalRecord): string {
  const row = (k: string, v: string) =>
    `<tr><th scope="row">${k}</th><td>${escapeHtml(v)}</td></tr>`;
  return (
    `<h2>The request</h2><table><tbody>` +
    row('run', record.jobRunId) +
    row('requested by', record.requestedBy) +
    row('requested at', record.createdAt) +
    row('expires at', record.expiresAt) +
    row('who may decide', record.allowedApprovers.join(', ')) +
    quorum(record) +
    row('status', record.status.toLowerCase()) +
    `</tbody></table>`
  );
}

/**
 * N of M (docs/approvals.md): how many must approve and who has so far; nothing when one is enough.
 */
function quorum(record: ApprovalRecord): string {
  const min = record.minApprovals ?? 1;
  if (min <= 1) return '';
  const approved = (record.decisions ?? [])
    .filter((d) => d.decision === 'approve')
    .map((d) => d.by);
  const so = approved.length ? `${approved.length} so far (${approved.join(', ')})` : 'none so far';
  return `<tr><th scope="row">approvals needed</th><td>${min} distinct approvers; ${escapeHtml(so)}</td></tr>`;
}

function decisionForm(record: ApprovalRecord, context: PageContext): string {
  if (record.status !== 'PENDING')
    return `<p><strong>Already ${escapeHtml(record.status.toLowerCase())}</strong> by ${escapeHtml(record.decidedBy ?? 'nobody')}.</p>`;
  if (!context.signedInAs || !context.csrfToken) {
    const signIn = context.signInUrl
      ? `<p><a class="button" href="${escapeHtml(context.signInUrl)}">Sign in to decide</a></p>`
      : '';
    return (
      `<h2>Decide</h2><p>Only a signed-in approver can decide. Viewing this page changes nothing.</p>` +
      `<p>To approve you will type the challenge <code>${escapeHtml(record.challenge)}</code>.</p>${signIn}`
    );
  }
  return (
    `<h2>Decide</h2><p>Signed in as <strong>${escapeHtml(context.signedInAs)}</strong>.</p>` +
    `<form method="post"><input type="hidden" name="csrf" value="${escapeHtml(context.csrfToken)}">` +
    `<fieldset><legend>Your decision</legend>` +
    `<label><input type="radio" name="decision" value="approve" required> Approve: carry out the plan above</label>` +
    `<label><input type="radio" name="decision" value="reject"> Reject: the run will not do it</label></fieldset>` +
    `<label for="challenge">Challenge (required to approve)</label>` +
    `<p class="hint" id="challenge-hint">Type or copy this text: <code>${escapeHtml(record.challenge)}</code></p>` +
    `<input type="text" id="challenge" name="challenge" autocomplete="off" autocapitalize="none" spellcheck="false" aria-describedby="challenge-hint">` +
    `<label for="reason">Reason (optional, recorded)</label>` +
    `<input type="text" id="reason" name="reason" maxlength="1000" autocomplete="off">` +
    `<p><button type="submit">Submit decision</button></p></form>`
  );
}

/** Sent with every answer of the endpoint, errors and JSON included. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  // No script at all; the form posts to this same page only.
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};

function answerHeaders(
  response: { allow?: string; retryAfterSeconds?: number },
  contentType?: string,
): Record<string, string> {
  return {
    ...SECURITY_HEADERS,
    ...(contentType ? { 'content-type': contentType } : {}),
    ...(response.allow ? { allow: response.allow } : {}),
    ...(response.retryAfterSeconds ? { 'retry-after': String(response.retryAfterSeconds) } : {}),
  };
}

export function renderPage(response: ApprovalHttpResponse, context: PageContext): RenderedPage {
  const record = response.request;
  const main = record
    ? `${planTable(record)}${requestTable(record)}${decisionForm(record, context)}`
    : `${response.message ? `<p>${escapeHtml(response.message)}</p>` : ''}${response.status === 401 && context.signInUrl ? `<p><a class="button" href="${escapeHtml(context.signInUrl)}">Sign in</a></p>` : ''}`;
  const html =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<meta name="robots" content="noindex"><title>${escapeHtml(response.title)}</title><style>${STYLE}</style></head>` +
    `<body><main><h1>${escapeHtml(response.title)}</h1>${main}</main></body></html>`;
  return {
    status: response.status,
    headers: answerHeaders(response),
    body: context.method.toUpperCase() === 'HEAD' ? '' : html,
  };
}

/**
 * The same answer as data (ApprovalAnswer), for a caller that asked for JSON: nothing to scrape.
 */
export function renderAnswerJson(response: ApprovalHttpResponse): RenderedPage {
  const body: ApprovalAnswer = {
    status: response.status,
    title: response.title,
    message: response.message,
    ...(response.outcome ? { outcome: response.outcome } : {}),
  };
  return {
    status: response.status,
    headers: answerHeaders(response, 'application/json'),
    body: JSON.stringify(body),
  };
}

/** A data route's answer (GET /approvals), with the security headers. */
export function renderJson(response: JsonAnswer): RenderedPage {
  return {
    status: response.status,
    headers: answerHeaders(response, 'application/json'),
    body: JSON.stringify(response.json),
  };
}
