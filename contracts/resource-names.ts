import { createHash } from 'node:crypto';

/** Lambda's limit on a function name. */
const FUNCTION_NAME_MAX = 64;

/**
 * The function a job's code runs in (docs/writing-a-job.md#permissions): Preflight names it in the
 * run context, the Execute state invokes it by that name, CDK creates it under it. A job id too long
 * for the limit keeps a prefix of itself and gains a hash of the whole, so two ids never share one.
 */
function jobFunctionName(stage: string, jobId: string): string {
  const name = `opsrail-${stage}-job-${jobId}`;
  if (name.length <= FUNCTION_NAME_MAX) return name;
  const hash = createHash('sha256').update(jobId).digest('hex').slice(0, 8);
  return `${name.slice(0, FUNCTION_NAME_MAX - hash.length - 1)}-${hash}`;
}

/**
 * The names a deployed stage's resources and stack outputs have. The CDK app gives them and the CLI
 * finds them by the same names, so the two can never disagree.
 */
export const stageResourceNames = (stage: string) => ({
  stack: `opsrail-${stage}`,
  stateTable: `opsrail-${stage}-state`,
  idempotencyTable: `opsrail-${stage}-idempotency`,
  stateMachine: `opsrail-${stage}-job-run`,
  scheduleGroup: `opsrail-${stage}`,
  schedule: (jobId: string) => `opsrail-${stage}-${jobId}`.slice(0, 64),
  jobFunction: (jobId: string) => jobFunctionName(stage, jobId),
  stateMachineLogGroup: `/aws/vendedlogs/states/opsrail-${stage}-job-run`,
  alertsTopic: `opsrail-${stage}-alerts`,
  alarm: (alarmId: string) => `opsrail-${stage}-${alarmId}`,
  dashboard: `opsrail-${stage}`,
  athenaWorkGroup: `opsrail-${stage}`,
  approverPool: `opsrail-${stage}-approvers`,
  approvalPageClient: `opsrail-${stage}-approval-page`,
  /**
   * The approvers' sign-in domain when the policy names none: unique per account (Cognito prefixes
   * are global).
   */
  signInDomainPrefix: (accountId: string) => `opsrail-${stage}-${accountId}`,
});

/** CloudFormation output keys of a stage's stack that the CLI reads. */
export const stackOutputKeys = {
  evidenceBucketName: 'EvidenceBucketName',
  approvalPageUrl: 'ApprovalPageUrl',
  approvalDecisionUrl: 'ApprovalDecisionUrl',
  slackInteractionUrl: 'SlackInteractionUrl',
} as const;
