import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { FunctionUrlAuthType, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import type { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { HandlerEnv } from '../../contracts';
import { OpsrailFunction } from './opsrail-function';
import type { StateStorage } from './state-storage';

export interface ApprovalEndpointProps {
  environment: HandlerEnv;
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
  storage: StateStorage;
  signingKey: Secret;
}

/**
 * The approval endpoint, one handler behind two Function URLs. The link in the e-mail and in Slack
 * points at the page URL (auth NONE): it can only show the confirmation page, since a request there
 * carries no identity, so a mail scanner or an unfurl changes nothing. Decisions are POSTed to the
 * decision URL (auth AWS_IAM, e.g. `opsrail approve --stage …`, SigV4-signed): the approver is the
 * caller's IAM identity, never a form field.
 */
export class ApprovalEndpoint extends Construct {
  readonly page: OpsrailFunction;
  readonly decision: OpsrailFunction;
  readonly pageUrl: FunctionUrl;
  readonly decisionUrl: FunctionUrl;

  constructor(scope: Construct, id: string, props: ApprovalEndpointProps) {
    super(scope, id);
    const environment: HandlerEnv = { ...props.environment, APPROVAL_SIGNING_KEY_SECRET_ARN: props.signingKey.secretArn };
    const make = (name: string, description: string) =>
      new OpsrailFunction(this, name, { functionDir: 'approval-endpoint', description, environment, logRetentionDays: props.logRetentionDays, removalPolicy: props.removalPolicy, timeout: Duration.seconds(30) });
    this.page = make('Page', 'opsrail approval page: shows a signed approval request, decides nothing');
    this.decision = make('Decision', 'opsrail approval decision: an IAM-authenticated approver confirms or rejects');
    this.pageUrl = this.page.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
    this.decisionUrl = this.decision.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
    for (const fn of [this.page, this.decision]) {
      // The approval record and its attempts, and the run's audit trail; no evidence (only Finalize and Fail write it).
      props.storage.stateTable.grantReadWriteData(fn);
      props.signingKey.grantRead(fn);
    }
  }

  /** Only the decision function may resolve the waiting task. */
  grantDecisions(stateMachine: StateMachine): void {
    this.decision.addToRolePolicy(new PolicyStatement({ actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'], resources: [stateMachine.stateMachineArn] }));
  }
}
