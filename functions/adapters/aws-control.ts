import {
  GetScheduleCommand,
  ListSchedulesCommand,
  type SchedulerClient,
  UpdateScheduleCommand,
  type UpdateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  type SFNClient,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { ExecutionController, ScheduleController } from '../core/controls';
import { wrapAwsError } from './aws-errors';

async function call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw wrapAwsError(operation, error);
  }
}

/** StopExecution on every RUNNING execution of the job-run state machine (of one job, or all). */
export class StepFunctionsExecutionController implements ExecutionController {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async stopRunning(jobId: string | null, reason: string): Promise<string[]> {
    const stopped: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await call('Step Functions ListExecutions', () =>
        this.sfn.send(
          new ListExecutionsCommand({
            stateMachineArn: this.stateMachineArn,
            statusFilter: 'RUNNING',
            nextToken,
          }),
        ),
      );
      for (const execution of page.executions ?? []) {
        const arn = execution.executionArn as string;
        if (jobId !== null) {
          const described = await call('Step Functions DescribeExecution', () =>
            this.sfn.send(new DescribeExecutionCommand({ executionArn: arn })),
          );
          if ((JSON.parse(described.input ?? '{}') as { jobId?: string }).jobId !== jobId) continue;
        }
        await call('Step Functions StopExecution', () =>
          this.sfn.send(
            new StopExecutionCommand({
              executionArn: arn,
              error: 'KillSwitchEngaged',
              cause: reason.slice(0, 32768),
            }),
          ),
        );
        stopped.push(arn);
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return stopped;
  }
}

/**
 * Sets the job's schedule (or every schedule of the stage's group) to DISABLED, keeping everything
 * else.
 */
export class EventBridgeScheduleController implements ScheduleController {
  constructor(
    private readonly scheduler: SchedulerClient,
    private readonly groupName: string,
    private readonly scheduleName: (jobId: string) => string,
  ) {}

  async disable(jobId: string | null): Promise<string[]> {
    const names: string[] = [];
    if (jobId !== null) names.push(this.scheduleName(jobId));
    else {
      let nextToken: string | undefined;
      do {
        const page = await call('Scheduler ListSchedules', () =>
          this.scheduler.send(
            new ListSchedulesCommand({ GroupName: this.groupName, NextToken: nextToken }),
          ),
        );
        names.push(...(page.Schedules ?? []).map((s) => s.Name as string));
        nextToken = page.NextToken;
      } while (nextToken);
    }
    const disabled: string[] = [];
    for (const name of names) {
      let current;
      try {
        current = await this.scheduler.send(
          new GetScheduleCommand({ GroupName: this.groupName, Name: name }),
        );
      } catch (error) {
        if ((error as { name?: string }).name === 'ResourceNotFoundException') continue; // a disabled job has no schedule
        throw wrapAwsError('Scheduler GetSchedule', error);
      }
      if (current.State === 'DISABLED') continue;
      // UpdateSchedule replaces the whole schedule: send back everything it had, with State
      // DISABLED.
      const update: UpdateScheduleCommandInput = {
        Name: name,
        GroupName: this.groupName,
        ScheduleExpression: current.ScheduleExpression,
        ScheduleExpressionTimezone: current.ScheduleExpressionTimezone,
        FlexibleTimeWindow: current.FlexibleTimeWindow,
        Target: current.Target,
        Description: current.Description,
        StartDate: current.StartDate,
        EndDate: current.EndDate,
        KmsKeyArn: current.KmsKeyArn,
        ActionAfterCompletion: current.ActionAfterCompletion,
        State: 'DISABLED',
      };
      await call('Scheduler UpdateSchedule', () =>
        this.scheduler.send(new UpdateScheduleCommand(update)),
      );
      disabled.push(name);
    }
    return disabled;
  }
}
