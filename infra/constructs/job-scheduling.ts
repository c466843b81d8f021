import { Annotations, Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnSchedule, CfnScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { stageResourceNames } from '../../contracts/resource-names';
import {
  type ExecutionInput,
  type JobDefinition,
  parseScheduleExpression,
  type StagePolicy,
} from '../../contracts';
import { rateTickAtOrAfter } from '../../functions/core/schedule';
import { lintSchedule } from '../../functions/core/schedule-lint';
import { SynthTimeError } from '../errors';

/**
 * The synth's clock: the `opsrail:synthTime` context (an ISO instant, for tests and reproducible
 * templates), else now.
 */
export const SYNTH_TIME_CONTEXT = 'opsrail:synthTime';

/**
 * How far after the synth a rate schedule's StartDate is at least: AWS refuses a StartDate more
 * than 5 minutes in the past, and a deploy reaches the schedules some minutes after the synth.
 */
export const RATE_START_LEAD_MINUTES = 15;

/**
 * A rate schedule's StartDate: the first tick of the local scheduler's grid (multiples of the rate
 * since the Unix epoch) at least RATE_START_LEAD_MINUTES after the synth, so AWS's ticks, every
 * rate after it, are the local ones (docs/scheduling.md#rate-anchor). Cron and at(…) need none.
 */
export function rateStartDate(expression: string, synthTime: Date): string | undefined {
  const parsed = parseScheduleExpression(expression);
  if (parsed.kind !== 'rate') return undefined;
  const notBefore = new Date(synthTime.getTime() + RATE_START_LEAD_MINUTES * 60_000);
  return rateTickAtOrAfter(parsed.minutes, notBefore).toISOString();
}

/**
 * EventBridge Scheduler's MaximumEventAgeInSeconds from the catch-up window: a tick older than
 * `scheduler.catchUpMinutes` is not delivered late (it goes to the dead-letter queue), as the local
 * scheduler skips it (docs/scheduling.md#catch-up).
 */
export function maximumEventAgeSeconds(
  scheduler: Pick<StagePolicy['scheduler'], 'catchUpMinutes'>,
) {
  return scheduler.catchUpMinutes * 60;
}

export interface JobSchedulingProps {
  stage: string;
  jobs: JobDefinition[];
  scheduler: StagePolicy['scheduler'];
  stateMachine: StateMachine;
  removalPolicy: RemovalPolicy;
}

/**
 * One EventBridge Scheduler schedule per enabled catalog job, and nothing else: the catalog is the
 * only source of schedules (no hidden jobs). Each starts the job-run state machine with the tick's
 * own scheduled time, so a redelivered tick is the same run.
 */
export class JobScheduling extends Construct {
  readonly group: CfnScheduleGroup;
  readonly deadLetterQueue: Queue;
  readonly schedules: CfnSchedule[];

  constructor(scope: Construct, id: string, props: JobSchedulingProps) {
    super(scope, id);
    this.group = new CfnScheduleGroup(this, 'Group', {
      name: stageResourceNames(props.stage).scheduleGroup,
    });
    this.deadLetterQueue = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: props.removalPolicy,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the schedules; an alarm watches it.',
    });
    const role = new Role(this, 'SchedulerRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com'),
      description: `opsrail ${props.stage}: EventBridge Scheduler may start the job-run state machine, nothing else`,
    });
    role.addToPolicy(
      new PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [props.stateMachine.stateMachineArn],
      }),
    );
    this.deadLetterQueue.grantSendMessages(role);

    const synthContext = this.node.tryGetContext(SYNTH_TIME_CONTEXT) as string | undefined;
    const synthTime = synthContext ? new Date(synthContext) : new Date();
    if (Number.isNaN(synthTime.getTime()))
      throw new SynthTimeError(
        `${SYNTH_TIME_CONTEXT} must be an ISO instant, got '${synthContext}'`,
      );
    this.schedules = props.jobs
      .filter((job) => job.enabled)
      .map((job) => {
        const input: Omit<ExecutionInput, 'scheduledTime'> & { scheduledTime: string } = {
          jobId: job.jobId,
          scheduledTime: '<aws.scheduler.scheduled-time>',
          trigger: 'schedule',
        };
        const schedule = new CfnSchedule(this, `Schedule-${job.jobId}`, {
          name: stageResourceNames(props.stage).schedule(job.jobId),
          groupName: this.group.name,
          description: `${job.jobId} ${job.jobVersion} (${job.jobClass}, owner ${job.owner})`,
          scheduleExpression: job.schedule.expression,
          scheduleExpressionTimezone: job.schedule.timezone,
          startDate: rateStartDate(job.schedule.expression, synthTime),
          flexibleTimeWindow: { mode: 'OFF' },
          state: 'ENABLED',
          target: {
            arn: props.stateMachine.stateMachineArn,
            roleArn: role.roleArn,
            input: JSON.stringify(input),
            retryPolicy: {
              maximumRetryAttempts: props.scheduler.maximumRetryAttempts,
              // The catch-up window, the same policy value the local scheduler skips older ticks by
              // (docs/scheduling.md#catch-up).
              maximumEventAgeInSeconds: maximumEventAgeSeconds(props.scheduler),
            },
            deadLetterConfig: { arn: this.deadLetterQueue.queueArn },
          },
        });
        schedule.node.addDependency(this.group);
        // The schedule lint as synth warnings (docs/scheduling.md#lint); each acknowledgeable by
        // its id.
        for (const finding of lintSchedule(job, synthTime))
          Annotations.of(schedule).addWarningV2(
            `opsrail:schedule-lint:${finding.code}`,
            `${finding.jobId}: ${finding.message}`,
          );
        return schedule;
      });
  }
}
