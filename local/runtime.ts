import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { ExecutionAbortedError, StateMachine } from 'aws-local-stepfunctions';
import { ExecutionInput, type HandlerEnv, type RunSummary, type StagePolicy } from '../contracts';
import { buildDependencies, type Dependencies } from '../functions/adapters/dependencies';
import type { StepHandler } from '../functions/adapters/lambda';
import type { Clock } from '../functions/core/clock';
import { createExecutionEndedHandler } from '../functions/execution-ended/handler';
import { deriveRunIdentity } from '../functions/core/run';
import { createExecuteHandler } from '../functions/execute/handler';
import { createFinalizeHandler } from '../functions/finalize/handler';
import { createPreflightHandler } from '../functions/preflight/handler';
import { createRecordFailureHandler } from '../functions/record-failure/handler';
import { createRequestApprovalHandler } from '../functions/request-approval/handler';
import type { JobImplementation } from '../functions/jobs/types';
import { isLocalHolderAlive, localExecutionName } from './holders';
import { jobRunSteps, jobRunSubstitutions, readJobRunDefinition, substitute, type JobRunStep } from '../statemachines/definition';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const STATE_MACHINE_NAME = 'opsrail-local-job-run';
const STATE_MACHINE_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${STATE_MACHINE_NAME}`;

const handlerFactories: Record<JobRunStep['functionDir'], (deps: Dependencies) => StepHandler<unknown>> = {
  preflight: createPreflightHandler,
  execute: createExecuteHandler,
  finalize: createFinalizeHandler,
  'record-failure': createRecordFailureHandler,
  'request-approval': createRequestApprovalHandler,
};

/** The same placeholder map CDK fills with real ARNs, filled with local ones. */
export function localSubstitutions(policy: Pick<StagePolicy, 'retry' | 'approvals'>): Record<string, string> {
  return jobRunSubstitutions(policy, (step) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:opsrail-local-${step.functionDir}`);
}

const APPROVAL_POLL_MS = 250;

class ApprovalRejected extends Error {
  override name = 'ApprovalRejected';
}

export type ExecutionOutcome =
  | { kind: 'completed'; executionId: string; jobRunId: string; summary: RunSummary }
  | { kind: 'refused'; executionId: string; jobRunId: string; summary: RunSummary }
  | { kind: 'duplicate_suppressed'; executionId: string; jobRunId: string }
  | { kind: 'stopped'; executionId: string; jobRunId: string; summary: RunSummary | null }
  | { kind: 'failed'; executionId: string; jobRunId: string; error: string; summary: RunSummary | null };

export interface RunOptions {
  /** Milliseconds to wait between retries instead of the ASL's (tests only; the Retry rules still apply). */
  retryPauseMs?: number;
}

export interface RuntimeOptions {
  clock?: Clock;
  /** Told when a run waits at the approval gate (the CLI prints the link). */
  onApprovalRequested?: (request: { executionId: string; approvalId: string; link: string }) => void;
  /** How often running executions check the kill-switches (ms). */
  killSwitchPollMs?: number;
  /** Take over a run whose holder process is gone at once, not after its lease (the scheduler, `run --resume`). */
  takeOverDeadHolders?: boolean;
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

interface Running {
  jobId: string;
  startedAt: number;
  abort: () => void;
}

/**
 * Runs statemachines/job-run.asl.json with aws-local-stepfunctions, every Task overridden by the real
 * handler module in-process, against the local stack's DynamoDB and S3 through the normal SDK clients.
 * Like StopExecution in AWS, an engaged kill-switch aborts running executions; the ExecutionEnded
 * handler then evidences them, as the EventBridge rule does in AWS.
 */
export class LocalRuntime {
  readonly deps: Dependencies;
  private readonly machine: StateMachine;
  private readonly definition: Record<string, unknown>;
  private readonly handlers: Record<string, StepHandler<unknown>>;
  private readonly executionEnded: StepHandler<unknown>;
  private readonly running = new Map<string, Running>();
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    env: HandlerEnv,
    extraJobs: readonly JobImplementation[] = [],
    private readonly options: RuntimeOptions = {},
  ) {
    const built = buildDependencies(env, extraJobs, options.clock ? { clock: options.clock } : {});
    this.deps = options.takeOverDeadHolders ? { ...built, isHolderAlive: isLocalHolderAlive } : built;
    this.definition = JSON.parse(substitute(readJobRunDefinition(), localSubstitutions(this.deps.policy.settings))) as Record<string, unknown>;
    this.machine = new StateMachine(this.definition as never, { validationOptions: { checkArn: true, checkPaths: true } });
    this.handlers = Object.fromEntries(jobRunSteps.map((s) => [s.state, handlerFactories[s.functionDir](this.deps)]));
    this.executionEnded = createExecutionEndedHandler(this.deps);
  }

  /** The executable definition (placeholders filled), as the interpreter runs it. */
  get substitutedDefinition(): Record<string, unknown> {
    return this.definition;
  }

  private timeoutOf(state: string): number {
    const states = this.definition.States as Record<string, { TimeoutSeconds?: number }>;
    return states[state]?.TimeoutSeconds ?? 60;
  }

  /** Aborts running executions of a job (or all of them) started before `before`: the local StopExecution. */
  stopRunning(jobId: string | null, before: number = Number.POSITIVE_INFINITY): string[] {
    const stopped: string[] = [];
    for (const [executionId, running] of this.running) {
      if ((jobId === null || running.jobId === jobId) && running.startedAt < before) {
        running.abort();
        stopped.push(executionId);
      }
    }
    return stopped;
  }

  private async checkKillSwitches(): Promise<void> {
    const controls = await this.deps.state.getControls();
    // Only executions already running when the switch was engaged are stopped; later ones are refused by Preflight.
    if (controls.globalKillSwitch?.engaged) this.stopRunning(null, Date.parse(controls.globalKillSwitch.changedAt));
    for (const [jobId, ks] of Object.entries(controls.jobKillSwitches)) if (ks.engaged) this.stopRunning(jobId, Date.parse(ks.changedAt));
  }

  private track(executionId: string, running: Running): void {
    this.running.set(executionId, running);
    this.watchdog ??= setInterval(() => void this.checkKillSwitches().catch(() => undefined), this.options.killSwitchPollMs ?? 1000);
  }

  private untrack(executionId: string): void {
    this.running.delete(executionId);
    if (this.running.size === 0 && this.watchdog) {
      clearInterval(this.watchdog);
      this.watchdog = undefined;
    }
  }

  async run(rawInput: unknown, options: RunOptions = {}): Promise<ExecutionOutcome> {
    const input = ExecutionInput.parse(rawInput);
    // The name carries this process's identity, so a later process can tell when its holder is gone.
    const name = localExecutionName(randomUUID());
    const executionId = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${STATE_MACHINE_NAME}:${name}`;
    const overrides = Object.fromEntries(
      jobRunSteps.map((s) => [
        s.state,
        (stepInput: unknown) => (this.handlers[s.state] as StepHandler<unknown>)(stepInput, lambdaContext(`opsrail-local-${s.functionDir}`, this.timeoutOf(s.state))) as Promise<never>,
      ]),
    );
    // RecordRefusal runs the RecordFailure function, as its Resource says.
    overrides.RecordRefusal = overrides.RecordFailure as (typeof overrides)[string];
    // lambda:invoke.waitForTaskToken: invoke the function with the Payload, then wait for the decision,
    // which the approval endpoint writes to the approval record (SendTask* in AWS).
    overrides.RequestApproval = (async (stepInput: { Payload: unknown }) => {
      const context = lambdaContext('opsrail-local-request-approval', 60);
      const { approvalId, link } = (await (this.handlers.RequestApproval as StepHandler<{ approvalId: string; link: string }>)(stepInput.Payload, context));
      this.options.onApprovalRequested?.({ executionId, approvalId, link });
      return this.waitForDecision(executionId, approvalId);
    }) as never;
    const retryIntervalOverrides = options.retryPauseMs === undefined ? undefined : Object.fromEntries(jobRunSteps.map((s) => [s.state, options.retryPauseMs as number]));
    const execution = this.machine.run(input, {
      overrides: { taskResourceLocalHandlers: overrides, ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}) },
      context: {
        Execution: { Id: executionId, Name: name, Input: input, StartTime: new Date().toISOString(), RoleArn: `arn:aws:iam::${ACCOUNT}:role/local` },
        // The interpreter does not make task tokens: one per execution is enough (one gate per run).
        Task: { Token: `local-task-token-${randomUUID()}` },
        StateMachine: { Id: STATE_MACHINE_ARN, Name: STATE_MACHINE_NAME },
      },
    });
    this.track(executionId, { jobId: input.jobId, startedAt: Date.now(), abort: () => execution.abort() });
    try {
      const output = (await execution.result) as Record<string, unknown>;
      const jobRunId = (output.run as { jobRunId?: string } | undefined)?.jobRunId;
      if (output.suppressed) return { kind: 'duplicate_suppressed', executionId, jobRunId: this.jobRunIdOf(input, jobRunId) };
      if (output.refusal) {
        const summary = output.refusal as RunSummary;
        return { kind: 'refused', executionId, jobRunId: summary.jobRunId, summary };
      }
      const summary = output as unknown as RunSummary;
      return { kind: 'completed', executionId, jobRunId: summary.jobRunId, summary };
    } catch (error) {
      const jobRunId = this.jobRunIdOf(input);
      if (error instanceof ExecutionAbortedError) {
        const summary = (await this.executionEnded(
          { 'detail-type': 'Step Functions Execution Status Change', source: 'aws.states', detail: { executionArn: executionId, stateMachineArn: STATE_MACHINE_ARN, status: 'ABORTED', input: JSON.stringify(input), cause: 'stopped: kill-switch engaged' } },
          lambdaContext('opsrail-local-execution-ended', 300),
        ).catch(() => null)) as RunSummary | null;
        return { kind: 'stopped', executionId, jobRunId: summary?.jobRunId ?? jobRunId, summary };
      }
      const item = await this.deps.state.getRun(jobRunId).catch(() => undefined);
      const summary = item?.executionId === executionId ? (item.summary ?? null) : null;
      // The Fail state's own error (e.g. JobRunFailed) is the cause of the interpreter's ExecutionError.
      const failure = ((error as Error).cause as Error | undefined) ?? (error as Error);
      return { kind: 'failed', executionId, jobRunId, error: `${failure.name}: ${failure.message}`, summary };
    } finally {
      this.untrack(executionId);
    }
  }

  /** Polls the approval record until a human decided, or until the execution stopped waiting. */
  private async waitForDecision(executionId: string, approvalId: string): Promise<Record<string, unknown>> {
    while (this.running.has(executionId)) {
      const record = (await this.deps.approvals.getApproval(approvalId))?.record;
      if (record?.status === 'APPROVED') return { approvalId, decidedBy: record.decidedBy, decidedAt: record.decidedAt };
      if (record?.status === 'REJECTED') throw new ApprovalRejected(`rejected by ${record.decidedBy}${record.reason ? `: ${record.reason}` : ''}`);
      if (record?.status === 'EXPIRED' || (record && Date.now() > Date.parse(record.expiresAt) + 60_000)) break;
      await new Promise((resolve) => setTimeout(resolve, APPROVAL_POLL_MS));
    }
    return new Promise(() => undefined); // the interpreter's TimeoutSeconds (or an abort) ends the wait
  }

  /** The run id the input maps to (derived by the same pinning as Preflight, so windows are respected). */
  private jobRunIdOf(input: ExecutionInput, known?: string): string {
    return known ?? deriveRunIdentity(this.deps.policy, input).jobRunId;
  }
}
