import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { SlackActionId } from '../../contracts';
import { DependencyError, PermissionError } from '../core/errors';
import type { InteractionReplayGuard, SlackApi, SlackView } from '../core/slack-interactions';
import { wrapAwsError } from './aws-errors';
import { isConditionFailure } from './dynamodb-kit';
import { stateTable } from './table-layout';

export const SLACK_API_BASE_URL = 'https://slack.com/api';

/** The Slack Web API with a bot token read by its secret_ref (never logged). */
export class SlackWebApi implements SlackApi {
  constructor(
    private readonly botToken: () => Promise<string>,
    private readonly baseUrl: string = SLACK_API_BASE_URL,
  ) {}

  async openView(triggerId: string, view: SlackView): Promise<void> {
    let answer: { ok?: boolean; error?: string };
    try {
      const response = await fetch(`${this.baseUrl.replace(/\/$/, '')}/views.open`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          authorization: `Bearer ${await this.botToken()}`,
        },
        body: JSON.stringify({ trigger_id: triggerId, view }),
        // A trigger_id is good for 3 seconds: waiting longer cannot help.
        signal: AbortSignal.timeout(2500),
      });
      answer = (await response.json().catch(() => ({}))) as typeof answer;
      if (!response.ok)
        throw new DependencyError(`Slack views.open answered HTTP ${response.status}`);
    } catch (error) {
      if (error instanceof DependencyError) throw error;
      throw new DependencyError(`Slack views.open failed: ${(error as Error).name}`, {
        cause: error,
      });
    }
    if (answer.ok !== true) {
      const code = typeof answer.error === 'string' ? answer.error.slice(0, 64) : 'unknown_error';
      if (
        [
          'invalid_auth',
          'not_authed',
          'missing_scope',
          'account_inactive',
          'token_revoked',
        ].includes(code)
      )
        throw new PermissionError(`Slack views.open refused the bot token: ${code}`);
      throw new DependencyError(`Slack views.open failed: ${code}`);
    }
  }
}

/** Seen Slack requests in the state table, one item each, written once (attribute_not_exists). */
export class DynamoDbInteractionReplayGuard implements InteractionReplayGuard {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client);
  }

  async firstDelivery(requestKey: string, seenAt: Date): Promise<boolean> {
    const item = { ...stateTable.keys.slackRequest(requestKey), seenAt: seenAt.toISOString() };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw wrapAwsError(`DynamoDB firstDelivery on ${this.tableName}`, error);
    }
  }
}

/**
 * An approval request as a Slack message: the summary, a link button, and (with interactivity)
 * Approve/Reject.
 */
export function slackApprovalMessage(
  message: { subject: string; text: string; link: string; approvalId?: string },
  options: { buttons: boolean },
) {
  const escapeMrkdwn = (s: string) =>
    s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c] as string);
  const button = (actionId: string, text: string, extra: Record<string, unknown>) => ({
    type: 'button',
    action_id: actionId,
    text: { type: 'plain_text', text },
    ...extra,
  });
  const decide =
    options.buttons && message.approvalId
      ? [
          button(SlackActionId.approve, 'Approve…', {
            style: 'primary',
            value: message.approvalId,
          }),
          button(SlackActionId.reject, 'Reject…', { style: 'danger', value: message.approvalId }),
        ]
      : [];
  return {
    text: `*${message.subject}*\n${message.text}\n<${message.link}|Review and decide>`,
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `*${escapeMrkdwn(message.subject)}*\n${escapeMrkdwn(message.text)}`.slice(0, 3000),
        },
      },
      {
        type: 'actions',
        elements: [
          ...decide,
          button(SlackActionId.review, 'Review the request', { url: message.link }),
        ],
      },
    ],
    unfurl_links: false,
    unfurl_media: false,
  };
}
