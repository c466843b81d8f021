import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app';
import { templateApp } from '../support/synth';
import { UnknownStageError } from '../../infra/errors';
import { placeholdersIn } from '../../statemachines/definition';
import { directoryPolicySource } from '../../functions/adapters/policy-sources';
import { loadPolicy } from '../../functions/core/policy';
import { policyFixture } from '../support/local';

/** A catalog with one job enabled in dev and one declared but left disabled. */
const policyDir = policyFixture({
  'catalog.json': (c) => ({
    ...c,
    jobs: [
      ...c.jobs,
      {
        jobId: 'weekly_report',
        jobVersion: '1.0.0',
        jobClass: 'REPORTING',
        owner: 'sre',
        description: 'weekly digest',
        schedule: { expression: 'cron(10 9 ? * MON *)', timezone: 'Europe/London' },
        implementation: { kind: 'http', url: 'https://reports.example.com/weekly' },
      },
    ],
  }),
});

function synth(stage: string): Template {
  const app = templateApp({ stage });
  return Template.fromStack(buildApp(app, { policyDir }));
}

const dev = synth('dev');
const prod = synth('prod');

describe('CDK stack per stage', () => {
  test('the evidence bucket has Object Lock with the policy retention: GOVERNANCE in dev, COMPLIANCE in prod', () => {
    dev.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 30 } },
      },
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: Match.anyValue(),
            },
          }),
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: Match.objectLike({ DestinationBucketName: Match.anyValue() }),
    });
    prod.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 400 } },
      },
    });
  });

  test('the evidence bucket refuses requests without TLS', () => {
    const policies = dev.findResources('AWS::S3::BucketPolicy');
    const denies = Object.values(policies)
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement)
      .filter(
        (s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
      );
    assert.equal(
      denies.length,
      Object.keys(dev.findResources('AWS::S3::Bucket')).length,
      'every bucket (evidence, access logs, Athena results) denies plain HTTP',
    );
    assert.equal(denies.length, 3);
  });

  test('one schedule per enabled job, none for disabled ones, each in its time zone, starting the state machine with the tick time', () => {
    const schedules = Object.values(dev.findResources('AWS::Scheduler::Schedule')) as any[];
    // No hidden jobs: the schedules are exactly the enabled jobs of the catalog, nothing else.
    const enabled = loadPolicy(directoryPolicySource(policyDir), 'dev')
      .jobs.filter((j) => j.enabled)
      .map((j) => `opsrail-dev-${j.jobId}`);
    assert.deepEqual(schedules.map((s) => s.Properties.Name).sort(), enabled.sort());
    assert.ok(
      !enabled.includes('opsrail-dev-weekly_report'),
      'a declared but disabled job has no schedule',
    );
    const schedule = schedules.find(
      (s) => s.Properties.Name === 'opsrail-dev-evidence_integrity_check',
    );
    assert.equal(schedule.Properties.ScheduleExpression, 'cron(0 * * * ? *)');
    assert.equal(schedule.Properties.ScheduleExpressionTimezone, 'Asia/Tokyo');
    assert.deepEqual(schedule.Properties.FlexibleTimeWindow, { Mode: 'OFF' });
    assert.deepEqual(JSON.parse(schedule.Properties.Target.Input), {
      jobId: 'evidence_integrity_check',
      scheduledTime: '<aws.scheduler.scheduled-time>',
      trigger: 'schedule',
    });
    assert.deepEqual(schedule.Properties.Target.Arn, {
      Ref: Object.keys(dev.findResources('AWS::StepFunctions::StateMachine'))[0],
    });
    assert.ok(schedule.Properties.Target.DeadLetterConfig.Arn);
    assert.deepEqual(schedule.Properties.Target.RetryPolicy, {
      MaximumRetryAttempts: 10,
      MaximumEventAgeInSeconds: 3600,
    });
    // prod's policy enables nothing: no schedules at all.
    prod.resourceCountIs('AWS::Scheduler::Schedule', 0);
  });

  test('every state machine placeholder is substituted: functions of this stack, retry rules from policy', () => {
    const [machine] = Object.values(dev.findResources('AWS::StepFunctions::StateMachine')) as any[];
    const definition = machine.Properties.DefinitionString as string;
    assert.equal(typeof definition, 'string');
    const placeholders = placeholdersIn(definition);
    assert.deepEqual(placeholders, [
      'ApprovalTimeoutSeconds',
      'BufferPollSeconds',
      'FinalizeFunctionArn',
      'PreflightFunctionArn',
      'RecordFailureFunctionArn',
      'RequestApprovalFunctionArn',
      'RetryBackoffRate',
      'RetryIntervalSeconds',
      'RetryMaxAttempts',
      'RetryMaxDelaySeconds',
    ]);
    const substitutions = machine.Properties.DefinitionSubstitutions;
    assert.deepEqual(Object.keys(substitutions).sort(), placeholders);
    const functions = dev.findResources('AWS::Lambda::Function');
    for (const name of placeholders.filter((p) => p.endsWith('FunctionArn'))) {
      assert.ok(
        substitutions[name]['Fn::GetAtt'][0] in functions,
        `${name} is not a function of the stack`,
      );
    }
    // policy/dev.json retry: 3 attempts, 2 s, backoff 2, at most 60 s.
    assert.deepEqual(
      [
        substitutions.RetryMaxAttempts,
        substitutions.RetryIntervalSeconds,
        substitutions.RetryBackoffRate,
        substitutions.RetryMaxDelaySeconds,
      ],
      ['3', '2', '2', '60'],
    );
    assert.equal(
      substitutions.ApprovalTimeoutSeconds,
      '3600',
      'the gate waits as long as policy allows',
    );
    // Filled in, the definition is valid JSON (as CloudFormation will make it).
    const filled = JSON.parse(
      definition.replace(/\$\{([A-Za-z]+)\}/g, (_m, name: string) =>
        typeof substitutions[name] === 'string'
          ? substitutions[name]
          : `arn:aws:lambda:us-east-1:111111111111:function:${name}`,
      ),
    );
    assert.equal(filled.States.Execute.Retry[0].JitterStrategy, 'FULL');
    // Execute invokes the job's own function, by the name Preflight gives it.
    assert.equal(filled.States.Execute.Resource, 'arn:aws:states:::lambda:invoke');
    assert.equal(filled.States.Execute.Parameters['FunctionName.$'], '$.run.jobFunction');
    assert.equal(machine.Properties.LoggingConfiguration.Level, 'ALL');
    assert.deepEqual(machine.Properties.TracingConfiguration, { Enabled: true });
  });

  test('every Lambda runs nodejs24.x on arm64 with X-Ray tracing', () => {
    const functions = Object.values(dev.findResources('AWS::Lambda::Function')) as any[];
    const jobs = loadPolicy(directoryPolicySource(policyDir), 'dev').jobs;
    assert.equal(
      functions.length,
      7 + jobs.length,
      'four steps, ExecutionEnded, the approval page and decision functions, and one per job',
    );
    assert.deepEqual(
      functions
        .map((f) => f.Properties.FunctionName)
        .filter(Boolean)
        .sort(),
      jobs.map((j) => `opsrail-dev-job-${j.jobId}`).sort(),
    );
    for (const fn of functions) {
      assert.equal(fn.Properties.Runtime, 'nodejs24.x');
      assert.deepEqual(fn.Properties.Architectures, ['arm64']);
      assert.deepEqual(fn.Properties.TracingConfig, { Mode: 'Active' });
      assert.equal(fn.Properties.Environment.Variables.OPSRAIL_STAGE, 'dev');
    }
  });

  test('the execution log follows policy: every state with its data in dev, errors only without data in prod, or what the stage file says', () => {
    const loggingOf = (template: Template) =>
      (Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0] as any)
        .Properties.LoggingConfiguration;
    assert.equal(loggingOf(dev).Level, 'ALL');
    assert.equal(loggingOf(dev).IncludeExecutionData, true);
    assert.equal(loggingOf(prod).Level, 'ERROR');
    assert.equal(loggingOf(prod).IncludeExecutionData, false);
    const quiet = policyFixture({
      'dev.json': (d) => ({
        ...d,
        executionLogging: { level: 'OFF', includeExecutionData: false },
      }),
    });
    const off = Template.fromStack(buildApp(templateApp({ stage: 'dev' }), { policyDir: quiet }));
    assert.equal(loggingOf(off).Level, 'OFF');
    const loud = policyFixture({
      'dev.json': (d) => ({
        ...d,
        executionLogging: { level: 'LOUD', includeExecutionData: true },
      }),
    });
    assert.throws(
      () => buildApp(templateApp({ stage: 'dev' }), { policyDir: loud }),
      /executionLogging\.level/,
    );
  });

  test('two job ids that differ only in underscores fail the synth naming both (their functions would collide)', () => {
    const http = { kind: 'http', url: 'https://example.com/hook' };
    const job = (jobId: string) => ({
      jobId,
      jobVersion: '1.0.0',
      jobClass: 'MAINTENANCE',
      owner: 'sre',
      description: 'twin',
      schedule: { expression: 'rate(1 hour)' },
      implementation: http,
    });
    const twins = policyFixture({
      'catalog.json': (c) => ({ ...c, jobs: [...c.jobs, job('twin_1'), job('twin1')] }),
    });
    assert.throws(
      () => buildApp(templateApp({ stage: 'dev' }), { policyDir: twins }),
      /jobs 'twin_1' and 'twin1' differ only in underscores/,
    );
  });

  test('tables: point-in-time recovery, idempotency TTL on expiration; prod retains them with deletion protection', () => {
    dev.resourcePropertiesCountIs(
      'AWS::DynamoDB::Table',
      { PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } },
      2,
    );
    dev.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
    });
    prod.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
    dev.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });

  test('executions that end ABORTED (kill-switch), TIMED_OUT or FAILED go to ExecutionEnded', () => {
    const [machineId] = Object.keys(dev.findResources('AWS::StepFunctions::StateMachine'));
    dev.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: {
          status: ['ABORTED', 'TIMED_OUT', 'FAILED'],
          stateMachineArn: [{ Ref: machineId }],
        },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('ExecutionEnded'), 'Arn'] },
        }),
      ],
    });
  });

  test('the CLI finds the deployed stage through the stack outputs', () => {
    dev.hasOutput('EvidenceBucketName', {});
    dev.hasOutput('StateMachineArn', {});
  });

  test('an unknown stage is a clear error', () => {
    assert.throws(
      () => buildApp(templateApp({ stage: 'qa' }), { policyDir }),
      (e: unknown) =>
        e instanceof UnknownStageError &&
        /unknown stage 'qa'.*dev\|stage\|prod/.test((e as Error).message),
    );
  });
});
