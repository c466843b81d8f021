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
});

/** CloudFormation output keys of a stage's stack that the CLI reads. */
export const stackOutputKeys = {
  evidenceBucketName: 'EvidenceBucketName',
  approvalPageUrl: 'ApprovalPageUrl',
  approvalDecisionUrl: 'ApprovalDecisionUrl',
  slackInteractionUrl: 'SlackInteractionUrl',
} as const;
