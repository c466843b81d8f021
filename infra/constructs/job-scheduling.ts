import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnSchedule, CfnScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { stageResourceNames } from '../../contracts/resource-names';
import type { ExecutionInput, JobDefinition, StagePolicy } from '../../contracts';

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
        return schedule;
      });
  }
}
