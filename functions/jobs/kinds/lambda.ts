import {
  LAMBDA_JOB_CONTRACT_VERSION,
  LambdaJobAnswer,
  type JobDefinition,
  type LambdaImplementation,
} from '../../../contracts';
import { errorKindFromName, JobFailedError, ValidationError } from '../../core/errors';
import type { JobImplementation, JobResult } from '../types';
import type { FunctionInvoker } from './ports';

/**
 * The error a failed function's `errorType` stands for: opsrail's own names keep their class (a
 * function may throw ThrottlingError or ValidationError by name); a Lambda timeout is a timeout;
 * anything else is a failed dependency, retried within policy (docs/writing-a-job.md#lambda-jobs).
 */
export function errorOfFunction(
  functionArn: string,
  payload: unknown,
  functionError: string,
): JobFailedError {
  const { errorType, errorMessage } = (payload ?? {}) as {
    errorType?: string;
    errorMessage?: string;
  };
  const message = `function ${functionArn} failed (${functionError}): ${errorType ?? 'Error'}: ${errorMessage ?? 'no message'}`;
  if (errorType === 'Sandbox.Timedout' || /Task timed out/.test(errorMessage ?? ''))
    return new JobFailedError('timeout', message);
  const kind = errorType ? errorKindFromName(errorType) : 'internal';
  return new JobFailedError(kind === 'internal' ? 'dependency' : kind, message);
}

/**
 * A job that is an existing Lambda function: invoked with the pinned run context and the run's id
 * as its idempotency key (contracts/lambda-job.ts); its answer must match the published
 * LambdaJobAnswer.
 */
export function lambdaJob(
  job: Pick<JobDefinition, 'jobId'>,
  spec: LambdaImplementation,
  invoker: FunctionInvoker,
): JobImplementation {
  return {
    jobId: job.jobId,
    async run(context): Promise<JobResult> {
      const answer = await invoker.invoke(job.jobId, spec.functionArn, {
        contractVersion: LAMBDA_JOB_CONTRACT_VERSION,
        idempotencyKey: context.run.jobRunId,
        run: context.run,
      });
      if (answer.functionError)
        throw errorOfFunction(spec.functionArn, answer.payload, answer.functionError);
      const parsed = LambdaJobAnswer.safeParse(answer.payload);
      if (!parsed.success) {
        throw new ValidationError(
          `answer of ${spec.functionArn}`,
          parsed.error.issues.map((i) => ({
            path: i.path.map(String).join('.'),
            message: i.message,
          })),
        );
      }
      return { ...parsed.data, integrityReport: null };
    },
  };
}
