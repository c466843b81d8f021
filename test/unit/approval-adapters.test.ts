import assert from 'node:assert/strict';
import { beforeEach, test } from 'vitest';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import {
  readSecret,
  SnsAnnouncer,
  StepFunctionsTaskCallbacks,
} from '../../functions/adapters/approval-adapters';
import { toApprovalRequest } from '../../functions/approval-endpoint/handler';

// Step Functions task tokens, SNS and Secrets Manager have no local twin: their requests are proven
// here.
const sfn = mockClient(SFNClient);
const sns = mockClient(SNSClient);
const secrets = mockClient(SecretsManagerClient);
beforeEach(() => {
  sfn.reset();
  sns.reset();
  secrets.reset();
});

test('a decision resolves the waiting task with SendTaskSuccess / SendTaskFailure', async () => {
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
  const tasks = new StepFunctionsTaskCallbacks(new SFNClient({}));
  assert.equal(await tasks.succeed('tok', { decidedBy: 'bob' }), 'sent');
  assert.equal(await tasks.fail('tok', 'ApprovalRejected', 'no'), 'sent');
  assert.deepEqual(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input, {
    taskToken: 'tok',
    output: '{"decidedBy":"bob"}',
  });
  assert.deepEqual(sfn.commandCalls(SendTaskFailureCommand)[0]?.args[0].input, {
    taskToken: 'tok',
    error: 'ApprovalRejected',
    cause: 'no',
  });
});

test('TaskTimedOut and InvalidToken mean the run stopped waiting: task_gone, not an error', async () => {
  const tasks = new StepFunctionsTaskCallbacks(new SFNClient({}));
  sfn
    .on(SendTaskSuccessCommand)
    .rejectsOnce(new TaskTimedOut({ $metadata: {}, message: 'timed out' }))
    .rejectsOnce(new InvalidToken({ $metadata: {}, message: 'bad' }));
  assert.equal(await tasks.succeed('tok', {}), 'task_gone');
  assert.equal(await tasks.succeed('tok', {}), 'task_gone');
  sfn.on(SendTaskSuccessCommand).rejects(
    Object.assign(new Error('boom'), {
      name: 'ServiceUnavailable',
      $metadata: { httpStatusCode: 503 },
    }),
  );
  await assert.rejects(tasks.succeed('tok', {}), (e: Error) => e.name === 'DependencyError');
});

test('SNS announcement publishes the link; a failure is reported, not thrown', async () => {
  sns
    .on(PublishCommand)
    .resolvesOnce({ MessageId: 'm' })
    .rejects(Object.assign(new Error('denied'), { name: 'AuthorizationError' }));
  const announcer = new SnsAnnouncer(
    new SNSClient({}),
    'arn:aws:sns:eu-west-1:111111111111:opsrail-dev-alerts',
  );
  assert.deepEqual(
    (await announcer.announce({ subject: 's', text: 't', link: 'https://x/approvals/1' })).ok,
    true,
  );
  assert.match(
    sns.commandCalls(PublishCommand)[0]?.args[0].input.Message ?? '',
    /https:\/\/x\/approvals\/1/,
  );
  assert.deepEqual(await announcer.announce({ subject: 's', text: 't', link: 'l' }), {
    ok: false,
    detail: 'SNS Publish failed: AuthorizationError',
  });
});

test('secrets are read by their secret_ref', async () => {
  secrets
    .on(GetSecretValueCommand, {
      SecretId:
        'arn:aws:secretsmanager:eu-west-1:111111111111:secret:opsrail/dev/approval-signing-key-AbCdEf',
    })
    .resolves({ SecretString: 'k3y' });
  assert.equal(
    await readSecret(
      new SecretsManagerClient({}),
      'arn:aws:secretsmanager:eu-west-1:111111111111:secret:opsrail/dev/approval-signing-key-AbCdEf',
    ),
    'k3y',
  );
});

test('the approver is the Function URL caller’s IAM identity, never a form field', () => {
  const event = {
    rawPath: '/approvals/abc',
    queryStringParameters: { exp: '1', sig: 's' },
    body: Buffer.from('decision=approve&challenge=x&identity=mallory').toString('base64'),
    isBase64Encoded: true,
    requestContext: {
      http: { method: 'POST', userAgent: 'curl/8' },
      authorizer: { iam: { userArn: 'arn:aws:iam::111111111111:user/bob' } },
    },
  };
  const request = toApprovalRequest(event as never);
  assert.equal(request.identity, 'arn:aws:iam::111111111111:user/bob');
  assert.deepEqual(
    [request.method, request.form.decision, request.userAgent],
    ['POST', 'approve', 'curl/8'],
  );
  const anonymous = toApprovalRequest({
    ...event,
    requestContext: { http: { method: 'POST' } },
  } as never);
  assert.equal(
    anonymous.identity,
    null,
    'the page URL (auth NONE) carries no identity, so it cannot decide',
  );
});
