import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import {
  DefinitionBody,
  LogLevel,
  StateMachine,
  StateMachineType,
} from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { stageResourceNames } from '../../contracts/resource-names';
import {
  executionLoggingOf,
  type HandlerEnv,
  type JobDefinition,
  type StagePolicy,
} from '../../contracts';
import type { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Topic } from 'aws-cdk-lib/aws-sns';
import type { Key } from 'aws-cdk-lib/aws-kms';
import {
  jobRunFunctionTimeouts,
  jobRunSteps,
  jobRunSubstitutions,
  readJobRunDefinition,
  type FixedJobRunStep,
} from '../../statemachines/definition';
import { FIXED_FUNCTION_TIMEOUT_SECONDS } from '../../statemachines/timeouts';
import type { Evidence } from './evidence';
import { grantNotificationSecrets, JobFunctions } from './job-functions';
import { OpsrailFunction, retentionFor } from './opsrail-function';
import type { StateStorage } from './state-storage';

export interface JobRunnerProps {
  stage: string;
  environment: HandlerEnv;
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
  storage: StateStorage;
  evidence: Evidence;
  policy: Pick<
    StagePolicy,
    'retry' | 'approvals' | 'scheduler' | 'environment' | 'executionLogging' | 'notifications'
  >;
  /** The stage's jobs: each gets a function of its own for the Execute step. */
  jobs: readonly JobDefinition[];
  approvals: {
    topic: Topic;
    topicKey: Key;
    slackWebhook: Secret;
    signingKey: Secret;
    linkBaseUrl: string;
  };
}

const descriptions: Record<FixedJobRunStep['functionDir'], string> = {
  preflight: 'opsrail Preflight: pins inputs and claims the run',
  finalize: 'opsrail Finalize: writes the write-once evidence bundle and job state',
  'record-failure': 'opsrail RecordFailure: evidences a failed run and counts the failure',
  'request-approval':
    'opsrail RequestApproval: stores and announces an approval request for a dangerous op',
};

// Longer than the TimeoutSeconds of the states invoking them: docs/failure-semantics.md.
const functionTimeouts = jobRunFunctionTimeouts();

/**
 * The step functions, each with only the grants it uses (Execute: a function per job, with the
 * job's own: JobFunctions), and the job-run state machine.
 */
export class JobRunner extends Construct {
  readonly functions: Record<FixedJobRunStep['functionDir'], OpsrailFunction>;
  readonly jobs: JobFunctions;
  readonly executionEnded: OpsrailFunction;
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: JobRunnerProps) {
    super(scope, id);
    const approvalEnvironment = {
      APPROVAL_SIGNING_KEY_SECRET_ARN: props.approvals.signingKey.secretArn,
      SLACK_WEBHOOK_SECRET_ARN: props.approvals.slackWebhook.secretArn,
      ALERTS_TOPIC_ARN: props.approvals.topic.topicArn,
      APPROVAL_LINK_BASE_URL: props.approvals.linkBaseUrl,
    };
    const make = (step: FixedJobRunStep) =>
      new OpsrailFunction(this, step.state, {
        functionDir: step.functionDir,
        description: descriptions[step.functionDir],
        timeout: Duration.seconds(functionTimeouts[step.functionDir]),
        // Only RequestApproval learns where the secrets are (by ARN: secret_ref, never their
        // values).
        environment:
          step.functionDir === 'request-approval'
            ? { ...props.environment, ...approvalEnvironment }
            : props.environment,
        logRetentionDays: props.logRetentionDays,
        removalPolicy: props.removalPolicy,
      });
    const fixedSteps = jobRunSteps.filter((s): s is FixedJobRunStep => s.placeholder !== null);
    const fns = Object.fromEntries(fixedSteps.map((s) => [s.functionDir, make(s)])) as Record<
      FixedJobRunStep['functionDir'],
      OpsrailFunction
    >;
    this.functions = fns;
    const { stateTable } = props.storage;
    const evidence = props.evidence;
    this.jobs = new JobFunctions(this, 'Jobs', {
      stage: props.stage,
      jobs: props.jobs,
      environment: props.environment,
      timeout: Duration.seconds(functionTimeouts.execute),
      logRetentionDays: props.logRetentionDays,
      removalPolicy: props.removalPolicy,
      storage: props.storage,
      evidence,
      notifications: props.policy.notifications,
    });

    // Preflight: claims runs and records duplicates.
    stateTable.grantReadWriteData(fns.preflight);
    // Finalize and RecordFailure: the only writers of evidence (PutObject only: no delete, no
    // overwrite). RequestApproval: stores the request, reads the two secrets, announces by SNS (and
    // Slack).
    stateTable.grantReadWriteData(fns['request-approval']);
    props.approvals.signingKey.grantRead(fns['request-approval']);
    props.approvals.slackWebhook.grantRead(fns['request-approval']);
    // sns:Publish on this topic, and the KMS data key its encryption needs (exact actions, no
    // wildcard).
    fns['request-approval'].addToRolePolicy(
      new PolicyStatement({
        actions: ['sns:Publish'],
        resources: [props.approvals.topic.topicArn],
      }),
    );
    props.approvals.topicKey.grant(fns['request-approval'], 'kms:GenerateDataKey', 'kms:Decrypt');
    for (const writer of [fns.finalize, fns['record-failure']]) {
      stateTable.grantReadWriteData(writer);
      evidence.grantWriteObjects(writer);
    }
    // Those that notify (docs/notifications.md) read the chain's secrets: RecordFailure's failure
    // alert, RequestApproval's request (the job functions: JobFunctions).
    grantNotificationSecrets(fns['record-failure'], props.policy.notifications);
    grantNotificationSecrets(fns['request-approval'], props.policy.notifications);

    const logging = executionLoggingOf(props.policy);
    const logs = new LogGroup(this, 'ExecutionLogs', {
      logGroupName: stageResourceNames(props.stage).stateMachineLogGroup,
      retention: retentionFor(props.logRetentionDays),
      removalPolicy: props.removalPolicy,
    });
    this.stateMachine = new StateMachine(this, 'JobRun', {
      stateMachineName: stageResourceNames(props.stage).stateMachine,
      stateMachineType: StateMachineType.STANDARD,
      // Inline (not an S3 asset) so the definition reads as-is in the template and the console.
      definitionBody: DefinitionBody.fromString(readJobRunDefinition()),
      definitionSubstitutions: jobRunSubstitutions(
        props.policy,
        (step) => fns[step.functionDir].functionArn,
      ),
      tracingEnabled: true,
      // From policy: every state with its data in dev, errors only in prod by default.
      logs: {
        destination: logs,
        level: LogLevel[logging.level],
        includeExecutionData: logging.includeExecutionData,
      },
    });
    // cdk-nag wants every state logged; a stage that logs less chose it in its policy.
    if (logging.level !== 'ALL')
      Validations.of(this.stateMachine).acknowledge({
        id: 'AwsSolutions-SF1',
        reason: `The stage policy logs ${logging.level} events (executionLogging, docs/policy.md#execution-logging): every logged state is billed, and each run is evidenced in full in the evidence bucket.`,
      });
    // Exactly these functions, the jobs' included (unqualified ARNs: no versions or aliases are
    // published).
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [...Object.values(fns), ...this.jobs.byJob.values()].map((fn) => fn.functionArn),
      }),
    );
    Validations.of(this.stateMachine.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Execution logging to CloudWatch Logs (logs:CreateLogDelivery and kin) and X-Ray tracing support no resource-level permissions.',
    });

    // An execution stopped by a kill-switch (StopExecution) or timed out never reaches
    // RecordFailure: Step Functions' own status-change event brings it to ExecutionEnded, which
    // evidences it.
    this.executionEnded = new OpsrailFunction(this, 'ExecutionEnded', {
      functionDir: 'execution-ended',
      description: 'opsrail ExecutionEnded: evidences executions that were stopped or timed out',
      timeout: Duration.seconds(FIXED_FUNCTION_TIMEOUT_SECONDS['execution-ended']),
      environment: props.environment,
      logRetentionDays: props.logRetentionDays,
      removalPolicy: props.removalPolicy,
    });
    stateTable.grantReadWriteData(this.executionEnded);
    evidence.grantWriteObjects(this.executionEnded);
    // It records timed-out and failed runs like RecordFailure, failure alert included.
    grantNotificationSecrets(this.executionEnded, props.policy.notifications);
    new Rule(this, 'ExecutionEndedRule', {
      description: `opsrail ${props.stage}: job runs that ended ABORTED, TIMED_OUT or FAILED`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['ABORTED', 'TIMED_OUT', 'FAILED'],
          stateMachineArn: [this.stateMachine.stateMachineArn],
        },
      },
      targets: [
        new LambdaFunction(this.executionEnded, {
          retryAttempts: 8,
          maxEventAge: Duration.hours(6),
        }),
      ],
    });
  }
}
