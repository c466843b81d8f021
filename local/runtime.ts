import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ExecutionAbortedError, StateMachine } from 'aws-local-stepfunctions';
import {
  ExecutionInput,
  functionDirs,
  HandlerEnv,
  type RunSummary,
  type StagePolicy,
  stageResourceNames,
} from '../contracts';
import {
  buildDependencies,
  parseFunctionEnv,
  type Dependencies,
} from '../functions/adapters/dependencies';
import { builtinJobs } from '../functions/jobs/registry';
import type { StepHandler } from '../functions/adapters/lambda';
import type { Clock } from '../functions/core/clock';
import { ConfigurationError } from '../functions/core/errors';
import type { NotificationLedger } from '../functions/core/notification-chain';
import { createExecutionEndedHandler } from '../functions/execution-ended/handler';
import { deriveRunIdentity } from '../functions/core/run/dependencies';
import { parseEvent } from '../functions/core/handler-kit';
import { createExecuteHandler } from '../functions/execute/handler';
import { createFinalizeHandler } from '../functions/finalize/handler';
import { createPreflightHandler } from '../functions/preflight/handler';
import { createRecordFailureHandler } from '../functions/record-failure/handler';
import { createRequestApprovalHandler } from '../functions/request-approval/handler';
import type { JobImplementation } from '../functions/jobs/types';
import {
  jobRunFunctionTimeouts,
  jobRunSteps,
  jobRunSubstitutions,
  readJobRunDefinition,
  substitute,
  type JobRunStep,
} from '../statemachines/definition';
import { FIXED_FUNCTION_TIMEOUT_SECONDS, stateTimeoutsOf } from '../statemachines/timeouts';
import { buildBundle, loadBundle } from './bundles';
import { invokeLikeLambda } from './lambda-invoke';
import { LambdaInvocationError } from './errors';
import { opsrailHome } from './stack';
import { isLocalHolderAlive, localExecutionName } from './holders';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const STATE_MACHINE_NAME = 'opsrail-local-job-run';
const STATE_MACHINE_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${STATE_MACHINE_NAME}`;

const handlerFactories: Record<
  JobRunStep['functionDir'],
  (deps: Dependencies) => StepHandler<unknown>
> = {
  preflight: createPreflightHandler,
  execute: createExecuteHandler,
  finalize: createFinalizeHandler,
  'record-failure': createRecordFailureHandler,
  'request-approval': createRequestApprovalHandler,
};

/** The same placeholder map CDK fills with real ARNs, filled with local ones. */
export function localSubstitutions(
  policy: Pick<StagePolicy, 'retry' | 'approvals' | 'scheduler'>,
): Record<string, string> {
  return jobRunSubstitutions(
    policy,
    (step) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:opsrail-local-${step.functionDir}`,
  );
}

const APPROVAL_POLL_MS = 250;

class ApprovalRejected extends Error {
  override name = 'ApprovalRejected';
}

export type ExecutionOutcome =
  /**
   * `recoveredFrom`: the step error RecordFailure caught before it recorded the run as succeeded.
   */
  | {
      kind: 'completed';
      executionId: string;
      jobRunId: string;
      summary: RunSummary;
      recoveredFrom?: { Error: string; Cause?: string };
    }
  | { kind: 'refused'; executionId: string; jobRunId: string; summary: RunSummary }
  | { kind: 'duplicate_suppressed'; executionId: string; jobRunId: string }
  /** Another window's run of the job was open (overlap): not run (docs/scheduling.md#overlap). */
  | { kind: 'tick_skipped'; executionId: string; jobRunId: string; openRunId: string | null }
  | { kind: 'stopped'; executionId: string; jobRunId: string; summary: RunSummary | null }
  | {
      kind: 'failed';
      executionId: string;
      jobRunId: string;
      error: string;
      summary: RunSummary | null;
    };

export interface RunOptions {
  /**
   * Milliseconds to wait between retries instead of the ASL's (tests only; the Retry rules still
   * apply).
   */
  retryPauseMs?: number;
}

export interface RuntimeOptions {
  clock?: Clock;
  /** Told when a run waits at the approval gate (the CLI prints the link). */
  onApprovalRequested?: (request: {
    executionId: string;
    approvalId: string;
    link: string;
  }) => void;
  /** How often running executions check the kill-switches (ms). */
  killSwitchPollMs?: number;
  /**
   * `source` runs the handlers' TypeScript in-process; `bundled` builds the shipped bundles (the
   * options of infra/bundling.ts) and runs those. Default: $OPSRAIL_HANDLERS, else `source`.
   */
  handlers?: HandlerSource;
  /**
   * Where bundled mode keeps its bundles (rebuilt when a source changes). Default:
   * $OPSRAIL_HOME/bundles.
   */
  bundleDir?: string;
  /**
   * Tests only: other TimeoutSeconds for some states; the function timeouts follow
   * (statemachines/timeouts.ts).
   */
  stateTimeoutSeconds?: Record<string, number>;
  /**
   * Tests only: other function timeouts, e.g. shorter than the state's, to see what AWS would
   * report.
   */
  functionTimeoutSeconds?: Partial<Record<StepFunctionDir, number>>;
  /**
   * Take over a run whose holder process is gone at once, not after its lease (the scheduler,
   * `run --resume`).
   */
  takeOverDeadHolders?: boolean;
  /**
   * Tests only: the stores to run on instead of the env's DynamoDB and S3 (the in-memory ports,
   * with the adapters' semantics: functions/adapters/memory-*.ts), so rule-level tests need no
   * local services.
   */
  ports?: Pick<Dependencies, 'state' | 'approvals' | 'evidence'> &
    Partial<Pick<Dependencies, 'metrics'>> & { notificationLedger?: NotificationLedger } & Required<
      Pick<Dependencies, 'idempotencyPersistence'>
    >;
  /**
   * Tests and benches only: the evidence store to use instead of the stage's bucket through its own
   * lazily loaded client, e.g. an S3EvidenceStore over a client whose requests they watch.
   */
  evidence?: Dependencies['evidence'];
}

export type HandlerSource = 'source' | 'bundled';
type StepFunctionDir = JobRunStep['functionDir'] | 'execution-ended';

/** $OPSRAIL_HANDLERS: which handlers the local runtime runs. */
export function handlerSourceFromEnv(value = process.env.OPSRAIL_HANDLERS): HandlerSource {
  if (value === undefined || value === '' || value === 'source') return 'source';
  if (value === 'bundled') return 'bundled';
  throw new ConfigurationError(`OPSRAIL_HANDLERS must be 'source' or 'bundled', not '${value}'`);
}

/**
 * A shipped bundle's exported `handler`. It reads its environment from process.env at its first
 * invocation (functions/adapters/lambda.ts), so that first call sees exactly this stack's
 * variables.
 */
function bundledHandler(bundlePath: string, env: HandlerEnv): StepHandler<unknown> {
  const handler = loadBundle<{ handler: StepHandler<unknown> }>(bundlePath).handler;
  let primed = false;
  const keys = Object.keys(HandlerEnv.shape);
  return (event, context) => {
    if (primed) return handler(event, context);
    const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
    for (const key of keys) {
      const value = (env as Record<string, string | undefined>)[key];
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    try {
      primed = true;
      return handler(event, context);
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  };
}

/**
 * One function's current sandbox: bundled handlers get a fresh one after a crash or a timeout, as
 * in Lambda.
 */
interface Sandbox {
  functionName: string;
  timeoutSeconds: number;
  /** Made at the first invocation (bundled mode builds the bundle then, if its sources changed). */
  handler: StepHandler<unknown> | undefined;
  fresh: () => StepHandler<unknown>;
}

interface Running {
  jobId: string;
  startedAt: number;
  abort: () => void;
}

/**
 * Runs statemachines/job-run.asl.json with aws-local-stepfunctions, every Task overridden by the
 * real handler module in-process, against the local stack's DynamoDB and S3 through the normal SDK
 * clients. Like StopExecution in AWS, an engaged kill-switch aborts running executions; the
 * ExecutionEnded handler then evidences them, as the EventBridge rule does in AWS.
 */
export class LocalRuntime {
  readonly deps: Dependencies;
  private readonly machine: StateMachine;
  private readonly definition: Record<string, unknown>;
  private readonly sandboxes: Record<StepFunctionDir, Sandbox>;
  /** The names of the job functions the Execute state may invoke: one per job of the policy. */
  private readonly jobFunctions: ReadonlySet<string>;
  private readonly running = new Map<string, Running>();
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    env: HandlerEnv,
    extraJobs: readonly JobImplementation[] = [],
    private readonly options: RuntimeOptions = {},
  ) {
    const source = options.handlers ?? handlerSourceFromEnv();
    if (
      source === 'bundled' &&
      (extraJobs.length > 0 || options.clock || options.ports || options.evidence)
    ) {
      throw new ConfigurationError(
        'OPSRAIL_HANDLERS=bundled runs the shipped bundles: they hold only the built-in jobs, the system clock and the AWS stores',
      );
    }
    // The local stack stands in for every function (the approval server for the endpoints): its one
    // environment must satisfy each function's schema, as CDK checks each function's at synth.
    for (const dir of functionDirs) parseFunctionEnv(dir, env);
    const built = {
      ...buildDependencies(env, extraJobs, {
        builtinJobs,
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.ports?.notificationLedger
          ? { notificationLedger: options.ports.notificationLedger }
          : {}),
      }),
      ...options.ports,
      ...(options.evidence ? { evidence: options.evidence } : {}),
    };
    this.jobFunctions = new Set(
      built.policy.jobs.map((j) => stageResourceNames(built.policy.stage).jobFunction(j.jobId)),
    );
    this.deps = options.takeOverDeadHolders
      ? { ...built, isHolderAlive: isLocalHolderAlive }
      : built;
    const definition = JSON.parse(
      substitute(readJobRunDefinition(), localSubstitutions(this.deps.policy.settings)),
    ) as { States: Record<string, { TimeoutSeconds?: number }> };
    for (const [state, seconds] of Object.entries(options.stateTimeoutSeconds ?? {})) {
      if (!definition.States[state])
        throw new ConfigurationError(`stateTimeoutSeconds: no state ${state}`);
      definition.States[state].TimeoutSeconds = seconds;
    }
    this.definition = definition;
    this.machine = new StateMachine(this.definition as never, {
      validationOptions: { checkArn: true, checkPaths: true },
    });
    const timeouts: Record<StepFunctionDir, number> = {
      ...jobRunFunctionTimeouts(stateTimeoutsOf(definition)),
      'execution-ended': FIXED_FUNCTION_TIMEOUT_SECONDS['execution-ended'],
      ...options.functionTimeoutSeconds,
    };
    const bundleDir = options.bundleDir ?? join(opsrailHome(), 'bundles');
    const factories: Record<StepFunctionDir, (deps: Dependencies) => StepHandler<unknown>> = {
      ...handlerFactories,
      'execution-ended': createExecutionEndedHandler,
    };
    const sandbox = (functionDir: StepFunctionDir): Sandbox => {
      const inProcess = source === 'source' ? factories[functionDir](this.deps) : undefined;
      const fresh = () => inProcess ?? bundledHandler(buildBundle(functionDir, bundleDir), env);
      return {
        functionName: `opsrail-local-${functionDir}`,
        timeoutSeconds: timeouts[functionDir],
        handler: inProcess,
        fresh,
      };
    };
    this.sandboxes = Object.fromEntries(
      (Object.keys(factories) as StepFunctionDir[]).map((dir) => [dir, sandbox(dir)]),
    ) as Record<StepFunctionDir, Sandbox>;
  }

  /** The executable definition (placeholders filled), as the interpreter runs it. */
  get substitutedDefinition(): Record<string, unknown> {
    return this.definition;
  }

  /**
   * Invokes a step's function as Lambda would (its timeout, its error names); see
   * local/lambda-invoke.ts.
   */
  private invoke<R>(functionDir: StepFunctionDir, event: unknown): Promise<R> {
    const sandbox = this.sandboxes[functionDir];
    sandbox.handler ??= sandbox.fresh();
    const lost = () => (sandbox.handler = undefined);
    return invokeLikeLambda(
      sandbox.handler,
      event,
      sandbox.functionName,
      sandbox.timeoutSeconds,
      lost,
    ) as Promise<R>;
  }

  /**
   * Aborts running executions of a job (or all of them) started before `before`: the local
   * StopExecution.
   */
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
    // Only executions already running when the switch was engaged are stopped; later ones are
    // refused by Preflight.
    if (controls.globalKillSwitch?.engaged)
      this.stopRunning(null, Date.parse(controls.globalKillSwitch.changedAt));
    for (const [jobId, ks] of Object.entries(controls.jobKillSwitches))
      if (ks.engaged) this.stopRunning(jobId, Date.parse(ks.changedAt));
  }

  private track(executionId: string, running: Running): void {
    this.running.set(executionId, running);
    this.watchdog ??= setInterval(
      () => void this.checkKillSwitches().catch(() => undefined),
      this.options.killSwitchPollMs ?? 1000,
    );
  }

  private untrack(executionId: string): void {
    this.running.delete(executionId);
    if (this.running.size === 0 && this.watchdog) {
      clearInterval(this.watchdog);
      this.watchdog = undefined;
    }
  }

  async run(rawInput: unknown, options: RunOptions = {}): Promise<ExecutionOutcome> {
    const input = parseEvent(ExecutionInput, rawInput, 'execution input');
    // The name carries this process's identity, so a later process can tell when its holder is
    // gone.
    const name = localExecutionName(randomUUID());
    const executionId = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${STATE_MACHINE_NAME}:${name}`;
    const overrides = Object.fromEntries(
      jobRunSteps.map((s) => [
        s.state,
        (stepInput: unknown) => this.invoke<never>(s.functionDir, stepInput),
      ]),
    );
    // RecordRefusal runs the RecordFailure function, as its Resource says.
    overrides.RecordRefusal = overrides.RecordFailure as (typeof overrides)[string];
    // lambda:invoke of the job's own function, by the name Preflight gave: here one Execute
    // sandbox stands in for every job's function of the policy (a job's role exists only in AWS:
    // docs/local-stack.md#one-execute-for-every-job), answering as the integration does.
    overrides.Execute = (async (stepInput: { FunctionName: string; Payload: unknown }) => {
      if (!this.jobFunctions.has(stepInput.FunctionName))
        throw new LambdaInvocationError(
          'Lambda.ResourceNotFoundException',
          `Function not found: ${stepInput.FunctionName} (no job of the local policy has it)`,
        );
      const payload = await this.invoke('execute', stepInput.Payload);
      return { Payload: payload, StatusCode: 200, ExecutedVersion: '$LATEST' };
    }) as never;
    // lambda:invoke.waitForTaskToken: invoke the function with the Payload, then wait for the
    // decision, which the approval endpoint writes to the approval record (SendTask* in AWS).
    overrides.RequestApproval = (async (stepInput: { Payload: unknown }) => {
      const { approvalId, link } = await this.invoke<{ approvalId: string; link: string }>(
        'request-approval',
        stepInput.Payload,
      );
      this.options.onApprovalRequested?.({ executionId, approvalId, link });
      return this.waitForDecision(executionId, approvalId);
    }) as never;
    const retryIntervalOverrides =
      options.retryPauseMs === undefined
        ? undefined
        : Object.fromEntries(jobRunSteps.map((s) => [s.state, options.retryPauseMs as number]));
    const execution = this.machine.run(input, {
      overrides: {
        taskResourceLocalHandlers: overrides,
        ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}),
      },
      context: {
        Execution: {
          Id: executionId,
          Name: name,
          Input: input,
          StartTime: new Date().toISOString(),
          RoleArn: `arn:aws:iam::${ACCOUNT}:role/local`,
        },
        // The interpreter does not make task tokens: one per execution is enough (one gate per
        // run).
        Task: { Token: `local-task-token-${randomUUID()}` },
        StateMachine: { Id: STATE_MACHINE_ARN, Name: STATE_MACHINE_NAME },
      },
    });
    this.track(executionId, {
      jobId: input.jobId,
      startedAt: Date.now(),
      abort: () => execution.abort(),
    });
    try {
      const output = (await execution.result) as Record<string, unknown>;
      const jobRunId = (output.run as { jobRunId?: string } | undefined)?.jobRunId;
      if (output.suppressed)
        return {
          kind: 'duplicate_suppressed',
          executionId,
          jobRunId: this.jobRunIdOf(input, jobRunId),
        };
      if (output.skipped) {
        const { Cause } = output.skipped as { Cause?: string };
        const openRunId = /run (\S+) of the job is still open/.exec(Cause ?? '')?.[1] ?? null;
        return {
          kind: 'tick_skipped',
          executionId,
          jobRunId: this.jobRunIdOf(input),
          openRunId,
        };
      }
      if (output.refusal) {
        const summary = output.refusal as RunSummary;
        return { kind: 'refused', executionId, jobRunId: summary.jobRunId, summary };
      }
      // RecordFailure's Choice ended it as succeeded: the run is recorded from the job's own
      // result.
      if (output.failure) {
        const summary = output.failure as RunSummary;
        return {
          kind: 'completed',
          executionId,
          jobRunId: summary.jobRunId,
          summary,
          recoveredFrom: output.error as { Error: string; Cause?: string },
        };
      }
      const summary = output as unknown as RunSummary;
      return { kind: 'completed', executionId, jobRunId: summary.jobRunId, summary };
    } catch (error) {
      const jobRunId = this.jobRunIdOf(input);
      if (error instanceof ExecutionAbortedError) {
        const summary = await this.invoke<RunSummary>('execution-ended', {
          'detail-type': 'Step Functions Execution Status Change',
          source: 'aws.states',
          detail: {
            executionArn: executionId,
            stateMachineArn: STATE_MACHINE_ARN,
            status: 'ABORTED',
            input: JSON.stringify(input),
            cause: 'stopped: kill-switch engaged',
          },
        }).catch(() => null);
        return { kind: 'stopped', executionId, jobRunId: summary?.jobRunId ?? jobRunId, summary };
      }
      const item = await this.deps.state.getRun(jobRunId).catch(() => undefined);
      const summary = item?.executionId === executionId ? (item.summary ?? null) : null;
      // The Fail state's own error (e.g. JobRunFailed) is the cause of the interpreter's
      // ExecutionError.
      const failure = ((error as Error).cause as Error | undefined) ?? (error as Error);
      return {
        kind: 'failed',
        executionId,
        jobRunId,
        error: `${failure.name}: ${failure.message}`,
        summary,
      };
    } finally {
      this.untrack(executionId);
    }
  }

  /** Polls the approval record until a human decided, or until the execution stopped waiting. */
  private async waitForDecision(
    executionId: string,
    approvalId: string,
  ): Promise<Record<string, unknown>> {
    while (this.running.has(executionId)) {
      const record = (await this.deps.approvals.getApproval(approvalId))?.record;
      if (record?.status === 'APPROVED')
        return { approvalId, decidedBy: record.decidedBy, decidedAt: record.decidedAt };
      if (record?.status === 'REJECTED')
        throw new ApprovalRejected(
          `rejected by ${record.decidedBy}${record.reason ? `: ${record.reason}` : ''}`,
        );
      if (
        record?.status === 'EXPIRED' ||
        (record && Date.now() > Date.parse(record.expiresAt) + 60_000)
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, APPROVAL_POLL_MS));
    }
    return new Promise(() => undefined); // the interpreter's TimeoutSeconds (or an abort) ends the wait
  }

  /**
   * The run id the input maps to (derived by the same pinning as Preflight, so windows are
   * respected).
   */
  private jobRunIdOf(input: ExecutionInput, known?: string): string {
    return known ?? deriveRunIdentity(this.deps.policy, input).jobRunId;
  }
}
