import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { ListStateMachinesCommand, SFNClient } from '@aws-sdk/client-sfn';
import { stackOutputKeys, stageResourceNames } from '../contracts/resource-names';
import {
  EventBridgeScheduleController,
  StepFunctionsExecutionController,
  StepFunctionsExecutionStarter,
} from '../functions/adapters/aws-control';
import { DynamoDbStateStore } from '../functions/adapters/dynamodb-state-store';
import { S3EvidenceStore } from '../functions/adapters/s3-evidence-store';
import { wrapAwsError } from '../functions/adapters/aws-errors';
import { systemClock } from '../functions/core/clock';
import type { ControlDependencies, ExecutionController } from '../functions/core/controls';
import type { ScheduleSwitch } from '../functions/core/schedule-pause';
import { ConfigurationError } from '../functions/core/errors';
import type { ResolvedPolicy } from '../functions/core/policy';
import { createRedactor } from '../functions/core/redaction';

/** Names the CDK stack gives a stage's resources: one module, shared with infra/. */
export { stageResourceNames } from '../contracts/resource-names';

export interface AwsClients {
  dynamodb: DynamoDBClient;
  s3: S3Client;
  sfn: SFNClient;
  scheduler: SchedulerClient;
  cloudformation: CloudFormationClient;
}

export const defaultAwsClients = (): AwsClients => ({
  dynamodb: new DynamoDBClient({}),
  s3: new S3Client({}),
  sfn: new SFNClient({}),
  scheduler: new SchedulerClient({}),
  cloudformation: new CloudFormationClient({}),
});

/** The deployed stage's control plane, reached with the operator's own AWS credentials. */
export async function awsControlDependencies(
  policy: ResolvedPolicy,
  clients: AwsClients,
): Promise<
  ControlDependencies & {
    executions: ExecutionController;
    schedules: ScheduleSwitch;
    starter: StepFunctionsExecutionStarter;
  }
> {
  const names = stageResourceNames(policy.stage);
  let stack;
  try {
    stack = (
      await clients.cloudformation.send(new DescribeStacksCommand({ StackName: names.stack }))
    ).Stacks?.[0];
  } catch (error) {
    throw wrapAwsError(`CloudFormation DescribeStacks ${names.stack}`, error);
  }
  const bucket = stack?.Outputs?.find(
    (o) => o.OutputKey === stackOutputKeys.evidenceBucketName,
  )?.OutputValue;
  if (!bucket)
    throw new ConfigurationError(
      `stack ${names.stack} has no EvidenceBucketName output: is stage '${policy.stage}' deployed?`,
    );
  let stateMachineArn: string | undefined;
  let nextToken: string | undefined;
  do {
    const page = await clients.sfn
      .send(new ListStateMachinesCommand({ nextToken }))
      .catch((error: unknown) => {
        throw wrapAwsError('Step Functions ListStateMachines', error);
      });
    stateMachineArn = page.stateMachines?.find(
      (m) => m.name === names.stateMachine,
    )?.stateMachineArn;
    nextToken = stateMachineArn ? undefined : page.nextToken;
  } while (nextToken);
  if (!stateMachineArn)
    throw new ConfigurationError(
      `state machine ${names.stateMachine} not found: is stage '${policy.stage}' deployed?`,
    );
  return {
    policy,
    redactor: createRedactor(policy.settings.redaction),
    state: new DynamoDbStateStore(clients.dynamodb, names.stateTable),
    evidence: new S3EvidenceStore(clients.s3, bucket),
    clock: systemClock,
    executions: new StepFunctionsExecutionController(clients.sfn, stateMachineArn),
    starter: new StepFunctionsExecutionStarter(clients.sfn, stateMachineArn),
    schedules: new EventBridgeScheduleController(
      clients.scheduler,
      names.scheduleGroup,
      names.schedule,
    ),
  };
}
