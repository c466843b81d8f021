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
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { ExecutionInput } from '../../contracts';
import type { ExecutionController } from '../core/controls';
import type { ScheduleSwitch } from '../core/schedule-pause';
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

/** Starts one execution of the job-run state machine now (opsrail trigger --stage S). */
export class StepFunctionsExecutionStarter {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  /** StartExecution with the input as EventBridge Scheduler sends it; returns the execution ARN. */
  async start(input: ExecutionInput): Promise<string> {
    const started = await call('Step Functions StartExecution', () =>
      this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          input: JSON.stringify(input),
        }),
      ),
    );
    return started.executionArn as string;
  }
}

/**
 * Sets the job's schedule (or every schedule of the stage's group) to DISABLED, keeping everything
 * else.
 */
export class EventBridgeScheduleController implements ScheduleSwitch {
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
    for (const name of names) if (await this.setState(name, 'DISABLED')) disabled.push(name);
    return disabled;
  }

  /** The job's schedule back to ENABLED (opsrail resume), keeping everything else. */
  async enable(jobId: string): Promise<string[]> {
    const name = this.scheduleName(jobId);
    return (await this.setState(name, 'ENABLED')) ? [name] : [];
  }

  /**
   * GetSchedule, then UpdateSchedule with everything it had and the new State; false when there is
   * no such schedule (a disabled job has none) or it is in that state already.
   */
  private async setState(name: string, state: 'ENABLED' | 'DISABLED'): Promise<boolean> {
    let current;
    try {
      current = await this.scheduler.send(
        new GetScheduleCommand({ GroupName: this.groupName, Name: name }),
      );
    } catch (error) {
      if ((error as { name?: string }).name === 'ResourceNotFoundException') return false; // a disabled job has no schedule
      throw wrapAwsError('Scheduler GetSchedule', error);
    }
    if (current.State === state) return false;
    // UpdateSchedule replaces the whole schedule: send back everything it had, with the new State.
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
      State: state,
    };
    await call('Scheduler UpdateSchedule', () =>
      this.scheduler.send(new UpdateScheduleCommand(update)),
    );
    return true;
  }
}
