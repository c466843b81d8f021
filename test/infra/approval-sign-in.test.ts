import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { directoryPolicySource } from '../../functions/adapters/policy-sources';
import { loadPolicy } from '../../functions/core/policy';
import { buildApp } from '../../infra/app';
import { templateApp } from '../support/synth';
import { policyFixture } from '../support/local';
import { actionsOf, statementsFor } from '../support/iam';

const approvalFunctions = (template: Template) =>
  Object.entries(template.findResources('AWS::Lambda::Function')).filter(([id]) =>
    id.startsWith('ApprovalEndpoint'),
  ) as [string, any][];

describe('approval sign-in in CDK: a Cognito user pool by default, or the policy’s OIDC issuer', () => {
  const prod = Template.fromStack(buildApp(templateApp({ stage: 'prod' })));

  test('prod: an admin-only user pool with MFA and a strong password policy, kept when the stack goes', () => {
    prod.resourceCountIs('AWS::Cognito::UserPool', 1);
    prod.hasResourceProperties('AWS::Cognito::UserPool', {
      UserPoolName: 'opsrail-prod-approvers',
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'ON',
      EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
      DeletionProtection: 'ACTIVE',
      Policies: { PasswordPolicy: Match.objectLike({ MinimumLength: 14, RequireSymbols: true }) },
    });
    prod.hasResource('AWS::Cognito::UserPool', { DeletionPolicy: 'Retain' });
    prod.hasResourceProperties('AWS::Cognito::UserPoolDomain', {
      Domain: { 'Fn::Join': ['', ['opsrail-prod-', { Ref: 'AWS::AccountId' }]] },
    });
  });

  test('one public app client: code flow only (PKCE, no secret), calling back to the page URL', () => {
    prod.resourceCountIs('AWS::Cognito::UserPoolClient', 1);
    const client = Object.values(prod.findResources('AWS::Cognito::UserPoolClient'))[0] as any;
    assert.deepEqual(client.Properties.AllowedOAuthFlows, ['code']);
    assert.equal(client.Properties.GenerateSecret, false);
    assert.equal(client.Properties.AllowedOAuthFlowsUserPoolClient, true);
    assert.deepEqual(client.Properties.AllowedOAuthScopes, ['openid', 'email']);
    assert.equal(client.Properties.CallbackURLs.length, 1);
    const [pageUrl, path] = client.Properties.CallbackURLs[0]['Fn::Join'][1];
    assert.equal(path, 'auth/callback');
    assert.match(pageUrl['Fn::GetAtt'][0], /^ApprovalEndpointPageFunctionUrl/);
    assert.equal(pageUrl['Fn::GetAtt'][1], 'FunctionUrl');
    assert.equal(client.Properties.ClientName, 'opsrail-prod-approval-page');
  });

  test('the link’s URL (auth NONE) belongs to the page function, the decision URL (auth AWS_IAM) to the decision function', () => {
    const urls = (Object.values(prod.findResources('AWS::Lambda::Url')) as any[])
      .map(
        (u) =>
          [
            u.Properties.AuthType,
            String(u.Properties.TargetFunctionArn?.['Fn::GetAtt']?.[0] ?? ''),
          ] as [string, string],
      )
      .filter(([, target]) => target.startsWith('ApprovalEndpoint'));
    assert.equal(urls.length, 2);
    assert.deepEqual(
      urls.map(([auth, target]) => [auth, target.replace(/[A-F0-9]{8}$/, '')]).sort(),
      [
        ['AWS_IAM', 'ApprovalEndpointDecision'],
        ['NONE', 'ApprovalEndpointPage'],
      ],
    );
  });

  test('both functions get the sign-in settings; only the page forwards, and only to the decision function', () => {
    const fns = approvalFunctions(prod);
    assert.equal(fns.length, 2);
    for (const [, fn] of fns) {
      const json = JSON.stringify(fn.Properties.Environment.Variables.APPROVAL_SIGN_IN);
      assert.match(json, /\\"kind\\":\\"cognito\\"/);
      assert.match(json, /\\"clientName\\":\\"opsrail-prod-approval-page\\"/);
      assert.match(json, /amazoncognito\.com\/oauth2\/authorize/);
    }
    const [pageId, page] = fns.find(([id]) => id.startsWith('ApprovalEndpointPage'))!;
    const [decisionId, decision] = fns.find(([id]) => id.startsWith('ApprovalEndpointDecision'))!;
    assert.ok(pageId && decisionId);
    assert.deepEqual(page.Properties.Environment.Variables.APPROVAL_DECISION_FUNCTION, {
      'Fn::GetAtt': [decisionId, 'Arn'],
    });
    assert.equal(decision.Properties.Environment.Variables.APPROVAL_DECISION_FUNCTION, undefined);
    const invokes = statementsFor(prod, 'ApprovalEndpointPageRole').filter((s) =>
      actionsOf(s).includes('lambda:InvokeFunction'),
    );
    assert.deepEqual(
      invokes.map((s) => s.Resource),
      [{ 'Fn::GetAtt': [decisionId, 'Arn'] }],
    );
    assert.deepEqual(
      statementsFor(prod, 'ApprovalEndpointDecisionRole')
        .flatMap(actionsOf)
        .filter((a) => a.startsWith('lambda:')),
      [],
    );
    for (const role of ['ApprovalEndpointPageRole', 'ApprovalEndpointDecisionRole']) {
      const cognito = statementsFor(prod, role).filter((s) =>
        actionsOf(s).some((a) => a.startsWith('cognito-idp:')),
      );
      assert.deepEqual(cognito.flatMap(actionsOf), ['cognito-idp:ListUserPoolClients'], role);
      assert.deepEqual(cognito[0]?.Resource, {
        'Fn::GetAtt': [Object.keys(prod.findResources('AWS::Cognito::UserPool'))[0], 'Arn'],
      });
    }
  });

  test('an OIDC issuer in policy: no user pool; its settings and its client secret by secret_ref only', () => {
    const secretRef =
      'arn:aws:secretsmanager:eu-west-1:111111111111:secret:opsrail/dev/oidc-client-AbCdEf';
    const policyDir = policyFixture({
      'dev.json': (p) => ({
        ...p,
        approvals: {
          ...(p.approvals ?? {
            timeoutSeconds: 3600,
            approversByOpKind: {},
            linkBaseUrl: 'http://127.0.0.1:8787',
          }),
          identity: {
            kind: 'oidc',
            issuer: 'https://login.example.com',
            clientId: 'opsrail-dev',
            authorizationEndpoint: 'https://login.example.com/authorize',
            tokenEndpoint: 'https://login.example.com/token',
            jwksUri: 'https://login.example.com/jwks',
            clientSecretRef: secretRef,
          },
        },
      }),
    });
    const dev = Template.fromStack(buildApp(templateApp({ stage: 'dev' }), { policyDir }));
    dev.resourceCountIs('AWS::Cognito::UserPool', 0);
    dev.resourceCountIs('AWS::Cognito::UserPoolClient', 0);
    for (const [, fn] of approvalFunctions(dev)) {
      const settings = JSON.parse(fn.Properties.Environment.Variables.APPROVAL_SIGN_IN);
      assert.deepEqual(
        [settings.kind, settings.issuer, settings.clientId, settings.clientSecretRef],
        ['oidc', 'https://login.example.com', 'opsrail-dev', secretRef],
      );
    }
    for (const role of ['ApprovalEndpointPageRole', 'ApprovalEndpointDecisionRole']) {
      const reads = statementsFor(dev, role).filter(
        (s) => actionsOf(s).includes('secretsmanager:GetSecretValue') && s.Resource === secretRef,
      );
      assert.equal(reads.length, 1, role);
    }
  });

  test('policy: the stand-in IdP only locally, only the stand-in locally, and OIDC endpoints over https', () => {
    const load = (file: string, stage: 'dev' | 'local', identity: unknown) => () =>
      loadPolicy(
        directoryPolicySource(
          policyFixture({
            [file]: (p) => ({
              ...p,
              approvals: {
                ...(p.approvals ?? {
                  timeoutSeconds: 3600,
                  approversByOpKind: {},
                  linkBaseUrl: 'http://127.0.0.1:8787',
                }),
                identity,
              },
            }),
          }),
        ),
        stage,
      );
    assert.throws(
      load('dev.json', 'dev', { kind: 'local' }),
      /kind 'local' \(the stand-in IdP\) is for the local stage only/,
    );
    assert.throws(
      load('local.json', 'local', { kind: 'cognito' }),
      /the local stage signs approvers in with kind 'local'/,
    );
    assert.throws(
      load('dev.json', 'dev', {
        kind: 'oidc',
        issuer: 'http://login.example.com',
        clientId: 'c',
        authorizationEndpoint: 'https://a',
        tokenEndpoint: 'https://t',
        jwksUri: 'https://j',
      }),
      /issuer/,
    );
    assert.throws(
      load('dev.json', 'dev', {
        kind: 'oidc',
        issuer: 'https://login.example.com',
        clientId: 'c',
        authorizationEndpoint: 'https://a',
        tokenEndpoint: 'https://t',
        jwksUri: 'https://j',
        clientSecretRef: 'hunter2',
      }),
      /clientSecretRef/,
    );
    assert.doesNotThrow(load('local.json', 'local', { kind: 'local' }));
  });
});
