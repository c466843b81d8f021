import type { APIGatewayProxyEventV2WithIAMAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { approvalGate, type Dependencies } from '../adapters/dependencies';
import { lambdaHandler, type StepHandler } from '../adapters/lambda';
import { resolveSignIn } from '../adapters/sign-in';
import type { ApprovalHttpRequest } from '../core/approvals';
import { parseCookies } from './sign-in';
import { serveApprovalEndpoint, type EndpointRequest, type SignIn } from './http';

/**
 * A Lambda Function URL in front of the approval endpoint. Two URLs serve it: the link's URL (auth
 * NONE) shows the page and takes a decision only from an approver signed in through the stage's
 * identity provider (a verified token and the page's CSRF token); the decision URL (auth AWS_IAM)
 * takes the SigV4 caller's IAM identity. Neither ever takes an identity from a form field.
 */
export function toEndpointRequest(event: APIGatewayProxyEventV2WithIAMAuthorizer): EndpointRequest {
  const raw = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    query: event.queryStringParameters ?? {},
    form: Object.fromEntries(new URLSearchParams(raw)),
    cookies: parseCookies((event.cookies ?? []).join('; ')),
    origin: `https://${event.requestContext.domainName}`,
    userAgent: event.requestContext.http.userAgent ?? null,
    iamIdentity: event.requestContext.authorizer?.iam?.userArn ?? null,
  };
}

/** The core's view of the same request: the identity is the IAM caller's (the sign-in path adds the token's). */
export function toApprovalRequest(event: APIGatewayProxyEventV2WithIAMAuthorizer): ApprovalHttpRequest {
  const { method, path, query, form, userAgent, iamIdentity } = toEndpointRequest(event);
  return { method, path, query, form, identity: iamIdentity, userAgent };
}

export function createApprovalEndpointHandler(deps: Dependencies): StepHandler<APIGatewayProxyStructuredResultV2> {
  const gate = approvalGate(deps);
  let signIn: Promise<SignIn | null> | undefined;
  return async (event) => {
    const approvals = await gate();
    signIn ??= resolveSignIn(deps.env, approvals.linkBaseUrl);
    const response = await serveApprovalEndpoint(approvals, await signIn, toEndpointRequest(event as APIGatewayProxyEventV2WithIAMAuthorizer));
    return { statusCode: response.status, headers: response.headers, body: response.body, cookies: response.cookies };
  };
}

export const handler = lambdaHandler(createApprovalEndpointHandler);
