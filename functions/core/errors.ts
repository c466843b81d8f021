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
};

/**
 * Thrown by a job's own logic to fail the run with a kind of its choosing. Its name is the kind's
 * error name, so the ASL's Retry and Catch treat it exactly like the adapters' typed errors.
 */
export class JobFailedError extends OpsrailError {
  readonly retryable: boolean;
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = NAME_OF_KIND[kind];
    this.retryable = kind === 'throttling' || kind === 'dependency' || kind === 'timeout';
  }
}

export function errorKindOf(error: unknown): ErrorKind {
  return error instanceof OpsrailError ? error.kind : 'internal';
}

/** Maps an error name seen by Step Functions (Catch → $.error.Error) back to its kind. */
export function errorKindFromName(name: string): ErrorKind {
  const kind = (Object.keys(NAME_OF_KIND) as ErrorKind[]).find((k) => NAME_OF_KIND[k] === name);
  if (kind) return kind;
  return name === 'States.Timeout' ? 'timeout' : 'internal';
}
