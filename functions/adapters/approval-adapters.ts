import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SNSClient } from '@aws-sdk/client-sns';
import type {
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Announcer, TaskCallbacks } from '../core/approvals';
import { wrapAwsError } from './aws-errors';
import { sdk } from './aws-sdk';
import { slackApprovalMessage } from './slack-adapters';

/**
 * A secret's value from Secrets Manager by its secret_ref (ARN). The value is returned, never
 * logged.
 */
export async function readSecret(client: SecretsManagerClient, secretRef: string): Promise<string> {
  try {
    const { GetSecretValueCommand } = await sdk.secretsManager();
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretRef }));
    if (!out.SecretString) throw new Error('the secret has no string value');
    return out.SecretString;
  } catch (error) {
    throw wrapAwsError(`Secrets Manager GetSecretValue ${secretRef}`, error);
  }
}

/**
 * The local stack's link-signing key: made once, kept under $OPSRAIL_HOME (never in the
 * repository).
 */
export function localSigningKey(path: string): Uint8Array {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, randomBytes(32).toString('hex'), { mode: 0o600 });
  }
  return new TextEncoder().encode(readFileSync(path, 'utf8').trim());
}

/**
 * SendTaskSuccess / SendTaskFailure; a task that stopped waiting (timed out, stopped) is
 * 'task_gone'.
 */
export class StepFunctionsTaskCallbacks implements TaskCallbacks {
  constructor(private readonly sfn: SFNClient) {}

  private async send(
    command: SendTaskSuccessCommand | SendTaskFailureCommand,
  ): Promise<'sent' | 'task_gone'> {
    try {
      await this.sfn.send(command as SendTaskSuccessCommand);
      return 'sent';
    } catch (error) {
      if (
        ['TaskTimedOut', 'InvalidToken', 'TaskDoesNotExist'].includes(
          (error as { name?: string }).name ?? '',
        )
      )
        return 'task_gone';
      throw wrapAwsError('Step Functions SendTask', error);
    }
  }

  async succeed(taskToken: string, output: Record<string, unknown>) {
    const { SendTaskSuccessCommand } = await sdk.sfn();
    return this.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
  }

  async fail(taskToken: string, error: string, cause: string) {
    const { SendTaskFailureCommand } = await sdk.sfn();
    return this.send(
      new SendTaskFailureCommand({ taskToken, error, cause: cause.slice(0, 32768) }),
    );
  }
}

/** Locally the waiting gate polls the approval record itself: the decision is already there. */
export const pollingTaskCallbacks: TaskCallbacks = {
  succeed: async () => 'sent',
  fail: async () => 'sent',
};

export class SnsAnnouncer implements Announcer {
  readonly channel = 'sns' as const;
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string,
  ) {}

  async announce(message: { subject: string; text: string; link: string }) {
    try {
      const { PublishCommand } = await sdk.sns();
      await this.sns.send(
        new PublishCommand({
          TopicArn: this.topicArn,
          Subject: message.subject.slice(0, 99),
          Message: `${message.text}\n\nConfirm or reject: ${message.link}\n`,
        }),
      );
      return { ok: true, detail: `published to ${this.topicArn}` };
    } catch (error) {
      return { ok: false, detail: `SNS Publish failed: ${(error as Error).name}` };
    }
  }
}

/** Slack incoming webhook; its URL is itself a secret, read through its secret_ref when needed. */
export class SlackAnnouncer implements Announcer {
  readonly channel = 'slack' as const;
  constructor(
    private readonly webhookUrl: () => Promise<string>,
    /**
     * Approve/Reject buttons, when the stage has a Slack interaction endpoint (policy
     * approvals.slack).
     */
    private readonly options: { buttons: boolean } = { buttons: false },
  ) {}

  async announce(message: { subject: string; text: string; link: string; approvalId?: string }) {
    try {
      const response = await fetch(await this.webhookUrl(), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(slackApprovalMessage(message, this.options)),
        signal: AbortSignal.timeout(5000),
      });
      await response.body?.cancel();
      return response.ok
        ? { ok: true, detail: 'posted to Slack' }
        : { ok: false, detail: `Slack answered ${response.status}` };
    } catch (error) {
      return { ok: false, detail: `Slack failed: ${(error as Error).name}` };
    }
  }
}
