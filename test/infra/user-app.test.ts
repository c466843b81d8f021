import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'vitest';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Opsrail } from '../../infra/opsrail';
import { policyFixture } from '../support/local';
import { templateApp } from '../support/synth';
import { actionsOf, statementsFor } from '../support/iam';

const PROJECT = resolve(import.meta.dirname, '../fixtures/user-project');

/** A user's own CDK app, as the README shows it: a stack of theirs with the construct in it. */
function userApp(policyDir = join(PROJECT, 'policy')) {
  const app = new App({
    outdir: mkdtempSync(join(tmpdir(), 'opsrail-user-out-')),
    context: { 'aws:cdk:enable-asset-metadata': true },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'PlatformOps', {
    env: { account: '123456789012', region: 'us-east-1' },
  });
  const ops = new Opsrail(stack, 'Ops', { stage: 'dev', policyDir });
  return { app, stack, ops };
}

test('a user app synthesizes with the construct: cdk-nag clean, the project policy and job modules bundled into the functions', () => {
  const { app, stack, ops } = userApp();
  assert.deepEqual(
    ops.policy.jobs.map((j) => [j.jobId, j.enabled]),
    [
      ['tmp_cleanup', true],
      ['queue_depth_report', true],
      ['billing_export', true],
      ['deploy_webhook', true],
    ],
  );
  const template = Template.fromStack(stack);
  // One schedule per enabled job of the user's catalog.
  assert.equal(Object.keys(template.findResources('AWS::Scheduler::Schedule')).length, 4);
  const assembly = app.synth();
  const synthesized = assembly.getStackByName(stack.stackName).template as {
    Resources: Record<string, { Metadata?: Record<string, string> }>;
  };
  const assetPath =
    synthesized.Resources[
      stack.getLogicalId(ops.core.runner.jobs.byJob.get('tmp_cleanup')!.node.defaultChild as never)
    ]!.Metadata!['aws:asset:path']!;
  const bundle = readFileSync(join(assembly.directory, assetPath, 'index.js'), 'utf8');
  assert.match(bundle, /expired scratch file/, 'the tmp_cleanup module is in the bundle');
  assert.match(bundle, /queue_depth_report/);
  assert.match(
    bundle,
    /deploy-webhook-token/,
    "the user's catalog is bundled (by secret_ref, never a value)",
  );
  assert.ok(readdirSync(assembly.directory).length > 0);
});

test('a catalog job whose module is missing fails the synth, naming it', () => {
  const dir = policyFixture();
  const catalog = JSON.parse(readFileSync(join(PROJECT, 'policy/catalog.json'), 'utf8'));
  const policyDir = policyFixture({
    'catalog.json': () => catalog,
    'dev.json': () => JSON.parse(readFileSync(join(PROJECT, 'policy/dev.json'), 'utf8')),
  });
  assert.ok(dir);
  assert.throws(() => userApp(policyDir), /tmp_cleanup.*no implementation.*tmp_cleanup\.ts/);
});

test('least privilege per job: each job’s function may do what its catalog entry declares and no other job may; a job declaring nothing gets only opsrail’s bookkeeping', () => {
  // Prepare: the same user app, its template read without bundling.
  const app = templateApp();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'PlatformOps', {
    env: { account: '123456789012', region: 'us-east-1' },
  });
  const ops = new Opsrail(stack, 'Ops', { stage: 'dev', policyDir: join(PROJECT, 'policy') });
  const template = Template.fromStack(stack);
  const roleOf = (jobId: string) =>
    stack.getLogicalId(ops.core.runner.jobs.byJob.get(jobId)!.role!.node.defaultChild as never);
  const statementsOf = (jobId: string) => statementsFor(template, roleOf(jobId));
  const jobs = ['tmp_cleanup', 'queue_depth_report', 'billing_export', 'deploy_webhook'];
  const holders = (action: string) =>
    jobs.filter((j) => statementsOf(j).some((s) => actionsOf(s).includes(action)));

  // Act: cdk-nag runs as a validation plugin (a finding would throw here).
  assert.doesNotThrow(() => app.synth());

  // Assess: what only one job declared, only that job's role may do.
  assert.deepEqual(holders('s3:DeleteObject'), ['tmp_cleanup']);
  const deletes = statementsOf('tmp_cleanup').find((s) => actionsOf(s).includes('s3:DeleteObject'));
  assert.deepEqual(deletes?.Resource, 'arn:aws:s3:::example-scratch/*');
  assert.deepEqual(holders('lambda:InvokeFunction'), ['billing_export']);
  const invokes = statementsOf('billing_export').find((s) =>
    actionsOf(s).includes('lambda:InvokeFunction'),
  );
  assert.equal(invokes?.Resource, 'arn:aws:lambda:us-east-1:123456789012:function:billing-export');
  assert.deepEqual(holders('secretsmanager:GetSecretValue'), ['deploy_webhook']);
  const reads = statementsOf('deploy_webhook').find((s) =>
    actionsOf(s).includes('secretsmanager:GetSecretValue'),
  );
  assert.equal(
    reads?.Resource,
    'arn:aws:secretsmanager:us-east-1:123456789012:secret:deploy-webhook-token-AbCdEf',
  );
  // No job here declares evidence: none may read or write it.
  for (const jobId of jobs)
    assert.deepEqual(
      statementsOf(jobId)
        .flatMap(actionsOf)
        .filter((a) => a.startsWith('s3:') && a !== 's3:DeleteObject'),
      [],
      jobId,
    );
  // queue_depth_report declares nothing but reading state: its role is the bookkeeping every job
  // function has (the two tables, its own log group, X-Ray), the same as any other job's minus
  // what that job declared.
  const bookkeeping = (jobId: string) =>
    statementsOf(jobId)
      .map((s) => JSON.stringify({ a: actionsOf(s).sort(), r: s.Resource }))
      .filter((s) => !/DeleteObject|InvokeFunction|GetSecretValue/.test(s))
      .sort();
  const nothingDeclared = statementsOf('queue_depth_report');
  assert.deepEqual(
    [...new Set(nothingDeclared.flatMap(actionsOf).map((a) => a.split(':')[0]))].sort(),
    ['dynamodb', 'logs', 'xray'],
  );
  const tables = [ops.core.storage.stateTable, ops.core.storage.idempotencyTable].map((t) =>
    stack.getLogicalId(t.node.defaultChild as never),
  );
  for (const s of nothingDeclared.filter((s) => actionsOf(s)[0]!.startsWith('dynamodb:')))
    assert.ok(
      tables.some((t) => JSON.stringify(s.Resource).includes(t)),
      'only the state and idempotency tables',
    );
  const logGroupsOf = (jobId: string) =>
    bookkeeping(jobId).map((s) =>
      s
        .replace(
          /JobsTmpCleanup|JobsQueueDepthReport|JobsBillingExport|JobsDeployWebhook/g,
          'JobsX',
        )
        .replace(/[A-F0-9]{8}/g, ''),
    );
  for (const jobId of ['tmp_cleanup', 'billing_export', 'deploy_webhook'])
    assert.deepEqual(logGroupsOf(jobId), logGroupsOf('queue_depth_report'), jobId);
});
