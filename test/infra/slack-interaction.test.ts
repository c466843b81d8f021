import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'vitest';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app';
import { templateApp } from '../support/synth';
import { actionsOf, statementsFor } from '../support/iam';
import { policyFixture } from '../support/local';

const SIGNING_REF =
  'arn:aws:secretsmanager:eu-west-1:111111111111:secret:opsrail/dev/slack-signing-AbCdEf';
const BOT_REF = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:opsrail/dev/slack-bot-GhIjKl';
const policyDir = policyFixture({
  'dev.json': (p) => ({
    ...p,
    approvals: {
      timeoutSeconds: 3600,
      approversByOpKind: { retention: ['arn:aws:iam::111111111111:user/bob'] },
      linkBaseUrl: 'https://approvals.example.com',
      slack: {
        signingSecretRef: SIGNING_REF,
        botTokenRef: BOT_REF,
        users: { U012ABCDEF: 'arn:aws:iam::111111111111:user/bob' },
      },
    },
  }),
});

describe('CDK: the Slack interaction endpoint', () => {
  const template = Template.fromStack(buildApp(templateApp({ stage: 'dev' }), { policyDir }));

  test('cdk-nag AwsSolutions passes with the endpoint in the stack (a finding would fail the synth)', () => {
    const app = templateApp({ stage: 'dev' }, mkdtempSync(join(tmpdir(), 'opsrail-synth-slack-')));
    buildApp(app, { policyDir });
    assert.doesNotThrow(() => app.synth());
  });

  test('its own function and role, behind a Function URL with auth NONE (Slack signs, not AWS), and a stack output', () => {
    const fn = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) =>
      id.startsWith('SlackInteractionFunction'),
    );
    assert.ok(fn, 'a function of its own');
    assert.match(JSON.stringify(fn[1].Properties.Role), /SlackInteractionFunctionRole/);
    const url = (Object.values(template.findResources('AWS::Lambda::Url')) as any[]).find((u) =>
      JSON.stringify(u.Properties.TargetFunctionArn).includes(fn[0]),
    );
    assert.equal(url?.Properties.AuthType, 'NONE');
    assert.ok(
      template.toJSON().Outputs.SlackInteractionUrl,
      'the URL to paste into the Slack app as its Interactivity Request URL',
    );
  });

  test('least privilege: reads exactly the two secret_refs and the link key, may resolve the waiting task, never touches evidence', () => {
    const statements = statementsFor(template, 'SlackInteractionFunctionRole');
    const secretReads = statements.filter((s) =>
      actionsOf(s).includes('secretsmanager:GetSecretValue'),
    );
    const resources = secretReads.flatMap((s) =>
      Array.isArray(s.Resource) ? s.Resource : [s.Resource],
    );
    assert.ok(resources.includes(SIGNING_REF) && resources.includes(BOT_REF));
    assert.ok(
      resources.some((r) => JSON.stringify(r).includes('ApprovalSigningKey')),
      'the link-signing key, by reference',
    );
    assert.equal(resources.length, 3);
    const all = statements.flatMap(actionsOf);
    assert.deepEqual(all.filter((a) => a.startsWith('states:')).sort(), [
      'states:SendTaskFailure',
      'states:SendTaskSuccess',
    ]);
    assert.deepEqual(
      all.filter((a) => a.startsWith('s3:')),
      [],
    );
  });

  test('without approvals.slack in policy there is no endpoint (and the Slack message carries no buttons)', () => {
    const plain = Template.fromStack(buildApp(templateApp({ stage: 'dev' })));
    assert.equal(
      Object.keys(plain.findResources('AWS::Lambda::Function')).filter((id) =>
        id.startsWith('SlackInteraction'),
      ).length,
      0,
    );
    assert.equal(plain.toJSON().Outputs.SlackInteractionUrl, undefined);
  });
});
