import { ExecutionStatusChangeEvent, type RunSummary } from '../../contracts';
import { errorNameOf } from '../core/errors';
import { parseEvent } from '../core/handler-kit';
import { recordFailure } from '../core/run/record-failure';
import type { Dependencies } from '../adapters/dependencies';
import { lambdaHandler, logged, stepLogger, type StepHandler } from '../adapters/lambda';

const ERROR_OF_STATUS = {
  ABORTED: errorNameOf('stopped'),
  TIMED_OUT: 'States.Timeout',
  FAILED: 'ExecutionFailed',
} as const;

export function createExecutionEndedHandler(deps: Dependencies): StepHandler<RunSummary | null> {
  const logger = stepLogger(deps, 'execution-ended');
  return async (event) => {
    // detail.input is parsed by the contract: text that is not an opsrail ExecutionInput is a
    // ValidationError.
    const { detail } = parseEvent(ExecutionStatusChangeEvent, event, 'ExecutionEnded event');
    const input = detail.input;
    if (!input) {
      logger.warn('ended execution carried no input; nothing to record', {
        executionArn: detail.executionArn,
      });
      return null;
    }
    const error = {
      Error: ERROR_OF_STATUS[detail.status],
      Cause: detail.cause ?? `execution ${detail.status.toLowerCase()}`,
    };
    // Idempotent: a run already finalized (e.g. FAILED after RecordFailure) keeps its summary.
    return logged(
      logger,
      { jobId: input.jobId, executionArn: detail.executionArn, status: detail.status },
      () => recordFailure(deps, { ...input, error }, detail.executionArn),
    );
  };
}

export const handler = lambdaHandler('execution-ended', createExecutionEndedHandler);
