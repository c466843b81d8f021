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
