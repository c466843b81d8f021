import { RecordFailureEvent, type RunSummary } from '../../contracts';
import { parseEvent } from '../core/handler-kit';
import { recordFailure } from '../core/run/record-failure';
import type { Dependencies } from '../adapters/dependencies';
import { lambdaHandler, logged, stepLogger, type StepHandler } from '../adapters/lambda';

export function createRecordFailureHandler(deps: Dependencies): StepHandler<RunSummary> {
  const logger = stepLogger(deps, 'record-failure');
  return async (event) => {
    const { state, executionId } = parseEvent(RecordFailureEvent, event, 'RecordFailure event');
    return logged(
      logger,
      { jobId: state.jobId, scheduledTime: state.scheduledTime, error: state.error.Error },
      () => recordFailure(deps, state, executionId),
    );
  };
}

export const handler = lambdaHandler('record-failure', createRecordFailureHandler);
