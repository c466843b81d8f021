import type * as z from 'zod';
import { REFUSAL_KINDS, type ErrorKind } from '../../contracts';

/**
 * Typed errors. The error's name is what Step Functions sees (Lambda reports error.name as
 * errorType), so Retry/Catch in the ASL match on these names. Each class states its name as a
 * string: the bundles are minified without keepNames (infra/bundling.ts), so a class's own `name`
 * is a minified identifier there (docs/failure-semantics.md#what-ships-is-what-is-tested).
 */
export abstract class OpsrailError extends Error {
  /** The class's name, or for a job's failure and a refusal the name of its kind. */
  abstract override readonly name: string;
  abstract readonly kind: ErrorKind;
  /** Whether repeating the same call can succeed (throttling, 5xx, timeouts). */
  abstract readonly retryable: boolean;
}

export class ConfigurationError extends OpsrailError {
  override name = 'ConfigurationError';
  readonly kind = 'configuration' as const;
  readonly retryable = false;
}

/** Bad input: names the file (or source) and the field. */
export class ValidationError extends OpsrailError {
  override name = 'ValidationError';
  readonly kind = 'validation' as const;
  readonly retryable = false;
  constructor(
    readonly source: string,
    readonly issues: { path: string; message: string }[],
    options?: { cause?: unknown },
  ) {
    super(
      `${source}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
      options,
    );
  }
}

/** A record's key that failed its own schema: say which key and why, not only "Invalid key". */
function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code !== 'invalid_key') return issue.message;
  const key = issue.path.at(-1);
  return `invalid name ${JSON.stringify(String(key))}: ${issue.issues.map((i) => i.message).join('; ')}`;
}

/**
 * A zod error's issues as ValidationError issues: the dotted path (under `prefix`, when given) and
 * the message.
 */
export function zodIssues(error: z.ZodError, prefix?: string): { path: string; message: string }[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return { path: prefix ? `${prefix}.${path}` : path, message: issueMessage(issue) };
  });
}

/** The one way a failed zod parse becomes a ValidationError naming `source` and every field. */
export function validationErrorOf(
  source: string,
  error: z.ZodError,
  prefix?: string,
): ValidationError {
  return new ValidationError(source, zodIssues(error, prefix), { cause: error });
}

export class NotFoundError extends OpsrailError {
  override name = 'NotFoundError';
  readonly kind = 'not_found' as const;
  readonly retryable = false;
}

export class PermissionError extends OpsrailError {
  override name = 'PermissionError';
  readonly kind = 'permission' as const;
  readonly retryable = false;
}

export class ThrottlingError extends OpsrailError {
  override name = 'ThrottlingError';
  readonly kind = 'throttling' as const;
  readonly retryable = true;
  /** A dependency's Retry-After, in seconds: the next attempt must not come sooner. */
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** A dependency (AWS service, local endpoint, remote API) failed in a way that may pass. */
export class DependencyError extends OpsrailError {
  override name = 'DependencyError';
  readonly kind = 'dependency' as const;
  readonly retryable = true;
}

/** The run was already claimed by another delivery of the same tick: not an error of the job. */
export class DuplicateRunError extends OpsrailError {
  override name = 'DuplicateRunError';
  readonly kind = 'validation' as const;
  readonly retryable = false;
  constructor(readonly jobRunId: string) {
    super(`run ${jobRunId} was already claimed; this delivery is suppressed`);
  }
}

/**
 * A tick that found another window's run of its job open, under overlap `skip` (or `buffer_one`
 * with a tick already waiting): not run, audited on the open run (docs/scheduling.md#overlap).
 * Never retried: the tick's window stays unclaimed, so `opsrail backfill` can run it later.
 */
export class TickSkippedError extends OpsrailError {
  override name = 'TickSkippedError';
  readonly kind = 'validation' as const;
  readonly retryable = false;
  constructor(
    readonly jobRunId: string,
    readonly openRunId: string,
  ) {
    super(`run ${jobRunId} not started: run ${openRunId} of the job is still open (overlap)`);
  }
}

/**
 * A tick waiting behind an open run of its job (overlap `buffer_one`): the state machine waits
 * (WaitForOpenRun) and asks Preflight again; retryable in that sense only.
 */
export class RunBufferedError extends OpsrailError {
  override name = 'RunBufferedError';
  readonly kind = 'validation' as const;
  readonly retryable = true;
  constructor(
    readonly jobRunId: string,
    readonly openRunId: string,
  ) {
    super(`run ${jobRunId} waits: run ${openRunId} of the job is still open (overlap buffer_one)`);
  }
}

const NAME_OF_KIND: Record<ErrorKind, string> = {
  configuration: 'ConfigurationError',
  permission: 'PermissionError',
  not_found: 'NotFoundError',
  validation: 'ValidationError',
  throttling: 'ThrottlingError',
  dependency: 'DependencyError',
  timeout: 'TimeoutError',
  inputs_unpinned: 'InputsUnpinnedError',
  internal: 'InternalError',
  refused_safety: 'SafetyRefusedError',
  refused_kill_switch: 'KillSwitchEngagedError',
  refused_quarantine: 'QuarantinedError',
  refused_integrity: 'IntegrityRefusedError',
  stopped: 'ExecutionStoppedError',
  approval_rejected: 'ApprovalRejected',
  approval_timed_out: 'ApprovalTimedOut',
  unknown_outcome: 'UnknownOutcomeError',
  bookkeeping: 'BookkeepingError',
  plan_changed: 'PlanChangedError',
};

/** The error name Step Functions sees for a kind (Retry and Catch in the ASL match these). */
export const errorNameOf = (kind: ErrorKind): string => NAME_OF_KIND[kind];

/** Preflight refuses the run: it is claimed and evidenced, but the job does not run. */
export class RunRefusedError extends OpsrailError {
  override name: string;
  readonly retryable = false;
  constructor(
    readonly kind: (typeof REFUSAL_KINDS)[number],
    message: string,
  ) {
    super(message);
    this.name = NAME_OF_KIND[kind];
  }
}

export const isRefusal = (kind: ErrorKind): boolean =>
  (REFUSAL_KINDS as readonly string[]).includes(kind);

/**
 * The error a job should throw for an HTTP answer from a dependency
 * (docs/failure-semantics.md#http-answers-from-a-dependency): 400/422 validation,
 * 401/403 permission, 404/410 not found — never retried; 408/429 and 5xx retried with backoff, and
 * a Retry-After (seconds or an HTTP date) is carried so the retry honours it.
 */
export function errorForHttpStatus(
  status: number,
  message: string,
  retryAfter?: string | null,
  now: Date = new Date(),
): OpsrailError {
  const text = `HTTP ${status}: ${message}`;
  if (status === 429 || status === 503) {
    const retryAfterSeconds = parseRetryAfter(retryAfter, now);
    if (status === 429)
      return new ThrottlingError(
        text,
        retryAfterSeconds === undefined ? {} : { retryAfterSeconds },
      );
    return new JobFailedError(
      'dependency',
      text,
      retryAfterSeconds === undefined ? {} : { retryAfterSeconds },
    );
  }
  if (status === 408 || status === 504) return new JobFailedError('timeout', text);
  if (status >= 500) return new DependencyError(text);
  if (status === 401 || status === 403) return new PermissionError(text);
  if (status === 404 || status === 410) return new NotFoundError(text);
  if (status === 400 || status === 409 || status === 422)
    return new JobFailedError('validation', text);
  return new JobFailedError('validation', text);
}

export function parseRetryAfter(value: string | null | undefined, now: Date): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}

/**
 * A dependency asked to wait longer than policy (or the Lambda's time) allows: retrying sooner
 * would not honour it.
 */
export class RetryAfterTooLongError extends OpsrailError {
  override name = 'RetryAfterTooLongError';
  readonly kind = 'throttling' as const;
  readonly retryable = false;
}

/** Seconds a failed attempt asks the next one to wait, if any. */
export const retryAfterOf = (error: unknown): number | undefined =>
  (error as { retryAfterSeconds?: number })?.retryAfterSeconds;

/**
 * Thrown by a job's own logic to fail the run with a kind of its choosing. Its name is the kind's
 * error name, so the ASL's Retry and Catch treat it exactly like the adapters' typed errors.
 */
export class JobFailedError extends OpsrailError {
  override name: string;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options);
    this.name = NAME_OF_KIND[kind];
    this.retryable = RETRYABLE_KINDS.includes(kind);
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** The kinds the ASL retries (Retry), all others go straight to Catch. */
export const RETRYABLE_KINDS: readonly ErrorKind[] = [
  'throttling',
  'dependency',
  'timeout',
  'bookkeeping',
];

/**
 * One of opsrail's own stores (state table, idempotency table, evidence bucket) failed in a way
 * that may pass. Retried by every step; never a fault of the job, so never counted toward
 * quarantine.
 */
export class BookkeepingError extends OpsrailError {
  override name = 'BookkeepingError';
  readonly kind = 'bookkeeping' as const;
  readonly retryable = true;
}

/** An error of opsrail's own store call: a retryable one (throttling, 5xx) becomes bookkeeping. */
export function asBookkeeping(what: string, error: unknown): unknown {
  if (!(error instanceof OpsrailError) || !error.retryable || error instanceof BookkeepingError)
    return error;
  return new BookkeepingError(`${what}: ${error.name}: ${error.message}`, { cause: error });
}

/** Powertools idempotency errors that mean its table could not be read or written (not the job). */
const POWERTOOLS_PERSISTENCE = new Set([
  'IdempotencyPersistenceLayerError',
  'IdempotencyPersistenceConsistencyError',
]);

/**
 * A Powertools persistence error as the retryable bookkeeping error it is; anything else unchanged.
 */
export function fromIdempotencyStore(error: unknown): unknown {
  const { name, message } = (error ?? {}) as { name?: string; message?: string };
  if (!name || !POWERTOOLS_PERSISTENCE.has(name)) return error;
  const cause = (error as { cause?: { name?: string; message?: string } }).cause;
  const detail = cause?.name ? ` (${cause.name}: ${cause.message ?? ''})` : '';
  return new BookkeepingError(`idempotency store: ${name}: ${message ?? ''}${detail}`, {
    cause: error,
  });
}

/**
 * The holder of an earlier Execute attempt died after starting the job: its effect may or may not
 * have happened. A job that is not idempotent is not run again; the run ends UNKNOWN
 * (docs/crash-safety.md).
 */
export class UnknownOutcomeError extends OpsrailError {
  override name = 'UnknownOutcomeError';
  readonly kind = 'unknown_outcome' as const;
  readonly retryable = false;
}

/**
 * Evidence that must be write-once met different bytes already stored under its key, or a bundle
 * would not match the chain link reserved for it: an integrity finding, never accepted silently.
 */
export class EvidenceIntegrityError extends OpsrailError {
  override name = 'EvidenceIntegrityError';
  readonly kind = 'internal' as const;
  readonly retryable = false;
  constructor(
    message: string,
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Maps an error name seen by Step Functions (Catch → $.error.Error) back to its kind. */
export function errorKindFromName(name: string): ErrorKind {
  const kind = (Object.keys(NAME_OF_KIND) as ErrorKind[]).find((k) => NAME_OF_KIND[k] === name);
  if (kind) return kind;
  if (name === 'RetryAfterTooLongError') return 'throttling';
  return name === 'States.Timeout' ? 'timeout' : 'internal';
}

/**
 * A taken-over run whose outcome (not a success) was already sealed: RecordFailure finishes it from
 * that outcome.
 */
export class RunAlreadyClosedError extends OpsrailError {
  override name = 'RunAlreadyClosedError';
  readonly kind = 'internal' as const;
  readonly retryable = false;
  constructor(jobRunId: string, status: string) {
    super(`run ${jobRunId} already ended with status ${status}; finishing its evidence`);
  }
}

/**
 * Other runs of the same job kept changing what this run must update conditionally: retried like
 * throttling.
 */
export class ContentionError extends OpsrailError {
  override name = 'ThrottlingError';
  readonly kind = 'throttling' as const;
  readonly retryable = true;
  constructor(jobRunId: string, what: string) {
    super(`run ${jobRunId}: ${what} kept moving; try again`);
  }
}

/**
 * Relaxing a safety control (toward NORMAL, releasing a kill-switch or a quarantine) is a dangerous
 * op (docs/safety-rules.md#dangerous-ops): it needs a named human's approval through the approval
 * gate, never a plain command.
 */
export class DangerousOpRequiresApprovalError extends OpsrailError {
  override name = 'DangerousOpRequiresApprovalError';
  readonly kind = 'validation' as const;
  readonly retryable = false;
  constructor(operation: string) {
    super(
      `${operation} is a dangerous op: it needs a second person's approval. Run the gated job instead (opsrail run safety_relax --param mode=NORMAL, kill_switch_release --param jobId=…, or quarantine_release --param jobId=…, with --as you); a second person approves it`,
    );
  }
}
