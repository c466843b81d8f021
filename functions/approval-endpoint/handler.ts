import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ApprovalEndpointEvent } from '../../contracts';
import { endpointErrorPage, handleApprovalHttp, MAX_BODY_BYTES, page, type ApprovalHttpRequest, type ApprovalHttpResponse } from '../core/approvals';
import { pendingApprovalsRoute } from '../core/approval-sources';
import { approvalGate, type Dependencies } from '../adapters/dependencies';
import { ValidationError } from '../core/errors';
import { parseEvent } from '../core/handler-kit';
import { lambdaHandler, stepLogger, type StepHandler } from '../adapters/lambda';

/**
 * A Lambda Function URL in front of the approval endpoint. Two URLs serve it: the link's URL (auth
 * NONE) can only show the confirmation page, since it carries no identity; the decision URL (auth
 * AWS_IAM) carries the caller's IAM identity, the only identity a decision is ever taken from.
 */
export function toApprovalRequest(raw: unknown): ApprovalHttpRequest {
  // A typed, non-retryable ValidationError naming the field; the handler answers it with 400.
  const event = parseEvent(ApprovalEndpointEvent, raw, 'approval endpoint event');
  const body = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8')) : Buffer.alloc(0);
  const oversized = body.byteLength > MAX_BODY_BYTES;
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    query: event.queryStringParameters ?? {},
    // An oversized body is never parsed: it is refused (413) and the refusal recorded.
    form: oversized ? {} : Object.fromEntries(new URLSearchParams(body.toString('utf8'))),
    identity: event.requestContext.authorizer?.iam?.userArn ?? null,
    userAgent: event.requestContext.http.userAgent ?? null,
    bodyBytes: body.byteLength,
    source: 'iam',
  };
}

const toResult = (response: ApprovalHttpResponse): APIGatewayProxyStructuredResultV2 => ({ statusCode: response.status, headers: response.headers, body: response.body });

export function createApprovalEndpointHandler(deps: Dependencies): StepHandler<APIGatewayProxyStructuredResultV2> {
  const gate = approvalGate(deps);
  const logger = stepLogger(deps, 'approval-endpoint');
  return async (event) => {
    let request: ApprovalHttpRequest;
    try {
      request = toApprovalRequest(event);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      logger.warn('malformed approval endpoint event', { errorName: error.name, errorMessage: error.message });
      return toResult(page(400, 'Bad request', '', 'GET'));
    }
    try {
      // A SigV4-signed request on the decision URL comes from `opsrail … --stage` (docs/approval-slack-and-cli.md).
      const approvals = await gate();
      const viaIam = { ...request, ...(request.identity ? { source: 'cli' as const } : {}) };
      return toResult((await pendingApprovalsRoute(approvals, viaIam)) ?? (await handleApprovalHttp(approvals, viaIam)));
    } catch (error) {
      logger.warn('approval endpoint failed', { errorName: (error as Error).name, errorMessage: (error as Error).message });
      return toResult(endpointErrorPage(error, request.method));
    }
  };
}

export const handler = lambdaHandler(createApprovalEndpointHandler);
