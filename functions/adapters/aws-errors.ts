import {
  DependencyError,
  NotFoundError,
  PermissionError,
  ThrottlingError,
  ValidationError,
  type OpsrailError,
} from '../core/errors';

const THROTTLING = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'SlowDown',
  'TooManyRequestsException',
  'Throttling',
]);
const PERMISSION = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnrecognizedClientException',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'KMSAccessDeniedException',
]);
const NOT_FOUND = new Set(['ResourceNotFoundException', 'NoSuchBucket']);
/**
 * The request itself was refused (an empty map key, an item too large): repeating it cannot pass.
 */
const INVALID_REQUEST = new Set([
  'ValidationException',
  'SerializationException',
  'InvalidArgument',
  'InvalidRequest',
  'EntityTooLarge',
  'KeyTooLongError',
]);

/**
 * Every SDK error leaves an adapter as one of the typed errors, with the SDK error as its cause.
 */
export function wrapAwsError(operation: string, error: unknown): OpsrailError {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e?.name ?? 'UnknownError';
  const status = e?.$metadata?.httpStatusCode;
  const detail = `${name}${e?.message ? `: ${e.message}` : ''}`;
  const message = `${operation} failed: ${detail}`;
  if (THROTTLING.has(name) || status === 429) return new ThrottlingError(message, { cause: error });
  if (PERMISSION.has(name) || status === 403) return new PermissionError(message, { cause: error });
  if (NOT_FOUND.has(name)) return new NotFoundError(message, { cause: error });
  if (INVALID_REQUEST.has(name))
    return new ValidationError(
      operation,
      [{ path: '', message: `refused the request: ${detail}` }],
      { cause: error },
    );
  return new DependencyError(message, { cause: error });
}
