import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StagePolicy } from '../contracts';
import {
  FIXED_FUNCTION_TIMEOUT_SECONDS,
  functionTimeoutFor,
  stateTimeoutsOf,
  type StateTimeouts,
} from './timeouts';

export const JOB_RUN_ASL_PATH = join(import.meta.dirname, 'job-run.asl.json');

/**
 * Where the Execute state finds the function it invokes: the job's own, named by Preflight (one
 * function and role per job: docs/writing-a-job.md#permissions).
 */
export const JOB_FUNCTION_PATH = '$.run.jobFunction';

/**
 * The Lambda-backed steps of the job-run state machine: state name → placeholder → function folder.
 * Execute has no placeholder: it invokes the job's function by the name at JOB_FUNCTION_PATH.
 */
export const jobRunSteps = [
  { state: 'Preflight', placeholder: 'PreflightFunctionArn', functionDir: 'preflight' },
  { state: 'Execute', placeholder: null, functionDir: 'execute' },
  { state: 'Finalize', placeholder: 'FinalizeFunctionArn', functionDir: 'finalize' },
  {
    state: 'RecordFailure',
    placeholder: 'RecordFailureFunctionArn',
    functionDir: 'record-failure',
  },
  {
    state: 'RequestApproval',
    placeholder: 'RequestApprovalFunctionArn',
    functionDir: 'request-approval',
  },
] as const;

export type JobRunStep = (typeof jobRunSteps)[number];
/** The steps with one function for every job (all but Execute), invoked by a fixed ARN. */
export type FixedJobRunStep = Exclude<JobRunStep, { placeholder: null }>;

/** Placeholders the ASL file uses, read from the file itself. */
export function placeholdersIn(definition: string): string[] {
  return [
    ...new Set([...definition.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1] as string)),
  ].sort();
}

/**
 * Fills the ${Placeholders} the way CloudFormation's DefinitionSubstitutions does. CDK hands the
 * same map to CloudFormation; the local runtime calls this. Every placeholder must be given.
 */
export function substitute(definition: string, substitutions: Record<string, string>): string {
  const missing = placeholdersIn(definition).filter((p) => !(p in substitutions));
  if (missing.length)
    throw new Error(`state machine placeholders without a value: ${missing.join(', ')}`);
  return definition.replace(
    /\$\{([A-Za-z0-9_]+)\}/g,
    (_m, name: string) => substitutions[name] as string,
  );
}

export function readJobRunDefinition(): string {
  return readFileSync(JOB_RUN_ASL_PATH, 'utf8');
}

/**
 * The one map of the job-run machine's placeholders: function ARNs, and the retry rules from
 * policy. CDK passes it as DefinitionSubstitutions (with ARN tokens); the local runtime fills the
 * file with it.
 */
export function jobRunSubstitutions(
  policy: Pick<StagePolicy, 'retry' | 'approvals' | 'scheduler'>,
  functionArn: (step: FixedJobRunStep) => string,
): Record<string, string> {
  const { retry } = policy;
  return {
    ...Object.fromEntries(
      jobRunSteps.flatMap((step) =>
        step.placeholder ? [[step.placeholder, functionArn(step)]] : [],
      ),
    ),
    ApprovalTimeoutSeconds: String(policy.approvals.timeoutSeconds),
    RetryIntervalSeconds: String(retry.intervalSeconds),
    RetryMaxAttempts: String(retry.maxAttempts),
    RetryBackoffRate: String(retry.backoffRate),
    RetryMaxDelaySeconds: String(retry.maxDelaySeconds),
    BufferPollSeconds: String(policy.scheduler.bufferPollSeconds),
  };
}

type TaskState = {
  Type?: string;
  Resource?: string;
  TimeoutSeconds?: unknown;
  Parameters?: { FunctionName?: string; 'FunctionName.$'?: string };
};

/**
 * The definition as a JSON object with every placeholder left visible: quoted ones (ARNs) keep
 * their name, bare ones (numbers from policy) become 0. For reading the file's own structure, not
 * for running.
 */
export function jobRunTemplate(definition: string = readJobRunDefinition()): {
  States: Record<string, TaskState>;
} {
  const quoted = definition.replace(/"\$\{([A-Za-z0-9_]+)\}"/g, '"$1"');
  return JSON.parse(quoted.replace(/\$\{([A-Za-z0-9_]+)\}/g, '0')) as {
    States: Record<string, TaskState>;
  };
}

/**
 * The states that invoke each step's function (RecordFailure's function also serves RecordRefusal).
 */
export function statesInvoking(
  template = jobRunTemplate(),
): Record<JobRunStep['functionDir'], string[]> {
  return Object.fromEntries(
    jobRunSteps.map((step) => [
      step.functionDir,
      Object.entries(template.States)
        .filter(([, body]) =>
          step.placeholder === null
            ? body.Parameters?.['FunctionName.$'] === JOB_FUNCTION_PATH
            : body.Resource === step.placeholder ||
              body.Parameters?.FunctionName === step.placeholder,
        )
        .map(([state]) => state),
    ]),
  ) as Record<JobRunStep['functionDir'], string[]>;
}

/**
 * Each step function's timeout in seconds (statemachines/timeouts.ts): longer than the
 * TimeoutSeconds of every state that invokes it, so the state's States.Timeout always comes first.
 */
export function jobRunFunctionTimeouts(
  stateTimeouts: StateTimeouts = stateTimeoutsOf(jobRunTemplate()),
): Record<JobRunStep['functionDir'], number> {
  const invokers = statesInvoking();
  return Object.fromEntries(
    jobRunSteps.map((step) => {
      if (step.functionDir === 'request-approval')
        return [step.functionDir, FIXED_FUNCTION_TIMEOUT_SECONDS['request-approval']];
      const budgets = invokers[step.functionDir].map((state) => stateTimeouts[state]);
      if (budgets.length === 0 || budgets.some((b) => b === undefined))
        throw new Error(`no TimeoutSeconds for a state invoking ${step.functionDir}`);
      return [step.functionDir, functionTimeoutFor(Math.max(...(budgets as number[])))];
    }),
  ) as Record<JobRunStep['functionDir'], number>;
}
