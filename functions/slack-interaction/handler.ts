import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { FunctionUrlRequest } from '../../contracts';
import { ConfigurationError } from '../core/errors';
import {
  handleSlackInteraction,
  type SlackHttpRequest,
  type SlackInteractionDependencies,
} from '../core/slack-interactions';
import { readSecret } from '../adapters/approval-adapters';
import { onFirstUse, sdk } from '../adapters/aws-sdk';
import { approvalGate, type Dependencies } from '../adapters/dependencies';
import { lambdaHandler, stepLogger, type StepHandler } from '../adapters/lambda';
import { DynamoDbInteractionReplayGuard, SlackWebApi } from '../adapters/slack-adapters';

/**
 * The Function URL event as the core sees it: lower-case headers and the body exactly as Slack
 * signed it.
 */
export function toSlackRequest(event: FunctionUrlRequest): SlackHttpRequest {
  const headers = Object.fromEntries(
    Object.entries(event.headers).map(([k, v]) => [k.toLowerCase(), v]),
  );
  const body =
    event.body === undefined
      ? ''
      : event.isBase64Encoded
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body;
  return { method: event.requestContext.http.method, headers, body };
}

/** A secret read once per cold start by its secret_ref; a failed read is tried again next time. */
function cachedSecret(
  secrets: () => Promise<SecretsManagerClient>,
  secretRef: string,
): () => Promise<string> {
  // A failed read is not cached: the next interaction tries again.
  return onFirstUse(async () => readSecret(await secrets(), secretRef));
}

/**
 * The Slack interaction endpoint (a Function URL, auth NONE: Slack cannot sign with AWS
 * credentials, so every request proves itself with Slack's signature instead;
 * docs/approval-slack-and-cli.md).
 */
export function createSlackInteractionHandler(
  deps: Dependencies,
): StepHandler<APIGatewayProxyStructuredResultV2> {
  const settings = deps.policy.settings.approvals.slack;
  if (!settings)
    throw new ConfigurationError(
      `stage ${deps.policy.stage} has no approvals.slack in its policy: the Slack interaction endpoint has nothing to verify with`,
    );
  const logger = stepLogger(deps, 'slack-interaction');
  const gate = approvalGate(deps);
  const secrets = onFirstUse(
    async () =>
      new (await sdk.secretsManager()).SecretsManagerClient({ region: deps.env.AWS_REGION }),
  );
  const slackDeps = async (): Promise<SlackInteractionDependencies> => ({
    gate: await gate(),
    settings,
    signingSecret: cachedSecret(secrets, settings.signingSecretRef),
    slack: new SlackWebApi(
      cachedSecret(secrets, settings.botTokenRef),
      deps.env.SLACK_API_BASE_URL,
    ),
    replays: new DynamoDbInteractionReplayGuard(deps.dynamodb, deps.env.STATE_TABLE_NAME),
  });
  let built: Promise<SlackInteractionDependencies> | undefined;
  return async (event): Promise<APIGatewayProxyStructuredResultV2> => {
    const parsed = FunctionUrlRequest.safeParse(event);
    if (!parsed.success)
      return {
        statusCode: 400,
        headers: { 'content-type': 'text/plain' },
        body: 'not a Function URL request',
      };
    try {
      built ??= slackDeps();
      const response = await handleSlackInteraction(await built, toSlackRequest(parsed.data));
      return {
        statusCode: response.status,
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
        body: response.body,
      };
    } catch (error) {
      // Slack shows the person an error; the log says which dependency failed (never a secret).
      logger.warn('slack interaction failed', {
        errorName: (error as Error).name,
        errorMessage: (error as Error).message,
      });
      return {
        statusCode: 500,
        headers: { 'content-type': 'text/plain' },
        body: 'opsrail could not handle this interaction',
      };
    }
  };
}

export const handler = lambdaHandler('slack-interaction', createSlackInteractionHandler);
