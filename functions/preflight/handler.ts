import { PreflightEvent, type RunContext } from '../../contracts';
import { parseEvent } from '../core/handler-kit';
import { preflight } from '../core/run/preflight';
import type { Dependencies } from '../adapters/dependencies';
import { lambdaHandler, logged, stepLogger, type StepHandler } from '../adapters/lambda';

export function createPreflightHandler(deps: Dependencies): StepHandler<RunContext> {
  const logger = stepLogger(deps, 'preflight');
  return async (event) => {
    const { request, executionId } = parseEvent(PreflightEvent, event, 'Preflight event');
    return logged(
      logger,
      { jobId: request.jobId, scheduledTime: request.scheduledTime, executionId },
      () => preflight(deps, request, executionId),
    );
  };
}

export const handler = lambdaHandler('preflight', createPreflightHandler);
