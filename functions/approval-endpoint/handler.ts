import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { APIGatewayProxyEventV2WithIAMAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ForwardedDecision, ForwardedResponse } from '../../contracts';
import { approvalGate, type Dependencies } from '../adapters/dependencies';
import { wrapAwsError } from '../adapters/aws-errors';
import { lambdaHandler, type StepHandler } from '../adapters/lambda';
import { resolveSignIn } from '../adapters/sign-in';
import type { ApprovalHttpRequest } from '../core/approvals';
import { parseCookies } from './sign-in';
import { serveApprovalEndpoint, type EndpointRequest, type EndpointResponse, type SignIn } from './http';

/**
 * The approval endpoint's Lambda functions (docs/approval-sign-in.md). The page function, behind the
 * link's Function URL (auth NONE), shows the page and signs the approver in; it may not resolve the
 * waiting task, so it passes a browser's POST on to the decision function. The decision function
 * takes the SigV4 caller's IAM identity on its own Function URL (auth AWS_IAM), or, for a forwarded
 * POST, verifies the sign-in token and the page's CSRF token itself. No identity ever comes from a form.
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

const defined = (record: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(Object.entries(record).filter((e): e is [string, string] => typeof e[1] === 'string'));

/** Invokes the decision function with the browser's request; its answer is the page to return. */
export function decisionForwarder(lambda: LambdaClient, functionName: string): (request: EndpointRequest) => Promise<EndpointResponse> {
  return async (request) => {
    const { method, path, query, form, cookies, origin, userAgent } = request;
    const payload: ForwardedDecision = { forwardedDecision: { method: method.toUpperCase() as 'POST', path, query: defined(query), form: defined(form), cookies, origin, userAgent } };
    try {
      const out = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(payload)) }));
      if (out.FunctionError) throw new Error(`the decision function failed: ${out.FunctionError}`);
      return ForwardedResponse.parse(JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8')));
    } catch (error) {
      throw wrapAwsError(`Lambda Invoke ${functionName}`, error);
    }
  };
}

export function createApprovalEndpointHandler(deps: Dependencies): StepHandler<APIGatewayProxyStructuredResultV2 | EndpointResponse> {
  const gate = approvalGate(deps);
  let signIn: Promise<SignIn | null> | undefined;
  const decisionFunction = deps.env.APPROVAL_DECISION_FUNCTION;
  const forward = decisionFunction ? decisionForwarder(new LambdaClient({ region: deps.env.AWS_REGION }), decisionFunction) : undefined;
  return async (event) => {
    const approvals = await gate();
    signIn ??= resolveSignIn(deps.env, approvals.linkBaseUrl);
    const forwarded = ForwardedDecision.safeParse(event);
    if (forwarded.success) {
      // Passed on by the page function: never an IAM identity, only what the token proves.
      return serveApprovalEndpoint(approvals, await signIn, { ...forwarded.data.forwardedDecision, iamIdentity: null });
    }
    const response = await serveApprovalEndpoint(approvals, await signIn, toEndpointRequest(event as APIGatewayProxyEventV2WithIAMAuthorizer), forward);
    return { statusCode: response.status, headers: response.headers, body: response.body, cookies: response.cookies };
  };
}

export const handler = lambdaHandler(createApprovalEndpointHandler);
