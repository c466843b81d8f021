import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import { ExecutionInput, type RunSummary } from '../contracts';
import { buildDependencies, type Dependencies } from '../functions/adapters/dependencies';
import type { StepHandler } from '../functions/adapters/lambda';
import { deriveJobRunId } from '../functions/core/ids';
import type { JobImplementation } from '../functions/jobs/types';
import { createExecuteHandler } from '../functions/execute/handler';
import { createFinalizeHandler } from '../functions/finalize/handler';
import { createPreflightHandler } from '../functions/preflight/handler';
import { createRecordFailureHandler } from '../functions/record-failure/handler';
import { jobRunSteps, readJobRunDefinition, substitute, type JobRunStep } from '../statemachines/definition';
import type { HandlerEnv } from '../contracts';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const STATE_MACHINE_NAME = 'opsrail-local-job-run';

const handlerFactories: Record<JobRunStep['functionDir'], (deps: Dependencies) => StepHandler<unknown>> = {
  preflight: createPreflightHandler,
  execute: createExecuteHandler,
  finalize: createFinalizeHandler,
  'record-failure': createRecordFailureHandler,
};

/** The same placeholder map CDK fills with real ARNs, filled with local ones. */
export function localSubstitutions(): Record<string, string> {
  return Object.fromEntries(jobRunSteps.map((s) => [s.placeholder, `arn:aws:lambda:${REGION}:${ACCOUNT}:function:opsrail-local-${s.functionDir}`]));
}

export type ExecutionOutcome =
  | { kind: 'completed'; executionId: string; summary: RunSummary }
  | { kind: 'duplicate_suppressed'; executionId: string; jobRunId: string }
  | { kind: 'failed'; executionId: string; jobRunId: string; error: string; summary: RunSummary | null };

export interface RunOptions {
  /** Milliseconds to wait between retries instead of the ASL's (tests only; the Retry rules still apply). */
  retryPauseMs?: number;
}

/** Lambda's context object, as far as the handlers and Powertools use it. */
function lambdaContext(functionName: string, timeoutSeconds: number): Context {
  const deadline = Date.now() + timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * Runs statemachines/job-run.asl.json with aws-local-stepfunctions, every Task overridden by the real
 * handler module in-process, against the local stack's DynamoDB and S3 through the normal SDK clients.
 */
export class LocalRuntime {
  readonly deps: Dependencies;
  private readonly machine: StateMachine;
  private readonly definition: Record<string, unknown>;
  private readonly handlers: Record<string, StepHandler<unknown>>;

  constructor(env: HandlerEnv, extraJobs: readonly JobImplementation[] = []) {
    this.deps = buildDependencies(env, extraJobs);
    this.definition = JSON.parse(substitute(readJobRunDefinition(), localSubstitutions())) as Record<string, unknown>;
    this.machine = new StateMachine(this.definition as never, { validationOptions: { checkArn: true, checkPaths: true } });
    this.handlers = Object.fromEntries(jobRunSteps.map((s) => [s.state, handlerFactories[s.functionDir](this.deps)]));
  }

  private timeoutOf(state: string): number {
    const states = this.definition.States as Record<string, { TimeoutSeconds?: number }>;
    return states[state]?.TimeoutSeconds ?? 60;
  }

  async run(rawInput: unknown, options: RunOptions = {}): Promise<ExecutionOutcome> {
    const input = ExecutionInput.parse(rawInput);
    const name = randomUUID();
    const executionId = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${STATE_MACHINE_NAME}:${name}`;
    const overrides = Object.fromEntries(
      jobRunSteps.map((s) => [
        s.state,
        (stepInput: unknown) => (this.handlers[s.state] as StepHandler<unknown>)(stepInput, lambdaContext(`opsrail-local-${s.functionDir}`, this.timeoutOf(s.state))) as Promise<never>,
      ]),
    );
    const retryIntervalOverrides =
      options.retryPauseMs === undefined ? undefined : Object.fromEntries(jobRunSteps.map((s) => [s.state, options.retryPauseMs as number]));
    const execution = this.machine.run(input, {
      overrides: { taskResourceLocalHandlers: overrides, ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}) },
      context: {
        Execution: { Id: executionId, Name: name, Input: input, StartTime: new Date().toISOString(), RoleArn: `arn:aws:iam::${ACCOUNT}:role/local` },
        StateMachine: { Id: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${STATE_MACHINE_NAME}`, Name: STATE_MACHINE_NAME },
      },
    });
    const jobRunId = deriveJobRunId(input.jobId, new Date(input.scheduledTime));
    try {
      const output = (await execution.result) as Record<string, unknown>;
      if (output.suppressed) return { kind: 'duplicate_suppressed', executionId, jobRunId };
      return { kind: 'completed', executionId, summary: output as unknown as RunSummary };
    } catch (error) {
      const item = await this.deps.state.getRun(jobRunId).catch(() => undefined);
      const summary = item?.executionId === executionId ? (item.summary ?? null) : null;
      // The Fail state's own error (e.g. JobRunFailed) is the cause of the interpreter's ExecutionError.
      const failure = ((error as Error).cause as Error | undefined) ?? (error as Error);
      return { kind: 'failed', executionId, jobRunId, error: `${failure.name}: ${failure.message}`, summary };
    }
  }
}
