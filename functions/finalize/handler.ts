import { FinalizeEvent, type RunSummary } from '../../contracts';
import { parseEvent } from '../core/handler-kit';
import { finalizeRun } from '../core/run/finalize';
import type { Dependencies } from '../adapters/dependencies';
import { lambdaHandler, logged, stepLogger, type StepHandler } from '../adapters/lambda';

export function createFinalizeHandler(deps: Dependencies): StepHandler<RunSummary> {
  const logger = stepLogger(deps, 'finalize');
  return async (event) => {
    const { run, result } = parseEvent(FinalizeEvent, event, 'Finalize event');
    return logged(
      logger,
      { jobRunId: run.jobRunId, status: result.status, quality: result.quality },
      () => finalizeRun(deps, run, result),
    );
  };
}

export const handler = lambdaHandler('finalize', createFinalizeHandler);
