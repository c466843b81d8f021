import { Aws, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  AccountRecovery,
  FeaturePlan,
  Mfa,
  OAuthScope,
  UserPool,
  type UserPoolClient,
  UserPoolClientIdentityProvider,
  type UserPoolDomain,
} from 'aws-cdk-lib/aws-cognito';
import { PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { ApprovalIdentityPolicy, SignInSettings } from '../../contracts';
import { stageResourceNames } from '../../contracts/resource-names';

export interface ApprovalSignInProps {
  stage: string;
  identity: ApprovalIdentityPolicy;
  removalPolicy: RemovalPolicy;
}

/**
 * Who signs approvers in on the approval page (docs/approval-sign-in.md). By default a Cognito user
 * pool of the stack's own: approvers are created by an administrator (no self sign-up), MFA is
 * required, and its managed login (which can federate to a company IdP) is the sign-in page; one
 * app client, public, authorization code flow with PKCE, calling back to the page. Or an existing
 * OIDC issuer, named in policy. Either way the functions get SignInSettings as APPROVAL_SIGN_IN.
 */
export class ApprovalSignIn extends Construct {
  readonly settings: SignInSettings;
  readonly userPool?: UserPool;
  client?: UserPoolClient;
  readonly domain?: UserPoolDomain;
  private readonly clientSecretRef?: string;
  private readonly clientName: string;

  constructor(scope: Construct, id: string, props: ApprovalSignInProps) {
    super(scope, id);
    const { identity } = props;
    if (identity.kind === 'local')
      throw new Error("approvals.identity kind 'local' is for the local stack only");
    this.clientName = stageResourceNames(props.stage).approvalPageClient;
    if (identity.kind === 'oidc') {
      const {
        claim,
        issuer,
        clientId,
        authorizationEndpoint,
        tokenEndpoint,
        jwksUri,
        clientSecretRef,
      } = identity;
      this.settings = {
        kind: 'oidc',
        claim,
        issuer,
        clientId,
        authorizationEndpoint,
        tokenEndpoint,
        jwksUri,
        ...(clientSecretRef ? { clientSecretRef } : {}),
      };
      this.clientSecretRef = clientSecretRef;
      return;
    }
    const { clientName } = this;
    this.userPool = new UserPool(this, 'Approvers', {
      userPoolName: stageResourceNames(props.stage).approverPool,
      selfSignUpEnabled: false,
      signInAliases: { email: true, username: false },
      autoVerify: { email: true },
      mfa: Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 14,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      featurePlan: FeaturePlan.ESSENTIALS,
      deletionProtection: props.removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy: props.removalPolicy,
    });
    this.domain = this.userPool.addDomain('Login', {
      cognitoDomain: {
        domainPrefix:
          identity.domainPrefix ??
          stageResourceNames(props.stage).signInDomainPrefix(Aws.ACCOUNT_ID),
      },
    });
    const issuer = `https://cognito-idp.${Aws.REGION}.amazonaws.com/${this.userPool.userPoolId}`;
    const login = this.domain.baseUrl();
    this.settings = {
      kind: 'cognito',
      claim: identity.claim,
      issuer,
      userPoolId: this.userPool.userPoolId,
      // The client's id is looked up by name at cold start: passing it would make a dependency
      // cycle (client → callback URL → page function → its environment → client).
      clientName,
      authorizationEndpoint: `${login}/oauth2/authorize`,
      tokenEndpoint: `${login}/oauth2/token`,
      jwksUri: `${issuer}/.well-known/jwks.json`,
    };
    Validations.of(this.userPool).acknowledge(
      {
        id: 'AwsSolutions-COG3',
        reason:
          'Approvers are created by an administrator (no self sign-up) and need MFA; threat protection (the Plus plan) is a per-account cost decision left to the operator.',
      },
      {
        id: 'AwsSolutions-COG8',
        reason:
          'The Essentials plan covers managed login, MFA and federation for the handful of approvers; Plus adds only threat protection (see COG3).',
      },
    );
  }

  /**
   * The approval page's app client (Cognito only): public, code flow with PKCE, calling back to the
   * page's URL (a Function URL, ending in /), so it is made once that URL exists.
   */
  addPageClient(pageUrl: string): void {
    if (!this.userPool) return;
    this.client = this.userPool.addClient('ApprovalPage', {
      userPoolClientName: this.clientName,
      generateSecret: false,
      authFlows: {},
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [OAuthScope.OPENID, OAuthScope.EMAIL],
        callbackUrls: [`${pageUrl}auth/callback`],
      },
      supportedIdentityProviders: [UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      idTokenValidity: Duration.minutes(15),
      accessTokenValidity: Duration.minutes(15),
      refreshTokenValidity: Duration.hours(1),
      enableTokenRevocation: true,
    });
  }

  /**
   * What a function that signs approvers in may read: the pool's app clients, a confidential
   * client's secret.
   */
  grantSignIn(grantee: IGrantable): void {
    if (this.userPool)
      grantee.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['cognito-idp:ListUserPoolClients'],
          resources: [this.userPool.userPoolArn],
        }),
      );
    if (this.clientSecretRef)
      grantee.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [this.clientSecretRef],
        }),
      );
  }
}
