import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Context } from 'aws-lambda';
import { ExecuteEvent, type ExecuteResult } from '../../contracts';
import {
  fromIdempotencyStore,
  OpsrailError,
  retryAfterOf,
  RetryAfterTooLongError,
} from '../core/errors';
import { parseEvent } from '../core/handler-kit';
import { executeJob } from '../core/run/execute';
import type { Dependencies } from '../adapters/dependencies';
import { lambdaHandler, logged, stepLogger, type StepHandler } from '../adapters/lambda';
import { builtinJobs } from '../jobs/registry';
import { idempotencyTable } from '../adapters/table-layout';
import { FUNCTION_TIMEOUT_MARGIN_SECONDS } from '../../statemachines/timeouts';

export function createExecuteHandler(deps: Dependencies): StepHandler<ExecuteResult> {
  const logger = stepLogger(deps, 'execute');
  const persistenceStore =
    deps.idempotencyPersistence?.() ??
    new DynamoDBPersistenceLayer({
      tableName: deps.env.IDEMPOTENCY_TABLE_NAME,
      keyAttr: idempotencyTable.partitionKey,
      expiryAttr: idempotencyTable.ttlAttribute,
      awsSdkV3Client: deps.dynamodb,
    });
  // Keyed by the run alone: a Lambda that timed out after its side effect, or a retried task,
  // replays the stored result instead of running the job again. A config per call: Powertools keeps
  // the context it is given, and concurrent runs (the local runtime) must not share one.
  const executeOnce = (
    event: { run: ExecuteEvent['run'] },
    context: Context,
    attempt: AttemptRecord,
  ) =>
    makeIdempotent(
      async (e: { run: ExecuteEvent['run'] }, _context: Context) => {
        try {
          attempt.returned = await executeJob(deps, e.run);
          return attempt.returned;
        } catch (error) {
          attempt.threw = { error };
          throw error;
        }
      },
      {
        persistenceStore,
        config: new IdempotencyConfig({
          eventKeyJmesPath: 'run.jobRunId',
          throwOnNoIdempotencyKey: true,
          expiresAfterSeconds: deps.policy.settings.retention.idempotencyHours * 3600,
        }),
        keyPrefix: 'opsrail.execute',
      },
    )(event, withinLease(context, event.run, deps));
  const { maxDelaySeconds } = deps.policy.settings.retry;
  return async (event, context) => {
    const parsed = parseEvent(ExecuteEvent, event, 'Execute event');
    try {
      const attempt: AttemptRecord = {};
      return await logged(logger, { jobRunId: parsed.run.jobRunId }, () =>
        executeOnce(parsed, context, attempt).catch((e: unknown) =>
          afterIdempotencyFailure(e, attempt, parsed),
        ),
      );
    } catch (error) {
      // The state's budget ends FUNCTION_TIMEOUT_MARGIN_SECONDS before the function's own timeout.
      const stateRemainingMs =
        context.getRemainingTimeInMillis() - FUNCTION_TIMEOUT_MARGIN_SECONDS * 1000;
      throw await honourRetryAfter(fromIdempotencyStore(error), maxDelaySeconds, stateRemainingMs);
    }
  };

  /**
   * Powertools failed to write its record after the job's logic ended. If the job returned, its
   * effect happened: the result goes on, with a diagnostic (the record expires with the lease). If
   * the job threw, its in-progress record must go, or every retry would meet it until the lease
   * ends.
   */
  async function afterIdempotencyFailure(
    error: unknown,
    attempt: AttemptRecord,
    event: { run: ExecuteEvent['run'] },
  ): Promise<ExecuteResult> {
    if (fromIdempotencyStore(error) === error) throw error;
    if (attempt.returned) {
      const message = `the idempotency record could not be completed: ${(error as Error).message}`;
      logger.warn('job completed; idempotency record not completed', {
        jobRunId: event.run.jobRunId,
        errorMessage: message,
      });
      return {
        ...attempt.returned,
        diagnostics: [
          ...attempt.returned.diagnostics,
          { level: 'warning', code: 'bookkeeping_failed', message },
        ],
      };
    }
    if (attempt.threw) {
      for (let tries = 0; tries < DELETE_TRIES; tries++) {
        try {
          await persistenceStore.deleteRecord(event);
          break;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** tries));
        }
      }
      throw attempt.threw.error;
    }
    throw error;
  }
}

/**
 * Powertools lets the in-progress record expire with the invocation's remaining time; capped here
 * at the run's lease, so the one setting (thresholds.runLeaseSeconds) bounds both: whoever takes
 * over an expired lease never meets a live in-progress record (docs/crash-safety.md).
 */
function withinLease(
  context: Context,
  run: ExecuteEvent['run'],
  deps: Pick<Dependencies, 'clock' | 'policy'>,
): Context {
  const lease = run.leaseExpiresAt
    ? Date.parse(run.leaseExpiresAt)
    : Date.parse(run.claimedAt) + deps.policy.settings.thresholds.runLeaseSeconds * 1000;
  // Powertools skips the expiry for 0 ms: a lease already over still expires at once.
  const remaining = () =>
    Math.max(
      1,
      Math.min(
        context.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY,
        lease - deps.clock.now().getTime(),
      ),
    );
  return Object.assign(Object.create(context) as Context, { getRemainingTimeInMillis: remaining });
}

const SAFETY_MARGIN_MS = 5_000;
/** Tries to remove a failed attempt's in-progress record after Powertools' own try failed. */
const DELETE_TRIES = 4;

/**
 * What the job's logic did inside Powertools, kept for when Powertools' own writes fail after it.
 */
interface AttemptRecord {
  returned?: ExecuteResult;
  threw?: { error: unknown };
}

/**
 * A dependency's Retry-After is honoured by waiting it out here, before the error reaches Step
 * Functions, whose own jittered backoff then comes on top: the next attempt is never sooner than
 * asked. A wait longer than policy's maximum delay (or than this invocation has left) is not
 * retried at all.
 */
export async function honourRetryAfter(
  error: unknown,
  maxDelaySeconds: number,
  remainingMs: number,
): Promise<unknown> {
  const seconds = retryAfterOf(error);
  if (seconds === undefined || !(error instanceof OpsrailError) || !error.retryable) return error;
  const waitMs = seconds * 1000;
  if (waitMs > maxDelaySeconds * 1000 || waitMs > remainingMs - SAFETY_MARGIN_MS) {
    return new RetryAfterTooLongError(
      `dependency asked to retry after ${seconds}s, more than the ${maxDelaySeconds}s policy allows: ${error.message}`,
      { cause: error },
    );
  }
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  return error;
}

export const handler = lambdaHandler('execute', createExecuteHandler, builtinJobs);
