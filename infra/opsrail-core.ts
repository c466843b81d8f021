import { CfnOutput, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { stackOutputKeys, type HandlerEnv } from '../contracts';
import type { ResolvedPolicy } from '../functions/core/policy';
import { Evidence } from './constructs/evidence';
import { EvidenceQuery } from './constructs/evidence-query';
import { Notifications } from './constructs/notifications';
import { ApprovalEndpoint } from './constructs/approval-endpoint';
import { SlackInteractionEndpoint } from './constructs/slack-interaction';
import { ApprovalSignIn } from './constructs/approval-sign-in';
import { Observability } from './constructs/observability';
import { JobRunner } from './constructs/job-runner';
import { JobScheduling } from './constructs/job-scheduling';
import { StateStorage } from './constructs/state-storage';
import packageJson from '../package.json' with { type: 'json' };

/**
 * The construct's input: a resolved policy (see infra/opsrail-construct.ts for the user-facing
 * props).
 */
export interface OpsrailCoreProps {
  policy: ResolvedPolicy;
}

/**
 * Everything opsrail deploys for one stage, built from the stage's policy and the catalog, in
 * whatever stack the user's CDK app puts it (docs/writing-a-job.md). The job modules and the policy
 * files are bundled into the functions through the `opsrail:bundle` context (infra/job-entry.ts).
 */
export class OpsrailCore extends Construct {
  readonly storage: StateStorage;
  readonly evidence: Evidence;
  readonly runner: JobRunner;
  readonly scheduling: JobScheduling;
  readonly query: EvidenceQuery;
  readonly notifications: Notifications;
  readonly approvalEndpoint: ApprovalEndpoint;
  /** Only when the policy configures approvals.slack. */
  readonly slackInteraction: SlackInteractionEndpoint | undefined;
  readonly observability: Observability;

  constructor(scope: Construct, id: string, props: OpsrailCoreProps) {
    super(scope, id);
    const { policy } = props;
    const stage = policy.stage;
    const isProd = stage === 'prod';
    // prod keeps its data when the stack goes; other stages may be torn down.
    const removalPolicy = isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    Tags.of(this).add('opsrail:stage', stage);
    Tags.of(this).add('opsrail:policy-sha256', policy.snapshot.sha256);

    this.storage = new StateStorage(this, 'StateStorage', {
      stage,
      removalPolicy,
      deletionProtection: isProd,
    });
    this.evidence = new Evidence(this, 'Evidence', {
      stage,
      retention: policy.settings.retention,
      removalPolicy,
    });
    const environment: HandlerEnv = {
      OPSRAIL_STAGE: stage,
      STATE_TABLE_NAME: this.storage.stateTable.tableName,
      IDEMPOTENCY_TABLE_NAME: this.storage.idempotencyTable.tableName,
      EVIDENCE_BUCKET_NAME: this.evidence.bucket.bucketName,
      AWS_REGION: Stack.of(this).region,
      OPSRAIL_CODE_VERSION: packageJson.version,
      POWERTOOLS_SERVICE_NAME: 'opsrail',
      POWERTOOLS_LOG_LEVEL: isProd ? 'INFO' : 'DEBUG',
      OPSRAIL_S3_FORCE_PATH_STYLE: 'false',
      OPSRAIL_METRICS: 'emf',
    };
    this.notifications = new Notifications(this, 'Notifications', {
      stage,
      emails: policy.settings.recipients.email,
      removalPolicy,
    });
    this.approvalEndpoint = new ApprovalEndpoint(this, 'ApprovalEndpoint', {
      environment,
      logRetentionDays: policy.settings.retention.logDays,
      removalPolicy,
      storage: this.storage,
      signingKey: this.notifications.approvalSigningKey,
      signIn: new ApprovalSignIn(this, 'ApprovalSignIn', {
        stage,
        identity: policy.settings.approvals.identity ?? { kind: 'cognito', claim: 'email' },
        removalPolicy,
      }),
    });
    this.runner = new JobRunner(this, 'Runner', {
      stage,
      environment,
      logRetentionDays: policy.settings.retention.logDays,
      removalPolicy,
      storage: this.storage,
      evidence: this.evidence,
      policy: policy.settings,
      jobs: policy.jobs,
      approvals: {
        topic: this.notifications.topic,
        topicKey: this.notifications.key,
        slackWebhook: this.notifications.slackWebhook,
        signingKey: this.notifications.approvalSigningKey,
        linkBaseUrl: this.approvalEndpoint.pageUrl.url,
      },
    });
    this.approvalEndpoint.grantDecisions(this.runner.stateMachine);
    const slack = policy.settings.approvals.slack;
    this.slackInteraction = slack
      ? new SlackInteractionEndpoint(this, 'SlackInteraction', {
          environment,
          logRetentionDays: policy.settings.retention.logDays,
          removalPolicy,
          storage: this.storage,
          signingKey: this.notifications.approvalSigningKey,
          slack,
        })
      : undefined;
    this.slackInteraction?.grantDecisions(this.runner.stateMachine);
    // Slack's app settings take this URL as the Interactivity Request URL.
    if (this.slackInteraction)
      new CfnOutput(this, stackOutputKeys.slackInteractionUrl, {
        value: this.slackInteraction.url.url,
      });
    new CfnOutput(this, stackOutputKeys.approvalPageUrl, {
      value: this.approvalEndpoint.pageUrl.url,
    });
    // The CLI (opsrail approvals|approve|reject --stage) signs its requests to this URL.
    new CfnOutput(this, stackOutputKeys.approvalDecisionUrl, {
      value: this.approvalEndpoint.decisionUrl.url,
    });
    // The CLI (opsrail kill/safety/status --stage) finds the bucket through this output.
    new CfnOutput(this, stackOutputKeys.evidenceBucketName, {
      value: this.evidence.bucket.bucketName,
    });
    new CfnOutput(this, 'StateMachineArn', { value: this.runner.stateMachine.stateMachineArn });
    this.query = new EvidenceQuery(this, 'Query', {
      stage,
      jobIds: policy.jobs.map((j) => j.jobId),
      evidence: this.evidence,
      removalPolicy,
      timeZone: policy.settings.timezone,
    });
    this.scheduling = new JobScheduling(this, 'Scheduling', {
      stage,
      jobs: policy.jobs,
      scheduler: policy.settings.scheduler,
      stateMachine: this.runner.stateMachine,
      removalPolicy,
    });
    this.observability = new Observability(this, 'Observability', {
      stage,
      jobs: policy.jobs,
      deadManGraceMinutes: policy.settings.thresholds.deadManGraceMinutes,
      stateMachine: this.runner.stateMachine,
      deadLetterQueue: this.scheduling.deadLetterQueue,
      topic: this.notifications.topic,
      runLogGroups: [
        this.runner.functions.finalize.logGroup,
        this.runner.functions['record-failure'].logGroup,
        this.runner.executionEnded.logGroup,
      ],
    });
    new CfnOutput(this, 'SlackWebhookSecretRef', {
      value: this.notifications.slackWebhook.secretArn,
    });
    new CfnOutput(this, 'ApprovalSigningKeySecretRef', {
      value: this.notifications.approvalSigningKey.secretArn,
    });
  }
}
