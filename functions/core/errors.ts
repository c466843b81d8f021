import type { ErrorKind } from '../../contracts';

/**
 * Typed errors. The class name is what Step Functions sees as the error name (Lambda reports
 * error.name as errorType), so Retry/Catch in the ASL match on these names.
 */
export abstract class OpsrailError extends Error {
  abstract readonly kind: ErrorKind;
  /** Whether repeating the same call can succeed (throttling, 5xx, timeouts). */
  abstract readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class ConfigurationError extends OpsrailError {
  readonly kind = 'configuration' as const;
  readonly retryable = false;
}

/** Bad input: names the file (or source) and the field. */
export class ValidationError extends OpsrailError {
  readonly kind = 'validation' as const;
  readonly retryable = false;
  constructor(
    readonly source: string,
    readonly issues: { path: string; message: string }[],
    options?: { cause?: unknown },
  ) {
    super(`${source}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`, options);
  }
}

export class NotFoundError extends OpsrailError {
  readonly kind = 'not_found' as const;
  readonly retryable = false;
}

export class PermissionError extends OpsrailError {
  readonly kind = 'permission' as const;
  readonly retryable = false;
}

export class ThrottlingError extends OpsrailError {
  readonly kind = 'throttling' as const;
  readonly retryable = true;
}

/** A dependency (AWS service, local endpoint, remote API) failed in a way that may pass. */
export class DependencyError extends OpsrailError {
  readonly kind = 'dependency' as const;
  readonly retryable = true;
}

/** The run was already claimed by another delivery of the same tick: not an error of the job. */
export class DuplicateRunError extends OpsrailError {
  readonly kind = 'validation' as const;
  readonly retryable = false;
  constructor(readonly jobRunId: string) {
    super(`run ${jobRunId} was already claimed; this delivery is suppressed`);
  }
}

/** Thrown by a job's own logic to fail the run deliberately with a kind of its choosing. */
export class JobFailedError extends OpsrailError {
  readonly retryable = false;
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function errorKindOf(error: unknown): ErrorKind {
  return error instanceof OpsrailError ? error.kind : 'internal';
}

/** Maps an error name seen by Step Functions (Catch → $.error.Error) back to its kind. */
export function errorKindFromName(name: string): ErrorKind {
  const byName: Record<string, ErrorKind> = {
    ConfigurationError: 'configuration',
    ValidationError: 'validation',
    NotFoundError: 'not_found',
    PermissionError: 'permission',
    ThrottlingError: 'throttling',
    DependencyError: 'dependency',
    'States.Timeout': 'timeout',
    'States.TaskFailed': 'internal',
  };
  return byName[name] ?? 'internal';
}
