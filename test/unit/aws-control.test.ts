import assert from 'node:assert/strict';
import { beforeEach, test } from 'vitest';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import {
  GetScheduleCommand,
  ListSchedulesCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { awsControlDependencies, stageResourceNames } from '../../cli/aws';
import {
  EventBridgeScheduleController,
  StepFunctionsExecutionController,
} from '../../functions/adapters/aws-control';
import { directoryPolicySource } from '../../functions/adapters/policy-sources';
import { loadPolicy } from '../../functions/core/policy';
import { DEFAULT_POLICY_DIR } from '../../local/stack';

// Step Functions, EventBridge Scheduler and CloudFormation have no local twin: their requests are
// proven here.
const sfn = mockClient(SFNClient);
const scheduler = mockClient(SchedulerClient);
const cloudformation = mockClient(CloudFormationClient);
const MACHINE = 'arn:aws:states:eu-west-1:111111111111:stateMachine:opsrail-dev-job-run';

beforeEach(() => {
  sfn.reset();
  scheduler.reset();
  cloudformation.reset();
});

test('engaging a job kill-switch in AWS stops only that job’s RUNNING executions, with the reason', async () => {
  sfn
    .on(ListExecutionsCommand)
    .resolvesOnce({
      executions: [{ executionArn: 'e1' } as never, { executionArn: 'e2' } as never],
      nextToken: 'more',
    })
    .resolvesOnce({ executions: [{ executionArn: 'e3' } as never] });
  sfn
    .on(DescribeExecutionCommand, { executionArn: 'e1' })
    .resolves({ input: '{"jobId":"target_job"}' });
  sfn
    .on(DescribeExecutionCommand, { executionArn: 'e2' })
    .resolves({ input: '{"jobId":"other_job"}' });
  sfn
    .on(DescribeExecutionCommand, { executionArn: 'e3' })
    .resolves({ input: '{"jobId":"target_job"}' });
  sfn.on(StopExecutionCommand).resolves({});

  const stopped = await new StepFunctionsExecutionController(
    new SFNClient({}),
    MACHINE,
  ).stopRunning('target_job', 'runaway');

  assert.deepEqual(stopped, ['e1', 'e3']);
  assert.deepEqual(
    sfn.commandCalls(ListExecutionsCommand).map((c) => c.args[0].input),
    [
      { stateMachineArn: MACHINE, statusFilter: 'RUNNING', nextToken: undefined },
      { stateMachineArn: MACHINE, statusFilter: 'RUNNING', nextToken: 'more' },
    ],
  );
  assert.deepEqual(
    sfn.commandCalls(StopExecutionCommand).map((c) => c.args[0].input),
    [
      { executionArn: 'e1', error: 'KillSwitchEngaged', cause: 'runaway' },
      { executionArn: 'e3', error: 'KillSwitchEngaged', cause: 'runaway' },
    ],
  );
});

test('the global kill-switch stops every running execution without reading inputs', async () => {
  sfn.on(ListExecutionsCommand).resolves({ executions: [{ executionArn: 'e1' } as never] });
  sfn.on(StopExecutionCommand).resolves({});
  assert.deepEqual(
    await new StepFunctionsExecutionController(new SFNClient({}), MACHINE).stopRunning(
      null,
      'stop all',
    ),
    ['e1'],
  );
  assert.equal(sfn.commandCalls(DescribeExecutionCommand).length, 0);
});

test('disabling schedules keeps every setting of the schedule and sets State DISABLED; missing ones are skipped', async () => {
  const target = {
    Arn: MACHINE,
    RoleArn: 'arn:aws:iam::111111111111:role/r',
    Input: '{"jobId":"a_job"}',
  };
  scheduler.on(ListSchedulesCommand).resolves({
    Schedules: [{ Name: 'opsrail-dev-a_job' }, { Name: 'opsrail-dev-gone' }] as never,
  });
  scheduler.on(GetScheduleCommand, { Name: 'opsrail-dev-a_job' }).resolves({
    State: 'ENABLED',
    ScheduleExpression: 'cron(0 9 * * ? *)',
    ScheduleExpressionTimezone: 'Asia/Tokyo',
    FlexibleTimeWindow: { Mode: 'OFF' },
    Target: target,
    Description: 'd',
  });
  scheduler
    .on(GetScheduleCommand, { Name: 'opsrail-dev-gone' })
    .rejects(new ResourceNotFoundException({ $metadata: {}, message: 'gone', Message: 'gone' }));
  scheduler.on(UpdateScheduleCommand).resolves({});

  const disabled = await new EventBridgeScheduleController(
    new SchedulerClient({}),
    'opsrail-dev',
    (j) => `opsrail-dev-${j}`,
  ).disable(null);

  assert.deepEqual(disabled, ['opsrail-dev-a_job']);
  const update = scheduler.commandCalls(UpdateScheduleCommand)[0]?.args[0].input;
  assert.equal(update?.State, 'DISABLED');
  assert.equal(update?.GroupName, 'opsrail-dev');
  assert.equal(update?.ScheduleExpressionTimezone, 'Asia/Tokyo');
  assert.deepEqual(update?.Target, target);
  assert.deepEqual(update?.FlexibleTimeWindow, { Mode: 'OFF' });
});

test('the CLI finds a deployed stage by its names and stack outputs, and says so when it is not deployed', async () => {
  const policy = loadPolicy(directoryPolicySource(DEFAULT_POLICY_DIR), 'dev');
  const clients = {
    dynamodb: new DynamoDBClient({ region: 'eu-west-1' }),
    s3: new S3Client({ region: 'eu-west-1' }),
    sfn: new SFNClient({}),
    scheduler: new SchedulerClient({}),
    cloudformation: new CloudFormationClient({}),
  };
  cloudformation.on(DescribeStacksCommand, { StackName: 'opsrail-dev' }).resolves({
    Stacks: [
      {
        StackName: 'opsrail-dev',
        Outputs: [{ OutputKey: 'EvidenceBucketName', OutputValue: 'bucket-1' }],
      },
    ] as never,
  });
  sfn.on(ListStateMachinesCommand).resolves({
    stateMachines: [{ name: 'opsrail-dev-job-run', stateMachineArn: MACHINE }] as never,
  });

  const deps = await awsControlDependencies(policy, clients);

  assert.equal(deps.policy.stage, 'dev');
  assert.equal(stageResourceNames('dev').stateTable, 'opsrail-dev-state');
  cloudformation
    .on(DescribeStacksCommand)
    .resolves({ Stacks: [{ StackName: 'opsrail-dev', Outputs: [] }] as never });
  await assert.rejects(awsControlDependencies(policy, clients), /is stage 'dev' deployed/);
});
