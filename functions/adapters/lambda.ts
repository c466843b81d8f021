import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import type { FunctionDir } from '../../contracts';
import type { JobImplementation } from '../jobs/types';
import { buildDependencies, parseFunctionEnv, type Dependencies } from './dependencies';

export type StepHandler<R> = (event: unknown, context: Context) => Promise<R>;

export interface StepLogger {
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
}

/** One structured (Powertools) logger per function; every line passes the redactor first. */
export function stepLogger(deps: Dependencies, step: string): StepLogger {
  const logger = new Logger({
    serviceName: deps.env.POWERTOOLS_SERVICE_NAME,
    logLevel: deps.env.POWERTOOLS_LOG_LEVEL,
    persistentKeys: { step, stage: deps.env.OPSRAIL_STAGE },
  });
  const { redactor } = deps;
  return {
    info: (message, attributes = {}) =>
      logger.info(redactor.text(message), redactor.value(attributes)),
    warn: (message, attributes = {}) =>
      logger.warn(redactor.text(message), redactor.value(attributes)),
  };
}

/**
 * The exported Lambda handler of functions/<dir>: parses that function's environment once, at the
 * first invocation, then reuses it. A function that runs or plans jobs passes the built-in jobs
 * (functions/jobs/registry.ts); the others do not bundle them.
 */
export function lambdaHandler<R>(
  dir: FunctionDir,
  create: (deps: Dependencies) => StepHandler<R>,
  builtinJobs?: readonly JobImplementation[],
): StepHandler<R> {
  let handler: StepHandler<R> | undefined;
  // async: a bad environment rejects the invocation's promise (reported by name), as any step error
  // does.
  return async (event, context) => {
    handler ??= create(
      buildDependencies(parseFunctionEnv(dir, process.env), [], builtinJobs ? { builtinJobs } : {}),
    );
    return handler(event, context);
  };
}

/**
 * Logs a step's failure with its typed name and rethrows it unchanged: Step Functions matches on
 * the name.
 */
export async function logged<R>(
  logger: StepLogger,
  what: Record<string, unknown>,
  fn: () => Promise<R>,
): Promise<R> {
  try {
    const result = await fn();
    logger.info('step completed', what);
    return result;
  } catch (error) {
    logger.warn('step failed', {
      ...what,
      errorName: (error as Error).name,
      errorMessage: (error as Error).message,
    });
    throw error;
  }
}
