import type { APIGatewayProxyEventV2WithIAMAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { handleApprovalHttp, type ApprovalHttpRequest } from '../core/approvals';
import { pendingApprovalsRoute } from '../core/approval-sources';
import { approvalGate, type Dependencies } from '../adapters/dependencies';
import { lambdaHandler, type StepHandler } from '../adapters/lambda';

/**
 * A Lambda Function URL in front of the approval endpoint. Two URLs serve it: the link's URL (auth
 * NONE) can only show the confirmation page, since it carries no identity; the decision URL (auth
 * AWS_IAM) carries the caller's IAM identity, the only identity a decision is ever taken from.
 */
export function toApprovalRequest(event: APIGatewayProxyEventV2WithIAMAuthorizer): ApprovalHttpRequest {
  const raw = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    query: event.queryStringParameters ?? {},
    form: Object.fromEntries(new URLSearchParams(raw)),
    identity: event.requestContext.authorizer?.iam?.userArn ?? null,
    userAgent: event.requestContext.http.userAgent ?? null,
  };
}

export function createApprovalEndpointHandler(deps: Dependencies): StepHandler<APIGatewayProxyStructuredResultV2> {
  const gate = approvalGate(deps);
  return async (event) => {
    const request = toApprovalRequest(event as APIGatewayProxyEventV2WithIAMAuthorizer);
    // A SigV4-signed request on the decision URL comes from `opsrail … --stage` (docs/approval-slack-and-cli.md).
    const approvals = await gate();
    const viaIam = { ...request, ...(request.identity ? { source: 'cli' as const } : {}) };
    const response = (await pendingApprovalsRoute(approvals, viaIam)) ?? (await handleApprovalHttp(approvals, viaIam));
    return { statusCode: response.status, headers: response.headers, body: response.body };
  };
}

export const handler = lambdaHandler(createApprovalEndpointHandler);
