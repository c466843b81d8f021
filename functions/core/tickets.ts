import {
  RISK_LEVELS,
  type AuditTicket,
  type ErrorKind,
  type FailedStep,
  type RiskLevel,
  type RunContext,
  type TicketCategory,
} from '../../contracts';
import { sha256Hex } from './hashing';
import { mdText } from './markdown';
import type { Redactor } from './redaction';

/**
 * Audit tickets: every failed run (status `error`) gets one in its bundle, as JSON and Markdown.
 * The rules here are the ones docs/evidence.md#tickets states: the classification table, the risk
 * rules and the suggested action per category. Pure functions of what is stored about the run.
 */

/** What a failure is known by: the run's error (kind, name, message), as stored, redacted. */
export interface FailureFacts {
  kind: ErrorKind;
  name: string;
  message: string;
}

export interface Classification {
  category: TicketCategory;
  http_status: number | null;
  cause: string;
}

/**
 * The status a dependency answered, as errorForHttpStatus (`HTTP 403: …`) and the http job
 * (`… answered 302, expected 2xx`) write it.
 */
const HTTP_STATUS = /\b(?:HTTP|answered) ([1-5]\d{2})\b/;

/** The kinds errorForHttpStatus and the http job produce: only their messages carry a status. */
const HTTP_KINDS: readonly ErrorKind[] = [
  'validation',
  'permission',
  'not_found',
  'throttling',
  'dependency',
  'timeout',
];

/**
 * A secret the job names is not there: Secrets Manager's ResourceNotFound (wrapAwsError), the local
 * secrets file without it, or a template naming no entry of implementation.secrets.
 */
const SECRET_MISSING =
  /Secrets Manager GetSecretValue \S+ failed: ResourceNotFoundException|\bsecret \S+ is not in the local secrets file|\{\{secret\.[^}]*\}\} names no entry of implementation\.secrets/;

function byHttpStatus(status: number): Classification {
  const of = (category: TicketCategory, what: string): Classification => ({
    category,
    http_status: status,
    cause: `a dependency answered HTTP ${status} (${what})`,
  });
  if (status === 401 || status === 403) return of('permission', 'not allowed');
  if (status === 404 || status === 410) return of('not_found', 'no such resource');
  if (status === 409) return of('conflict', "conflicts with the resource's state");
  if (status === 429) return of('rate_limited', 'too many requests');
  if (status === 408 || status >= 500) return of('transient', 'may pass on a later attempt');
  if (status >= 400) return of('configuration', 'the request itself was refused');
  return of('configuration', 'not an answer the job expects');
}

const BY_KIND: Record<ErrorKind, { category: TicketCategory; cause: string }> = {
  configuration: { category: 'configuration', cause: "opsrail's or the job's setup is wrong" },
  validation: { category: 'configuration', cause: 'input or configuration failed validation' },
  permission: { category: 'permission', cause: 'a call was not allowed' },
  not_found: { category: 'not_found', cause: 'something the job needs does not exist' },
  throttling: { category: 'rate_limited', cause: 'a dependency throttled the calls' },
  dependency: { category: 'transient', cause: 'a dependency failed in a way that may pass' },
  timeout: { category: 'transient', cause: 'a step or a dependency timed out' },
  bookkeeping: { category: 'transient', cause: "one of opsrail's own stores failed" },
  internal: { category: 'bug', cause: 'an error that is not a typed error: a defect or a crash' },
  stopped: {
    category: 'unknown',
    cause: 'the execution was stopped (kill-switch or operator) before the run ended',
  },
  unknown_outcome: {
    category: 'unknown',
    cause: "an earlier attempt's holder died mid-job: its effect may or may not have happened",
  },
  // Refusals end as `skipped` and get no ticket; classified all the same.
  inputs_unpinned: { category: 'configuration', cause: 'the run was refused: inputs not pinned' },
  refused_safety: { category: 'unknown', cause: 'the run was refused by the safety mode' },
  refused_kill_switch: { category: 'unknown', cause: 'the run was refused by a kill-switch' },
  refused_quarantine: { category: 'unknown', cause: 'the run was refused: job quarantined' },
  refused_integrity: { category: 'unknown', cause: 'the run was refused: dataset integrity' },
  approval_rejected: { category: 'unknown', cause: 'the approval gate rejected the run' },
  approval_timed_out: { category: 'unknown', cause: 'nobody decided at the approval gate' },
  plan_changed: { category: 'conflict', cause: 'the plan changed after it was approved' },
};

/**
 * The one category of a failure (docs/evidence.md#classification): a missing secret first, then a
 * Retry-After too long to honour, then the HTTP status a dependency answered, then the error kind.
 */
export function classifyFailure(error: FailureFacts): Classification {
  if (SECRET_MISSING.test(error.message))
    return {
      category: 'secret_missing',
      http_status: null,
      cause: 'a secret the job names (its secret_ref) is not there',
    };
  const status = HTTP_KINDS.includes(error.kind) ? HTTP_STATUS.exec(error.message) : null;
  if (error.name === 'RetryAfterTooLongError')
    return {
      category: 'rate_limited',
      http_status: status ? Number(status[1]) : null,
      cause: 'a dependency asked to wait longer than the retry policy allows',
    };
  if (status) return byHttpStatus(Number(status[1]));
  if (error.name === 'ExecutionFailed')
    return { category: 'unknown', http_status: null, cause: 'the execution failed unrecorded' };
  return { ...BY_KIND[error.kind], http_status: null };
}

/** Each category's level before the raising rules (docs/evidence.md#risk). */
export const BASE_RISK: Record<TicketCategory, RiskLevel> = {
  transient: 'low',
  rate_limited: 'low',
  configuration: 'medium',
  not_found: 'medium',
  conflict: 'medium',
  permission: 'medium',
  secret_missing: 'medium',
  unknown: 'medium',
  bug: 'high',
};

export interface RiskFacts {
  category: TicketCategory;
  errorCode: ErrorKind;
  /** The run needed approval: a dangerous op. */
  dangerous: boolean;
  /** This failure put the job in quarantine. */
  quarantined: boolean;
}

/**
 * The risk level and the rules that set it: the category's base level; one level up on a dangerous
 * op; one more if the failure quarantined the job; at least high when the job's effect is unknown.
 * Capped at critical.
 */
export function assessRisk(facts: RiskFacts): { risk: RiskLevel; reasons: string[] } {
  let rank = RISK_LEVELS.indexOf(BASE_RISK[facts.category]);
  const reasons = [`${facts.category} failures start at ${BASE_RISK[facts.category]}`];
  const raise = (why: string) => {
    rank = Math.min(rank + 1, RISK_LEVELS.length - 1);
    reasons.push(`${why}: one level up`);
  };
  if (facts.dangerous) raise('a dangerous op (the run needed approval)');
  if (facts.quarantined) raise('this failure put the job in quarantine');
  if (facts.errorCode === 'unknown_outcome' && rank < RISK_LEVELS.indexOf('high')) {
    rank = RISK_LEVELS.indexOf('high');
    reasons.push("the job's effect is unknown: at least high");
  }
  return { risk: RISK_LEVELS[rank] as RiskLevel, reasons };
}

/** What to do next, per category (docs/evidence.md#suggested-action). */
export const SUGGESTED_ACTION: Record<TicketCategory, string> = {
  configuration:
    "Fix the configuration or input the error names (the job's catalog entry, policy/<stage>.json, or the request the dependency refused); it is not retried, so trigger the job again once fixed.",
  permission:
    "Grant the access the error names: the job's iam statements for an AWS call, or the credentials of the dependency for an HTTP 401/403; then trigger the job again.",
  not_found:
    'Check that what the error names exists (URL, function, bucket, table) and that the job points at the right one; create it or correct the reference.',
  transient:
    "Nothing to change if the next run passes: it was retried with backoff. If it keeps failing, check the dependency's status and the retry policy (policy/<stage>.json retry).",
  secret_missing:
    "Create the secret the job's secret_ref names (Secrets Manager, or OPSRAIL_SECRETS_FILE locally) or correct the reference, then trigger the job again.",
  rate_limited:
    "Lower the job's call rate or frequency, or raise the dependency's limit; a Retry-After longer than retry.maxDelaySeconds is not waited for.",
  conflict:
    'Resolve the conflicting state the dependency (or the approval gate) reported, then trigger the job again.',
  bug: "A defect or a crash: read the error and the function's logs, fix the code and release it; running it again fails the same way.",
  unknown:
    "Read the run's audit and logs (opsrail show <jobRunId>) to learn what happened; if the job's effect is unknown, check the target before running it again.",
};

/**
 * The step a failed run stopped in, from what RecordFailure knows: the job ran at least once
 * (Execute); no run context (Preflight, or ExecutionEnded for a stopped or failed execution); a
 * dangerous op not approved (RequestApproval); otherwise Execute.
 */
export function failedStepOf(facts: {
  hasRun: boolean;
  attempts: number;
  errorName: string;
  approvalRequired: boolean;
  approved: boolean;
}): FailedStep {
  if (facts.attempts > 0) return 'execute';
  if (!facts.hasRun)
    return ['ExecutionStoppedError', 'ExecutionFailed'].includes(facts.errorName)
      ? 'execution'
      : 'preflight';
  if (facts.approvalRequired && !facts.approved) return 'request_approval';
  return 'execute';
}

/** `tkt-` and 16 hex of the SHA-256 of `<stage>/<run id>`: one ticket per run, the same on retry. */
export const ticketIdOf = (stage: string, jobRunId: string): string =>
  `tkt-${sha256Hex(`${stage}/${jobRunId}`).slice(0, 16)}`;

export interface TicketInput {
  run: Pick<RunContext, 'stage' | 'jobId' | 'jobVersion' | 'jobRunId' | 'approvalRequired'>;
  /** The sealed outcome's error; a failed run always has one. */
  error: FailureFacts;
  step: FailedStep;
  attempts: number;
  /** When the run ended (its sealed outcome's endedAt). */
  endedAt: string;
  quarantined: boolean;
  /** Keys of the run's other evidence (bundle objects and manifest). */
  evidenceRefs: string[];
}

/** The ticket of a failed run; everything in it has passed `redactor`. */
export function buildTicket(input: TicketInput, redactor: Redactor): AuditTicket {
  const error = redactor.value(input.error);
  const classification = classifyFailure(error);
  const { risk, reasons } = assessRisk({
    category: classification.category,
    errorCode: error.kind,
    dangerous: input.run.approvalRequired,
    quarantined: input.quarantined,
  });
  return redactor.value({
    schema_version: 1,
    ticket_id: ticketIdOf(input.run.stage, input.run.jobRunId),
    stage: input.run.stage,
    job_id: input.run.jobId,
    job_version: input.run.jobVersion,
    run_id: input.run.jobRunId,
    opened_at: input.endedAt,
    status: 'open',
    failed: {
      step: input.step,
      error_code: error.kind,
      error_name: error.name,
      message: error.message,
      attempts: input.attempts,
    },
    classification,
    risk,
    risk_reasons: reasons,
    dangerous: input.run.approvalRequired,
    quarantined: input.quarantined,
    evidence_refs: input.evidenceRefs,
    suggested_action: SUGGESTED_ACTION[classification.category],
  });
}

/** A fence longer than any run of backticks in `text`, so the text cannot close it. */
function fenced(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}text\n${text}\n${fence}`;
}

/** The ticket for people: the same fields, in Markdown (`ticket_md/` in the bundle). */
export function ticketMarkdown(ticket: AuditTicket): string {
  const c = ticket.classification;
  return [
    `# Audit ticket ${ticket.ticket_id}: ${ticket.risk} risk, ${c.category}`,
    '',
    '| field | value |',
    '|---|---|',
    `| status | ${ticket.status} |`,
    `| stage | ${mdText(ticket.stage)} |`,
    `| job | ${mdText(ticket.job_id)} ${mdText(ticket.job_version)} |`,
    `| run | ${mdText(ticket.run_id)} |`,
    `| opened at | ${ticket.opened_at} |`,
    `| failed step | ${ticket.failed.step} (after ${ticket.failed.attempts} attempt(s)) |`,
    `| error | ${mdText(ticket.failed.error_code)} (${mdText(ticket.failed.error_name)}) |`,
    `| category | ${c.category} |`,
    `| HTTP status | ${c.http_status ?? '-'} |`,
    `| cause | ${mdText(c.cause)} |`,
    `| risk | ${ticket.risk} |`,
    `| dangerous op | ${ticket.dangerous ? 'yes' : 'no'} |`,
    `| quarantined the job | ${ticket.quarantined ? 'yes' : 'no'} |`,
    '',
    '## What failed',
    '',
    fenced(ticket.failed.message || '(no message)'),
    '',
    '## Why this risk',
    '',
    ...ticket.risk_reasons.map((r) => `- ${r}`),
    '',
    '## Suggested action',
    '',
    ticket.suggested_action,
    '',
    '## Evidence',
    '',
    ...ticket.evidence_refs.map((ref) => `- \`${ref}\``),
    '',
  ].join('\n');
}
