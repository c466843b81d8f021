import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'vitest';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app';
import { templateApp } from '../support/synth';
import { actionsOf, statementsFor } from '../support/iam';
import { policyFixture } from '../support/local';

describe('cdk-nag and least privilege', () => {
  for (const stage of ['dev', 'stage', 'prod']) {
    test(`${stage}: cdk-nag AwsSolutions passes as a validation plugin (a finding would fail the synth)`, () => {
      const outdir = mkdtempSync(join(tmpdir(), `opsrail-synth-${stage}-`));
      const app = templateApp({ stage }, outdir);
      buildApp(app);

      assert.doesNotThrow(() => app.synth());
      const template = JSON.parse(
        readFileSync(join(outdir, `opsrail-${stage}.template.json`), 'utf8'),
      );
      assert.equal(
        template.Resources
          ? Object.values(template.Resources).some(
              (r: any) => r.Type === 'AWS::StepFunctions::StateMachine',
            )
          : false,
        true,
      );
    });
  }

  const template = Template.fromStack(buildApp(templateApp({ stage: 'dev' })));

  // Every job of the dev stage has a function of its own (docs/writing-a-job.md#permissions).
  const jobRoles = {
    evidenceIntegrityCheck: 'RunnerJobsEvidenceIntegrityCheckRole',
    endpointHealthCheck: 'RunnerJobsEndpointHealthCheckRole',
    endpointLatencyMonitor: 'RunnerJobsEndpointLatencyMonitorRole',
    weeklyHealthReport: 'RunnerJobsWeeklyHealthReportRole',
    scheduleLedger: 'RunnerJobsScheduleLedgerRole',
    runRecordRetention: 'RunnerJobsRunRecordRetentionRole',
    quarantineRelease: 'RunnerJobsQuarantineReleaseRole',
    killSwitchRelease: 'RunnerJobsKillSwitchReleaseRole',
    safetyRelax: 'RunnerJobsSafetyRelaxRole',
    datasetExport: 'RunnerJobsDatasetExportRole',
    dailyObservabilityReport: 'RunnerJobsDailyObservabilityReportRole',
    weeklyObservabilityReport: 'RunnerJobsWeeklyObservabilityReportRole',
    weeklyImprovementDigest: 'RunnerJobsWeeklyImprovementDigestRole',
  };

  test('dataset_export (writes: exports) may put objects under stage=dev/exports/ only; with params.copy, under the copy prefix too', () => {
    // Prepare: the same stage with a copy to a bucket of the user's.
    const withCopy = policyFixture({
      'dev.json': (p) => ({
        ...p,
        jobs: {
          ...p.jobs,
          dataset_export: { params: { copy: { bucket: 'acme-reports', prefix: 'opsrail/' } } },
        },
      }),
    });
    const copying = Template.fromStack(
      buildApp(templateApp({ stage: 'dev' }), { policyDir: withCopy }),
    );
    // Act
    const puts = (t: Template) =>
      statementsFor(t, jobRoles.datasetExport)
        .filter((s) => actionsOf(s).includes('s3:PutObject'))
        .map((s) => ({ actions: actionsOf(s), resource: JSON.stringify(s.Resource) }));
    // Assess
    const own = puts(template);
    assert.equal(own.length, 1);
    assert.deepEqual(own[0]?.actions, ['s3:PutObject']);
    assert.match(own[0]!.resource, /\/stage=dev\/exports\/\*"/);
    const withCopyPuts = puts(copying);
    assert.deepEqual(
      withCopyPuts.map((p) => p.resource).sort(),
      [...own.map((p) => p.resource), '"arn:aws:s3:::acme-reports/opsrail/*"'].sort(),
    );
    const deletes = statementsFor(copying, jobRoles.datasetExport)
      .flatMap(actionsOf)
      .filter((a) => /^s3:(Delete|PutObjectRetention|BypassGovernance)/.test(a) || a === 's3:*');
    assert.deepEqual(deletes, []);
  });

  test('only Finalize, RecordFailure, ExecutionEnded and the jobs declaring writes: evidence may write evidence: PutObject, and GetObject for the write-once comparison, under the stage prefix', () => {
    const s3Of = (role: string) =>
      statementsFor(template, role).filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    for (const writer of [
      'RunnerFinalizeRole',
      'RunnerRecordFailureRole',
      'RunnerExecutionEndedRole',
    ]) {
      const objects = s3Of(writer);
      assert.deepEqual(objects.flatMap(actionsOf).sort(), ['s3:GetObject', 's3:PutObject'], writer);
      assert.equal(objects.length, 1, writer);
      assert.match(JSON.stringify(objects[0]?.Resource), /\/stage=dev\/\*/);
    }
    // The control jobs write the control chain themselves, and read (and list) what they write.
    for (const writer of [
      jobRoles.quarantineRelease,
      jobRoles.killSwitchRelease,
      jobRoles.safetyRelax,
    ]) {
      const objects = s3Of(writer);
      assert.deepEqual(
        [...new Set(objects.flatMap(actionsOf))].sort(),
        ['s3:GetObject', 's3:ListBucket', 's3:PutObject'],
        writer,
      );
      for (const statement of objects.filter((s) => !actionsOf(s).includes('s3:ListBucket')))
        assert.match(JSON.stringify(statement.Resource), /\/stage=dev\/\*/, writer);
    }
    for (const other of [
      'RunnerPreflightRole',
      'RunnerRequestApprovalRole',
      'ApprovalEndpointPageRole',
      'ApprovalEndpointDecisionRole',
      'SchedulingSchedulerRole',
      jobRoles.evidenceIntegrityCheck,
      jobRoles.endpointHealthCheck,
      jobRoles.scheduleLedger,
      jobRoles.runRecordRetention,
      jobRoles.endpointLatencyMonitor,
      jobRoles.weeklyHealthReport,
      jobRoles.dailyObservabilityReport,
      jobRoles.weeklyObservabilityReport,
      jobRoles.weeklyImprovementDigest,
    ]) {
      assert.ok(statementsFor(template, other).length > 0, `${other} exists`);
      const writes = statementsFor(template, other)
        .flatMap(actionsOf)
        .filter((a) => /^s3:(Put|Delete|Abort)/.test(a) || a === 's3:*');
      assert.deepEqual(writes, [], `${other} must not write evidence`);
    }
  });

  test('Preflight touches no evidence at all; a job’s function reads it only when the job declares evidence', () => {
    const evidenceActions = (role: string) =>
      statementsFor(template, role)
        .flatMap(actionsOf)
        .filter((a) => a.startsWith('s3:') || a.startsWith('kms:'))
        .sort();
    assert.deepEqual(evidenceActions('RunnerPreflightRole'), []);
    // The latency jobs read earlier runs' samples, state and roll-ups; the digest, the control
    // events (kill-switches).
    for (const reader of [
      jobRoles.evidenceIntegrityCheck,
      jobRoles.endpointLatencyMonitor,
      jobRoles.weeklyHealthReport,
      jobRoles.weeklyImprovementDigest,
    ])
      assert.deepEqual(
        evidenceActions(reader),
        ['kms:Decrypt', 's3:GetObject', 's3:ListBucket'],
        reader,
      );
    for (const role of [
      jobRoles.endpointHealthCheck,
      jobRoles.scheduleLedger,
      jobRoles.runRecordRetention,
      // The observability reports read run records and breakers from the state table only.
      jobRoles.dailyObservabilityReport,
      jobRoles.weeklyObservabilityReport,
    ])
      assert.deepEqual(evidenceActions(role), [], role);
  });

  test('a built-in job may read exactly the secrets its params name by secret_ref, and no other job any', () => {
    // Prepare / Act
    const secretsOf = (role: string) =>
      statementsFor(template, role)
        .filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'))
        .flatMap((s) => [s.Resource].flat());
    // Assess: the catalog's weekly report names its webhook signing key; the monitor's default
    // endpoint has no header and no webhook.
    assert.deepEqual(secretsOf(jobRoles.weeklyHealthReport), [
      'arn:aws:secretsmanager:us-east-1:123456789012:secret:opsrail-webhook-signing-AbCdEf',
    ]);
    for (const role of [jobRoles.endpointLatencyMonitor, jobRoles.endpointHealthCheck])
      assert.deepEqual(secretsOf(role), [], role);
  });

  test('with a notification chain, exactly the functions that notify may read its two secrets', () => {
    // Prepare
    const slack = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:opsrail-slack-AbCdEf';
    const github = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:opsrail-gh-AbCdEf';
    const dir = policyFixture({
      'dev.json': (p) => ({
        ...p,
        notifications: {
          slack: { webhookSecretRef: slack },
          github: { owner: 'acme', repo: 'ops', issueNumber: 1, tokenSecretRef: github },
        },
      }),
    });
    // Act
    const notifying = Template.fromStack(
      buildApp(templateApp({ stage: 'dev' }), { policyDir: dir }),
    );
    const secretsOf = (t: Template, role: string) =>
      statementsFor(t, role)
        .filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'))
        .flatMap((s) => [s.Resource].flat())
        .filter((r) => r === slack || r === github)
        .sort();
    // Assess
    for (const role of [
      ...Object.values(jobRoles),
      'RunnerRecordFailureRole',
      'RunnerRequestApprovalRole',
      'RunnerExecutionEndedRole',
    ]) {
      assert.deepEqual(secretsOf(notifying, role), [github, slack].sort(), role);
      assert.deepEqual(secretsOf(template, role), [], role);
    }
    for (const role of ['RunnerPreflightRole', 'RunnerFinalizeRole'])
      assert.deepEqual(secretsOf(notifying, role), [], role);
  });

  test('no function has an AWS managed policy; the state machine may invoke exactly its step functions and one function per job', () => {
    for (const role of Object.values(template.findResources('AWS::IAM::Role')) as any[])
      assert.equal(role.Properties.ManagedPolicyArns, undefined);
    const invokes = statementsFor(template, 'RunnerJobRunRole').filter((s) =>
      actionsOf(s).includes('lambda:InvokeFunction'),
    );
    assert.equal(invokes.length, 1);
    assert.deepEqual(
      ((invokes[0]?.Resource as any[]) ?? [])
        .map((r) => r['Fn::GetAtt'][0].replace(/[A-F0-9]{8}$/, ''))
        .sort(),
      [
        'RunnerFinalize',
        'RunnerJobsDailyObservabilityReport',
        'RunnerJobsDatasetExport',
        'RunnerJobsEndpointHealthCheck',
        'RunnerJobsEndpointLatencyMonitor',
        'RunnerJobsEvidenceIntegrityCheck',
        'RunnerJobsKillSwitchRelease',
        'RunnerJobsQuarantineRelease',
        'RunnerJobsRunRecordRetention',
        'RunnerJobsSafetyRelax',
        'RunnerJobsScheduleLedger',
        'RunnerJobsWeeklyHealthReport',
        'RunnerJobsWeeklyImprovementDigest',
        'RunnerJobsWeeklyObservabilityReport',
        'RunnerPreflight',
        'RunnerRecordFailure',
        'RunnerRequestApproval',
      ],
    );
    // Each job function is named as Preflight names it in the run context.
    const names = Object.values(template.findResources('AWS::Lambda::Function'))
      .map((f: any) => f.Properties.FunctionName)
      .filter(Boolean)
      .sort();
    assert.deepEqual(names, [
      'opsrail-dev-job-daily_observability_report',
      'opsrail-dev-job-dataset_export',
      'opsrail-dev-job-endpoint_health_check',
      'opsrail-dev-job-endpoint_latency_monitor',
      'opsrail-dev-job-evidence_integrity_check',
      'opsrail-dev-job-kill_switch_release',
      'opsrail-dev-job-quarantine_release',
      'opsrail-dev-job-run_record_retention',
      'opsrail-dev-job-safety_relax',
      'opsrail-dev-job-schedule_ledger',
      'opsrail-dev-job-weekly_health_report',
      'opsrail-dev-job-weekly_improvement_digest',
      'opsrail-dev-job-weekly_observability_report',
    ]);
  });

  test('the approval endpoint has no write access to evidence; only its decision function may resolve the waiting task, and the link’s page URL needs no auth while the decision URL needs IAM', () => {
    for (const role of ['ApprovalEndpointPageRole', 'ApprovalEndpointDecisionRole']) {
      assert.deepEqual(
        statementsFor(template, role)
          .flatMap(actionsOf)
          .filter((a) => a.startsWith('s3:')),
        [],
        role,
      );
    }
    assert.deepEqual(
      statementsFor(template, 'ApprovalEndpointPageRole')
        .flatMap(actionsOf)
        .filter((a) => a.startsWith('states:')),
      [],
    );
    assert.deepEqual(
      statementsFor(template, 'ApprovalEndpointDecisionRole')
        .flatMap(actionsOf)
        .filter((a) => a.startsWith('states:'))
        .sort(),
      ['states:SendTaskFailure', 'states:SendTaskSuccess'],
    );
    const urls = Object.values(template.findResources('AWS::Lambda::Url')) as any[];
    assert.deepEqual(urls.map((u) => u.Properties.AuthType).sort(), ['AWS_IAM', 'NONE']);
    const request = Object.values(template.findResources('AWS::Lambda::Function')).find(
      (f: any) => f.Properties.Environment.Variables.SLACK_WEBHOOK_SECRET_ARN,
    ) as any;
    assert.ok(request, 'RequestApproval knows the Slack webhook only by its secret_ref');
    assert.ok(
      JSON.stringify(request.Properties.Environment.Variables.SLACK_WEBHOOK_SECRET_ARN).includes(
        'Ref',
      ),
    );
  });

  test('the scheduler role may only start this state machine (and send to its dead-letter queue)', () => {
    const actions = statementsFor(template, 'SchedulingSchedulerRole').flatMap(actionsOf).sort();
    assert.deepEqual(actions, [
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
      'states:StartExecution',
    ]);
  });
});
