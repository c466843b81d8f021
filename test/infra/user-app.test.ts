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
      stack.getLogicalId(ops.core.runner.functions.execute.node.defaultChild as never)
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
