import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Context } from 'aws-lambda';
import { ExecuteEvent, type ExecuteResult } from '../../contracts';
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
  return async (event, context) => {
    const parsed = parseEvent(ExecuteEvent, event, 'Execute event');
    return logged(logger, { jobRunId: parsed.run.jobRunId }, () => execute(parsed, context));
  };
}

export const handler = lambdaHandler(createExecuteHandler);
