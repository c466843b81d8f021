import { Duration } from 'aws-cdk-lib';
import {
  type Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  LogQueryWidget,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { Topic } from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { JobDefinition } from '../../contracts';
import { stageResourceNames } from '../../contracts/resource-names';
import {
  APPROVAL_METRICS,
  METRIC_NAMESPACE,
  type PER_JOB_METRICS,
  RUN_METRICS,
} from '../../contracts/metrics';
import { deadManWindow, expectedIntervalSeconds } from '../../functions/core/freshness';

export interface ObservabilityProps {
  stage: string;
  jobs: JobDefinition[];
  deadManGraceMinutes: number;
  stateMachine: StateMachine;
  deadLetterQueue: Queue;
  topic: Topic;
  /** Where the run metrics' EMF records are written (the functions that finish runs). */
  runLogGroups: ILogGroup[];
}

/**
 * The stage's health without a query: a dashboard (success rate, failures, retries, p95 duration
 * per job, quarantines) and alarms to the SNS topic for failed or timed-out executions, a
 * dead-letter queue that is not empty, and each enabled job with no successful run within its
 * expected interval plus grace (a dead-man's switch: a job that did not run is a failure).
 */
export class Observability extends Construct {
  readonly dashboard: Dashboard;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const action = new SnsAction(props.topic);
    // Per stage: every run metric. Per job: only what an alarm needs (PER_JOB_METRICS); the
    // dashboard's per-job figures come from the EMF records by Logs Insights (docs/observability.md).
    const stageMetric = (name: string, statistic = 'Sum', period = Duration.hours(1)) =>
      new Metric({
        namespace: METRIC_NAMESPACE,
        metricName: name,
        dimensionsMap: { service: 'opsrail', stage: props.stage },
        statistic,
        period,
      });
    const jobMetric = (
      name: (typeof PER_JOB_METRICS)[number],
      jobId: string,
      period = Duration.hours(1),
    ) =>
      new Metric({
        namespace: METRIC_NAMESPACE,
        metricName: name,
        dimensionsMap: { service: 'opsrail', stage: props.stage, jobId },
        statistic: 'Sum',
        period,
      });
    const alarm = (
      alarmId: string,
      metric: Metric,
      options: {
        threshold: number;
        comparison: ComparisonOperator;
        evaluationPeriods?: number;
        missing: TreatMissingData;
        description: string;
      },
    ) => {
      const created = metric.createAlarm(this, alarmId, {
        alarmName: stageResourceNames(props.stage).alarm(alarmId),
        alarmDescription: options.description,
        threshold: options.threshold,
        comparisonOperator: options.comparison,
        evaluationPeriods: options.evaluationPeriods ?? 1,
        datapointsToAlarm: options.evaluationPeriods ?? 1,
        treatMissingData: options.missing,
      });
      created.addAlarmAction(action);
      this.alarms.push(created);
      return created;
    };

    const period = Duration.minutes(5);
    alarm('ExecutionsFailed', props.stateMachine.metricFailed({ period, statistic: 'Sum' }), {
      threshold: 1,
      comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      missing: TreatMissingData.NOT_BREACHING,
      description: 'A job-run execution failed (its failure is evidenced in its bundle).',
    });
    alarm('ExecutionsTimedOut', props.stateMachine.metricTimedOut({ period, statistic: 'Sum' }), {
      threshold: 1,
      comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      missing: TreatMissingData.NOT_BREACHING,
      description: 'A job-run execution timed out.',
    });
    alarm(
      'DeadLettersNotEmpty',
      props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period,
        statistic: 'Maximum',
      }),
      {
        threshold: 1,
        comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        missing: TreatMissingData.NOT_BREACHING,
        description:
          'A scheduled tick could not be delivered to the state machine: it is in the dead-letter queue.',
      },
    );
    const approvalMetric = (name: string, period = Duration.hours(1)) =>
      new Metric({
        namespace: METRIC_NAMESPACE,
        metricName: name,
        dimensionsMap: { service: 'opsrail', stage: props.stage },
        statistic: 'Sum',
        period,
      });
    alarm('ApprovalPendingTooLong', approvalMetric(APPROVAL_METRICS.expired, period), {
      threshold: 1,
      comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      missing: TreatMissingData.NOT_BREACHING,
      description:
        'An approval request waited as long as policy allows (approvals.timeoutSeconds) without a decision; its run was refused.',
    });
    for (const job of props.jobs.filter((j) => j.enabled)) {
      const interval = expectedIntervalSeconds(job);
      if (interval === null) continue;
      const { periodSeconds, evaluationPeriods } = deadManWindow(
        interval,
        props.deadManGraceMinutes,
      );
      alarm(
        `NoSuccess-${job.jobId}`,
        jobMetric(RUN_METRICS.succeeded, job.jobId, Duration.seconds(periodSeconds)),
        {
          threshold: 1,
          comparison: ComparisonOperator.LESS_THAN_THRESHOLD,
          evaluationPeriods,
          missing: TreatMissingData.BREACHING,
          description: `${job.jobId} (${job.schedule.expression} ${job.schedule.timezone}) had no successful run within its interval plus ${props.deadManGraceMinutes} min of grace.`,
        },
      );
    }

    const successRate = new MathExpression({
      expression: '100 * FILL(s, 0) / c',
      usingMetrics: {
        s: stageMetric(RUN_METRICS.succeeded),
        c: stageMetric(RUN_METRICS.completed),
      },
      label: 'success rate',
      period: Duration.hours(1),
    });
    const perJobTable = new LogQueryWidget({
      title: 'Per job: runs, success rate, failures, retries, p95 duration, quarantines, refusals',
      logGroupNames: props.runLogGroups.map((g) => g.logGroupName),
      queryLines: [
        `filter ispresent(${RUN_METRICS.completed})`,
        [
          `stats sum(${RUN_METRICS.completed}) as runs`,
          `100 * sum(${RUN_METRICS.succeeded}) / sum(${RUN_METRICS.completed}) as success_pct`,
          `sum(${RUN_METRICS.failed}) as failures`,
          `sum(${RUN_METRICS.retries}) as retries`,
          `pct(${RUN_METRICS.durationMs}, 95) as p95_ms`,
          `sum(${RUN_METRICS.quarantineEntered}) as quarantines`,
          `sum(${RUN_METRICS.refused}) as refused by jobId`,
        ].join(', '),
        'sort failures desc, jobId asc',
      ],
      width: 24,
      height: 8,
    });
    // The KPIs (docs/observability.md#kpis): per job and day or week by Logs Insights over the EMF
    // records (no per-job metric), for the stage by metric math over the stage's run metrics.
    const kpiStats = [
      `stats sum(${RUN_METRICS.completed}) as runs`,
      `sum(${RUN_METRICS.succeeded}) / sum(${RUN_METRICS.completed}) as success_rate`,
      `sum(${RUN_METRICS.failed}) as failures`,
      `sum(${RUN_METRICS.refused}) as refused`,
      `sum(${RUN_METRICS.retries}) / sum(${RUN_METRICS.completed}) as mean_retries`,
      `pct(${RUN_METRICS.durationMs}, 50) as p50_duration_ms`,
      `pct(${RUN_METRICS.durationMs}, 95) as p95_duration_ms`,
    ].join(', ');
    const kpiTable = (title: string, bin: '1d' | '7d') =>
      new LogQueryWidget({
        title,
        logGroupNames: props.runLogGroups.map((g) => g.logGroupName),
        queryLines: [
          `filter ispresent(${RUN_METRICS.completed})`,
          `${kpiStats} by bin(${bin}) as period_start, jobId`,
          'sort period_start desc, jobId asc',
        ],
        width: 12,
        height: 8,
      });
    const stageKpis = (title: string, period: Duration) => {
      const sum = (name: string) => stageMetric(name, 'Sum', period);
      return new GraphWidget({
        title,
        left: [
          new MathExpression({
            expression: 'FILL(s, 0) / c',
            usingMetrics: { s: sum(RUN_METRICS.succeeded), c: sum(RUN_METRICS.completed) },
            label: 'success rate',
            period,
          }),
          new MathExpression({
            expression: 'FILL(r, 0) / c',
            usingMetrics: { r: sum(RUN_METRICS.retries), c: sum(RUN_METRICS.completed) },
            label: 'mean retries per run',
            period,
          }),
        ],
        right: (['p50', 'p95'] as const).map((p) =>
          stageMetric(RUN_METRICS.durationMs, p, period).with({ label: `${p} duration (ms)` }),
        ),
        leftYAxis: { min: 0 },
        rightYAxis: { min: 0 },
        width: 12,
      });
    };
    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: stageResourceNames(props.stage).dashboard,
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `# opsrail ${props.stage}\nRuns of every job, from the run metrics. Evidence: \`opsrail verify\`, Athena workgroup \`${stageResourceNames(props.stage).athenaWorkGroup}\`.`,
        width: 24,
        height: 2,
      }),
      perJobTable,
      kpiTable('KPIs per job and day (UTC): success rate, mean retries, p50/p95 duration', '1d'),
      kpiTable('KPIs per job and 7 days: success rate, mean retries, p50/p95 duration', '7d'),
      stageKpis(
        'Stage KPIs per day: success rate, mean retries; p50/p95 duration',
        Duration.days(1),
      ),
      stageKpis(
        'Stage KPIs per 7 days: success rate, mean retries; p50/p95 duration',
        Duration.days(7),
      ),
      new GraphWidget({
        title: 'Success rate (%)',
        left: [successRate],
        width: 12,
        leftYAxis: { min: 0, max: 100 },
      }),
      new GraphWidget({
        title: 'Failures, refusals and quarantines entered',
        left: [RUN_METRICS.failed, RUN_METRICS.refused, RUN_METRICS.quarantineEntered].map((n) =>
          stageMetric(n).with({ label: n }),
        ),
        width: 12,
      }),
      new GraphWidget({
        title: 'Retries',
        left: [stageMetric(RUN_METRICS.retries).with({ label: RUN_METRICS.retries })],
        width: 12,
      }),
      new GraphWidget({
        title: 'p95 duration (ms)',
        left: [stageMetric(RUN_METRICS.durationMs, 'p95').with({ label: 'p95' })],
        width: 12,
      }),
      new GraphWidget({
        title: 'Successful runs per enabled job (the dead-man switch metric)',
        left: props.jobs
          .filter((j) => j.enabled)
          .map((j) => jobMetric(RUN_METRICS.succeeded, j.jobId).with({ label: j.jobId })),
        width: 12,
      }),
      new GraphWidget({
        title: 'Approvals: requested, approved, rejected, expired',
        left: [
          APPROVAL_METRICS.requested,
          APPROVAL_METRICS.approved,
          APPROVAL_METRICS.rejected,
          APPROVAL_METRICS.expired,
        ].map((name) => approvalMetric(name).with({ label: name })),
        width: 12,
      }),
      new GraphWidget({
        title: 'Pending approvals',
        left: [
          new MathExpression({
            expression: 'RUNNING_SUM(FILL(r, 0) - FILL(a, 0) - FILL(j, 0) - FILL(e, 0))',
            usingMetrics: {
              r: approvalMetric(APPROVAL_METRICS.requested),
              a: approvalMetric(APPROVAL_METRICS.approved),
              j: approvalMetric(APPROVAL_METRICS.rejected),
              e: approvalMetric(APPROVAL_METRICS.expired),
            },
            label: 'pending',
            period: Duration.hours(1),
          }),
        ],
        width: 12,
      }),
    );
  }
}
