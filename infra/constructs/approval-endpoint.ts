import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { Policy, PolicyStatement, type IRole } from 'aws-cdk-lib/aws-iam';
import { FunctionUrlAuthType, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import type { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { HandlerEnv } from '../../contracts';
import type { ApprovalSignIn } from './approval-sign-in';
import { OpsrailFunction } from './opsrail-function';
import type { StateStorage } from './state-storage';

export interface ApprovalEndpointProps {
  environment: HandlerEnv;
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
  storage: StateStorage;
  signingKey: Secret;
  /** How approvers sign in on the page (docs/approval-sign-in.md). */
  signIn: ApprovalSignIn;
}

/**
 * The approval endpoint, one handler behind two Function URLs. The link in the e-mail and in Slack
 * points at the page URL (auth NONE): it shows the page and signs the approver in through the
 * stage's identity provider, but may not resolve the waiting task, so a mail scanner or an unfurl
 * changes nothing; a signed-in browser's POST is passed on to the decision function, which verifies
 * the token and the page's CSRF token itself. SigV4 callers (e.g. `opsrail approve --stage …`) POST
 * to the decision URL (auth AWS_IAM): the approver is then the caller's IAM identity. Never a form
 * field.
 */
export class ApprovalEndpoint extends Construct {
  readonly page: OpsrailFunction;
  readonly decision: OpsrailFunction;
  readonly pageUrl: FunctionUrl;
  readonly decisionUrl: FunctionUrl;

  constructor(scope: Construct, id: string, props: ApprovalEndpointProps) {
    super(scope, id);
    const environment: HandlerEnv = {
      ...props.environment,
      APPROVAL_SIGNING_KEY_SECRET_ARN: props.signingKey.secretArn,
      APPROVAL_SIGN_IN: JSON.stringify(props.signIn.settings),
    };
    const make = (name: string, description: string, extra: Partial<HandlerEnv> = {}) =>
      new OpsrailFunction(this, name, {
        functionDir: 'approval-endpoint',
        description,
        environment: { ...environment, ...extra },
        logRetentionDays: props.logRetentionDays,
        removalPolicy: props.removalPolicy,
        timeout: Duration.seconds(30),
      });
    this.decision = make(
      'Decision',
      'opsrail approval decision: a signed-in or IAM-authenticated approver confirms or rejects',
    );
    this.page = make(
      'Page',
      'opsrail approval page: shows a signed approval request and signs the approver in; decides nothing itself',
      { APPROVAL_DECISION_FUNCTION: this.decision.functionArn },
    );
    this.pageUrl = this.page.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
    this.decisionUrl = this.decision.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
    props.signIn.addPageClient(this.pageUrl.url);
    for (const fn of [this.page, this.decision]) {
      // The approval record and its attempts, and the run's audit trail; no evidence (only Finalize
      // and Fail write it).
      props.storage.stateTable.grantReadWriteData(fn);
      props.signingKey.grantRead(fn);
      props.signIn.grantSignIn(fn);
    }
    // The page passes a browser's POST on to the decision function, the only one that may decide.
    this.page.addToRolePolicy(
      new PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [this.decision.functionArn],
      }),
    );
  }

  /** Only the decision function may resolve the waiting task. */
  grantDecisions(stateMachine: StateMachine): void {
    // A policy of its own (not the role's default one, which the function depends on): the page
    // invokes the decision function and the state machine's link points at the page, so this must
    // not make the decision function depend on the state machine.
    new Policy(this, 'DecisionTaskCallbacks', {
      roles: [this.decision.role as IRole],
      statements: [
        new PolicyStatement({
          actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
          resources: [stateMachine.stateMachineArn],
        }),
      ],
    });
  }
}
