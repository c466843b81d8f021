import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StagePolicy } from '../contracts';

export const JOB_RUN_ASL_PATH = join(import.meta.dirname, 'job-run.asl.json');

/** The Lambda-backed steps of the job-run state machine: state name → placeholder → function folder. */
export const jobRunSteps = [
  { state: 'Preflight', placeholder: 'PreflightFunctionArn', functionDir: 'preflight' },
  { state: 'Execute', placeholder: 'ExecuteFunctionArn', functionDir: 'execute' },
  { state: 'Finalize', placeholder: 'FinalizeFunctionArn', functionDir: 'finalize' },
  { state: 'RecordFailure', placeholder: 'RecordFailureFunctionArn', functionDir: 'record-failure' },
  { state: 'RequestApproval', placeholder: 'RequestApprovalFunctionArn', functionDir: 'request-approval' },
] as const;

export type JobRunStep = (typeof jobRunSteps)[number];

/** Placeholders the ASL file uses, read from the file itself. */
export function placeholdersIn(definition: string): string[] {
  return [...new Set([...definition.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1] as string))].sort();
}

/**
 * Fills the ${Placeholders} the way CloudFormation's DefinitionSubstitutions does. CDK hands the same
 * map to CloudFormation; the local runtime calls this. Every placeholder must be given.
 */
export function substitute(definition: string, substitutions: Record<string, string>): string {
  const missing = placeholdersIn(definition).filter((p) => !(p in substitutions));
  if (missing.length) throw new Error(`state machine placeholders without a value: ${missing.join(', ')}`);
  return definition.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_m, name: string) => substitutions[name] as string);
}

export function readJobRunDefinition(): string {
  return readFileSync(JOB_RUN_ASL_PATH, 'utf8');
}

/**
 * The one map of the job-run machine's placeholders: function ARNs, and the retry rules from policy.
 * CDK passes it as DefinitionSubstitutions (with ARN tokens); the local runtime fills the file with it.
 */
export function jobRunSubstitutions(policy: Pick<StagePolicy, 'retry' | 'approvals'>, functionArn: (step: JobRunStep) => string): Record<string, string> {
  const { retry } = policy;
  return {
    ...Object.fromEntries(jobRunSteps.map((step) => [step.placeholder, functionArn(step)])),
    ApprovalTimeoutSeconds: String(policy.approvals.timeoutSeconds),
    RetryIntervalSeconds: String(retry.intervalSeconds),
    RetryMaxAttempts: String(retry.maxAttempts),
    RetryBackoffRate: String(retry.backoffRate),
    RetryMaxDelaySeconds: String(retry.maxDelaySeconds),
  };
}
