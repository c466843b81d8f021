import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Context } from 'aws-lambda';
import { ExecuteEvent, type ExecuteResult } from '../../contracts';
import { OpsrailError, retryAfterOf, RetryAfterTooLongError } from '../core/errors';
import { parseEvent } from '../core/handler-kit';
import { executeJob } from '../core/run';
import type { Dependencies } from '../adapters/dependencies';
import { lambdaHandler, logged, stepLogger, type StepHandler } from '../adapters/lambda';
import { idempotencyTable } from '../adapters/table-layout';
import { FUNCTION_TIMEOUT_MARGIN_SECONDS } from '../../statemachines/timeouts';

export function createExecuteHandler(deps: Dependencies): StepHandler<ExecuteResult> {
  const logger = stepLogger(deps, 'execute');
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: deps.env.IDEMPOTENCY_TABLE_NAME,
    keyAttr: idempotencyTable.partitionKey,
    expiryAttr: idempotencyTable.ttlAttribute,
    awsSdkV3Client: deps.dynamodb,
  });
  // Keyed by the run alone: a Lambda that timed out after its side effect, or a retried task, replays
  // the stored result instead of running the job again.
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'run.jobRunId',
    throwOnNoIdempotencyKey: true,
    expiresAfterSeconds: deps.policy.settings.retention.idempotencyHours * 3600,
  });
  const execute = makeIdempotent(async (event: { run: ExecuteEvent['run'] }, _context: Context) => executeJob(deps, event.run), {
    persistenceStore,
    config,
    keyPrefix: 'opsrail.execute',
  });
  const { maxDelaySeconds } = deps.policy.settings.retry;
  return async (event, context) => {
    const parsed = parseEvent(ExecuteEvent, event, 'Execute event');
    try {
      return await logged(logger, { jobRunId: parsed.run.jobRunId }, () => execute(parsed, context));
    } catch (error) {
      // The state's budget ends FUNCTION_TIMEOUT_MARGIN_SECONDS before the function's own timeout.
      const stateRemainingMs = context.getRemainingTimeInMillis() - FUNCTION_TIMEOUT_MARGIN_SECONDS * 1000;
      throw await honourRetryAfter(error, maxDelaySeconds, stateRemainingMs);
    }
  };
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
