import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app';
import { templateApp } from '../support/synth';
import { OpsrailFunction } from '../../infra/constructs/opsrail-function';
import {
  deadManWindow,
  expectedIntervalSeconds,
  heartbeatOf,
} from '../../functions/core/freshness';
import { directoryPolicySource } from '../../functions/adapters/policy-sources';
import { loadPolicy } from '../../functions/core/policy';
import { DEFAULT_POLICY_DIR } from '../../local/stack';
import { PER_JOB_METRICS } from '../../contracts/metrics';

describe('notifications, dashboard and alarms', () => {
  const dev = Template.fromStack(buildApp(templateApp({ stage: 'dev' })));
  const policy = loadPolicy(directoryPolicySource(DEFAULT_POLICY_DIR), 'dev');

  test('an SNS topic, KMS-encrypted and TLS-only, with the policy’s e-mail recipients', () => {
    dev.hasResourceProperties('AWS::SNS::Topic', {
      TopicName: 'opsrail-dev-alerts',
      KmsMasterKeyId: Match.anyValue(),
    });
    dev.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
    const subscriptions = Object.values(dev.findResources('AWS::SNS::Subscription')) as any[];
    assert.deepEqual(
      subscriptions.map((s) => [s.Properties.Protocol, s.Properties.Endpoint]),
      policy.settings.recipients.email.map((e) => ['email', e]),
    );
  });

  test('the Slack webhook and the link-signing key are secrets referenced by ARN, never a plain environment value', () => {
    dev.hasResourceProperties('AWS::SecretsManager::Secret', { Name: 'opsrail/dev/slack-webhook' });
    dev.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'opsrail/dev/approval-signing-key',
      GenerateSecretString: Match.objectLike({ PasswordLength: 64 }),
    });
    dev.hasOutput('SlackWebhookSecretRef', {});
    for (const fn of Object.values(dev.findResources('AWS::Lambda::Function')) as any[]) {
      assert.ok(
        !JSON.stringify(fn.Properties.Environment ?? {}).includes('SecretString'),
        'no secret value in a function environment',
      );
    }
  });

  test('alarms to the topic: failed or timed-out executions, a non-empty dead-letter queue, an approval pending as long as policy allows, and a dead-man’s switch per enabled job', () => {
    const alarms = Object.values(dev.findResources('AWS::CloudWatch::Alarm')) as any[];
    const names = alarms.map((a) => a.Properties.AlarmName).sort();
    const enabled = policy.jobs
      .filter((j) => j.enabled)
      .map((j) => `opsrail-dev-NoSuccess-${j.jobId}`);
    assert.deepEqual(
      names,
      [
        'opsrail-dev-ApprovalPendingTooLong',
        'opsrail-dev-DeadLettersNotEmpty',
        'opsrail-dev-ExecutionsFailed',
        'opsrail-dev-ExecutionsTimedOut',
        ...enabled,
      ].sort(),
    );
    const pending = alarms.find(
      (a) => a.Properties.AlarmName === 'opsrail-dev-ApprovalPendingTooLong',
    ).Properties;
    assert.deepEqual(
      [pending.MetricName, pending.ComparisonOperator, pending.Threshold],
      ['ApprovalExpired', 'GreaterThanOrEqualToThreshold', 1],
    );
    for (const a of alarms) assert.equal(a.Properties.AlarmActions.length, 1);
    const hourly = alarms.find(
      (a) => a.Properties.AlarmName === 'opsrail-dev-NoSuccess-evidence_integrity_check',
    ).Properties;
    assert.deepEqual(
      [
        hourly.MetricName,
        hourly.Namespace,
        hourly.Period,
        hourly.EvaluationPeriods,
        hourly.ComparisonOperator,
        hourly.TreatMissingData,
      ],
      ['RunSucceeded', 'opsrail', 3600 + 30 * 60, 1, 'LessThanThreshold', 'breaching'],
    );
    assert.deepEqual(hourly.Dimensions.map((d: { Name: string }) => d.Name).sort(), [
      'jobId',
      'service',
      'stage',
    ]);
  });

  test('opsrail verify --freshness allows each enabled job exactly the age its deployed dead-man alarm watches', () => {
    // Prepare
    const alarms = Object.values(dev.findResources('AWS::CloudWatch::Alarm')) as any[];
    const grace = policy.settings.thresholds.deadManGraceMinutes;
    for (const job of policy.jobs.filter((j) => j.enabled)) {
      const alarm = alarms.find(
        (a) => a.Properties.AlarmName === `opsrail-dev-NoSuccess-${job.jobId}`,
      ).Properties;
      // Act
      const beat = heartbeatOf(job, undefined, grace, new Date());
      // Assess
      assert.equal(beat.maxAgeSeconds, alarm.Period * alarm.EvaluationPeriods, job.jobId);
    }
  });

  test('the dead-man window follows the schedule: hourly, daily, weekly (capped at 7 days)', () => {
    const job = (expression: string) => ({
      ...policy.jobs[0]!,
      schedule: { expression, timezone: 'Asia/Tokyo' },
    });
    assert.equal(expectedIntervalSeconds(job('cron(0 * * * ? *)')), 3600);
    assert.equal(
      expectedIntervalSeconds(job('cron(0 9 ? * MON-FRI *)')),
      3 * 86400,
      'Friday to Monday is the longest gap',
    );
    assert.equal(expectedIntervalSeconds(job('at(2026-05-01T09:00:00)')), null);
    assert.deepEqual(deadManWindow(3600, 30), { periodSeconds: 5400, evaluationPeriods: 1 });
    assert.deepEqual(deadManWindow(3 * 86400, 30), { periodSeconds: 86400, evaluationPeriods: 4 });
    assert.deepEqual(deadManWindow(7 * 86400, 30), { periodSeconds: 86400, evaluationPeriods: 7 });
  });

  test('a dashboard per stage: the stage’s success rate, failures, retries, p95 duration; per job a Logs Insights table over the run records; approvals and pending approvals', () => {
    const [dashboard] = Object.values(dev.findResources('AWS::CloudWatch::Dashboard')) as any[];
    assert.equal(dashboard.Properties.DashboardName, 'opsrail-dev');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const title of [
      'Per job: runs, success rate, failures, retries, p95 duration, quarantines, refusals',
      'Success rate (%)',
      'Failures, refusals and quarantines entered',
      'Retries',
      'p95 duration (ms)',
      'Successful runs per enabled job',
      'Pending approvals',
      'Approvals: requested, approved, rejected, expired',
    ])
      assert.ok(body.includes(title), title);
    assert.ok(body.includes('\\"p95\\"'));
    // The per-job table reads the EMF records of the functions that finish runs.
    assert.match(body, /stats sum\(RunCompleted\) as runs.* by jobId/);
    assert.match(body, /SOURCE '/);
  });

  test('the KPI widgets: per job and day or 7 days by Logs Insights, for the stage by metric math over stage metrics', () => {
    // Prepare
    const [dashboard] = Object.values(dev.findResources('AWS::CloudWatch::Dashboard')) as any[];
    // The body is a join of JSON text and references (region, log groups): references as text.
    const widgets = JSON.parse(
      (dashboard.Properties.DashboardBody['Fn::Join'][1] as unknown[])
        .map((part) => (typeof part === 'string' ? part : 'REF'))
        .join(''),
    ).widgets as any[];
    const titled = (prefix: string) =>
      widgets.filter((w) => w.properties.title?.startsWith(prefix));
    // Act
    const [daily, weekly] = [titled('KPIs per job and day'), titled('KPIs per job and 7 days')];
    const [stageDaily, stageWeekly] = [
      titled('Stage KPIs per day'),
      titled('Stage KPIs per 7 days'),
    ];
    // Assess: the per-job tables bin by day and by 7 days, by job, the KPIs of the definitions.
    for (const [widget, bin] of [
      [daily, '1d'],
      [weekly, '7d'],
    ] as const) {
      assert.equal(widget.length, 1);
      const query = widget[0].properties.query as string;
      assert.match(query, /filter ispresent\(RunCompleted\)/);
      for (const stat of [
        'sum(RunSucceeded) / sum(RunCompleted) as success_rate',
        'sum(RunRetries) / sum(RunCompleted) as mean_retries',
        'pct(RunDurationMs, 50) as p50_duration_ms',
        'pct(RunDurationMs, 95) as p95_duration_ms',
      ])
        assert.ok(query.includes(stat), stat);
      assert.ok(query.includes(`by bin(${bin}) as period_start, jobId`), bin);
    }
    // The stage's: success rate and mean retries as metric math, p50/p95 as statistics, a day or
    // 7 days a point, over metrics without a jobId dimension.
    for (const [widget, period] of [
      [stageDaily, 86_400],
      [stageWeekly, 604_800],
    ] as const) {
      assert.equal(widget.length, 1);
      const metrics = JSON.stringify(widget[0].properties.metrics);
      assert.ok(metrics.includes('FILL(s, 0) / c') && metrics.includes('FILL(r, 0) / c'));
      assert.ok(metrics.includes('"stat":"p50"') && metrics.includes('"stat":"p95"'));
      assert.ok(metrics.includes(`"period":${period}`));
      assert.ok(!metrics.includes('jobId'));
    }
  });

  test('no metric carries a per-job dimension but the ones an alarm needs (RunSucceeded, for the dead-man switch)', () => {
    // Prepare: every metric the template names, in alarms and in the dashboard.
    const alarms = Object.values(dev.findResources('AWS::CloudWatch::Alarm')) as any[];
    const alarmMetrics = alarms.map((a) => ({
      name: a.Properties.MetricName as string | undefined,
      dimensions: ((a.Properties.Dimensions ?? []) as { Name: string }[]).map((d) => d.Name),
    }));
    const [dashboard] = Object.values(dev.findResources('AWS::CloudWatch::Dashboard')) as any[];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    // Dashboard metrics render as ["opsrail","<name>","service","opsrail","stage","dev",…].
    const dashboardMetrics = [...body.matchAll(/\[\\"opsrail\\",\\"(\w+)\\",([^\]]*)\]/g)].map(
      (m) => ({ name: m[1], dimensions: m[2]!.includes('jobId') ? ['jobId'] : [] }),
    );

    // Assess
    assert.ok(dashboardMetrics.length >= 5, 'the dashboard names its metrics');
    const perJob = [...alarmMetrics, ...dashboardMetrics].filter((m) =>
      m.dimensions.includes('jobId'),
    );
    assert.ok(perJob.length >= 1, 'the dead-man switch alarms are per job');
    assert.deepEqual([...new Set(perJob.map((m) => m.name))], [...PER_JOB_METRICS]);
  });

  test('a function whose environment misses a variable the handlers need fails the synth, not the first invocation', () => {
    const stack = new Stack(new App(), 'Probe');
    assert.throws(
      () =>
        new OpsrailFunction(stack, 'Broken', {
          functionDir: 'preflight',
          description: 'd',
          environment: { OPSRAIL_STAGE: 'dev' } as never,
          logRetentionDays: 7,
          removalPolicy: RemovalPolicy.DESTROY,
          timeout: undefined as never,
        }),
      /STATE_TABLE_NAME/,
    );
  });
});
