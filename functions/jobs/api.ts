/**
 * What a job module imports from the `opsrail` package (docs/writing-a-job.md): the helper that
 * defines a job, the typed errors that fail a run (their class decides whether it is retried), and
 * the types of what a job receives and returns. Nothing here reaches AWS or the local stack.
 */
export {
  defineJob,
  isDefinedJob,
  type DefinedJob,
  type JobSpec,
  type ModuleJobContext,
  type ModuleJobResult,
} from './define-job';
export type { JobContext, JobImplementation, JobResult } from './types';
export {
  ConfigurationError,
  DependencyError,
  errorForHttpStatus,
  JobFailedError,
  NotFoundError,
  OpsrailError,
  PermissionError,
  ThrottlingError,
  ValidationError,
} from '../core/errors';
export type {
  Diagnostic,
  IntegrityReport,
  JobOutput,
  LambdaJobAnswer,
  LambdaJobRequest,
  Quality,
  RunContext,
} from '../../contracts';
export {
  LambdaJobAnswer as LambdaJobAnswerSchema,
  LambdaJobRequest as LambdaJobRequestSchema,
  LAMBDA_JOB_CONTRACT_VERSION,
} from '../../contracts';
export { jobTestContext } from './testing';
