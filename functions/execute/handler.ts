import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Context } from 'aws-lambda';
import { ExecuteEvent, type ExecuteResult } from '../../contracts';
import { fromIdempotencyStore, OpsrailError, retryAfterOf, RetryAfterTooLongError } from '../core/errors';
import { parseEvent } from '../core/handler-kit';
import { executeJob } from '../core/run';
import type { Dependencies } from '../adapters/dependencies';
import { lambdaHandler, logged, stepLogger, type StepHandler } from '../adapters/lambda';
import { idempotencyTable } from '../adapters/table-layout';

export function createExecuteHandler(deps: Dependencies): StepHandler<ExecuteResult> {
  const logger = stepLogger(deps, 'execute');
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: deps.env.IDEMPOTENCY_TABLE_NAME,
    keyAttr: idempotencyTable.partitionKey,
    expiryAttr: idempotencyTable.ttlAttribute,
    awsSdkV3Client: deps.dynamodb,
  });
  // Keyed by the run alone: a Lambda that timed out after its side effect, or a retried task, replays
  // the stored result instead of running the job again. A config per call: Powertools keeps the
  // context it is given, and concurrent runs (the local runtime) must not share one.
  const executeOnce = (event: { run: ExecuteEvent['run'] }, context: Context) =>
    makeIdempotent(async (e: { run: ExecuteEvent['run'] }, _context: Context) => executeJob(deps, e.run), {
      persistenceStore,
      config: new IdempotencyConfig({
        eventKeyJmesPath: 'run.jobRunId',
        throwOnNoIdempotencyKey: true,
        expiresAfterSeconds: deps.policy.settings.retention.idempotencyHours * 3600,
      }),
      keyPrefix: 'opsrail.execute',
    })(event, withinLease(context, event.run, deps));
  const { maxDelaySeconds } = deps.policy.settings.retry;
  return async (event, context) => {
    const parsed = parseEvent(ExecuteEvent, event, 'Execute event');
    try {
      return await logged(logger, { jobRunId: parsed.run.jobRunId }, () => executeOnce(parsed, context));
    } catch (error) {
      throw await honourRetryAfter(fromIdempotencyStore(error), maxDelaySeconds, context.getRemainingTimeInMillis());
    }
  };
}

/**
 * Powertools lets the in-progress record expire with the invocation's remaining time; capped here at
 * the run's lease, so the one setting (thresholds.runLeaseSeconds) bounds both: whoever takes over an
 * expired lease never meets a live in-progress record (docs/crash-safety.md).
 */
function withinLease(context: Context, run: ExecuteEvent['run'], deps: Pick<Dependencies, 'clock' | 'policy'>): Context {
  const lease = run.leaseExpiresAt ? Date.parse(run.leaseExpiresAt) : Date.parse(run.claimedAt) + deps.policy.settings.thresholds.runLeaseSeconds * 1000;
  // Powertools skips the expiry for 0 ms: a lease already over still expires at once.
  const remaining = () => Math.max(1, Math.min(context.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY, lease - deps.clock.now().getTime()));
  return Object.assign(Object.create(context) as Context, { getRemainingTimeInMillis: remaining });
}

const SAFETY_MARGIN_MS = 5_000;

/**
 * A dependency's Retry-After is honoured by waiting it out here, before the error reaches Step Functions,
 * whose own jittered backoff then comes on top: the next attempt is never sooner than asked. A wait
 * longer than policy's maximum delay (or than this invocation has left) is not retried at all.
 */
export async function honourRetryAfter(error: unknown, maxDelaySeconds: number, remainingMs: number): Promise<unknown> {
  const seconds = retryAfterOf(error);
  if (seconds === undefined || !(error instanceof OpsrailError) || !error.retryable) return error;
  const waitMs = seconds * 1000;
  if (waitMs > maxDelaySeconds * 1000 || waitMs > remainingMs - SAFETY_MARGIN_MS) {
    return new RetryAfterTooLongError(`dependency asked to retry after ${seconds}s, more than the ${maxDelaySeconds}s policy allows: ${error.message}`, { cause: error });
  }
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  return error;
}

export const handler = lambdaHandler(createExecuteHandler);
