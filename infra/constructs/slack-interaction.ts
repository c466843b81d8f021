import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { FunctionUrlAuthType, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import type { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { HandlerEnv, SlackApprovalSettings } from '../../contracts';
import { OpsrailFunction } from './opsrail-function';
import type { StateStorage } from './state-storage';

export interface SlackInteractionEndpointProps {
  environment: HandlerEnv;
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
  storage: StateStorage;
  signingKey: Secret;
  /** policy approvals.slack: the secret_refs it may read. */
  slack: SlackApprovalSettings;
}

/**
 * Slack's Interactivity Request URL (docs/approval-slack-and-cli.md): its own function and role
 * behind a Function URL with auth NONE, because Slack cannot sign with AWS credentials; every
 * request proves itself with Slack's signature, checked in the handler with the signing secret read
 * by its secret_ref.
 */
export class SlackInteractionEndpoint extends Construct {
  readonly fn: OpsrailFunction;
  readonly url: FunctionUrl;

  constructor(scope: Construct, id: string, props: SlackInteractionEndpointProps) {
    super(scope, id);
    this.fn = new OpsrailFunction(this, 'Function', {
      functionDir: 'slack-interaction',
      description:
        'opsrail Slack interactions: verified Approve/Reject buttons and the challenge modal',
      environment: {
        ...props.environment,
        APPROVAL_SIGNING_KEY_SECRET_ARN: props.signingKey.secretArn,
      },
      logRetentionDays: props.logRetentionDays,
      removalPolicy: props.removalPolicy,
      // Slack waits 3 seconds for an answer; a slower one is an error to the person anyway.
      timeout: Duration.seconds(10),
    });
    this.url = this.fn.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
    // The approval record and its attempts, the seen-request items, and the run's audit trail; no
    // evidence.
    props.storage.stateTable.grantReadWriteData(this.fn);
    props.signingKey.grantRead(this.fn);
    this.fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [props.slack.signingSecretRef, props.slack.botTokenRef],
      }),
    );
  }

  /** A verified Slack decision resolves the waiting task, as the decision URL does. */
  grantDecisions(stateMachine: StateMachine): void {
    this.fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
        resources: [stateMachine.stateMachineArn],
      }),
    );
  }
}
