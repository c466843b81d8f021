import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ApprovalEndpointEvent, ForwardedDecision, ForwardedResponse } from '../../contracts';
import { MAX_BODY_BYTES, type ApprovalHttpRequest } from '../core/approvals';
import { approvalGate, type Dependencies } from '../adapters/dependencies';
import { wrapAwsError } from '../adapters/aws-errors';
import { onFirstUse, sdk } from '../adapters/aws-sdk';
import { ValidationError } from '../core/errors';
import { parseEvent } from '../core/handler-kit';
import { lambdaHandler, stepLogger, type StepHandler } from '../adapters/lambda';
import { resolveSignIn } from '../adapters/sign-in';
import {
  errorResponse,
  serveApprovalEndpoint,
  type EndpointRequest,
  type EndpointResponse,
  type SignIn,
} from './http';
import { renderPage } from './page';
import { parseCookies } from './sign-in';

/**
 * The approval endpoint's Lambda functions (docs/approval-sign-in.md). The page function, behind
 * the link's Function URL (auth NONE), shows the page and signs the approver in; it may not resolve
 * the waiting task, so it passes a browser's POST on to the decision function. The decision
 * function takes the SigV4 caller's IAM identity on its own Function URL (auth AWS_IAM), or, for a
 * forwarded POST, verifies the sign-in token and the page's CSRF token itself. No identity ever
 * comes from a form.
 */
export function toEndpointRequest(raw: unknown): EndpointRequest {
  // A typed, non-retryable ValidationError naming the field; the handler answers it with 400.
  const event = parseEvent(ApprovalEndpointEvent, raw, 'approval endpoint event');
  const body = event.body
    ? event.isBase64Encoded
      ? Buffer.from(event.body, 'base64')
      : Buffer.from(event.body, 'utf8')
    : Buffer.alloc(0);
  const oversized = body.byteLength > MAX_BODY_BYTES;
  const iam = event.requestContext.authorizer?.iam?.userArn ?? null;
  const accept =
    Object.entries(event.headers ?? {}).find(([name]) => name.toLowerCase() === 'accept')?.[1] ??
    '';
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    query: event.queryStringParameters ?? {},
    // An oversized body is never parsed: it is refused (413) and the refusal recorded.
    form: oversized ? {} : Object.fromEntries(new URLSearchParams(body.toString('utf8'))),
    cookies: parseCookies((event.cookies ?? []).join('; ')),
    origin: `https://${event.requestContext.domainName ?? 'localhost'}`,
    userAgent: event.requestContext.http.userAgent ?? null,
    // A SigV4-signed request on the decision URL comes from `opsrail … --stage`
    // (docs/approval-slack-and-cli.md).
    caller: { identity: iam, source: iam ? 'cli' : 'iam' },
    bodyBytes: body.byteLength,
    wantsJson: /\bapplication\/json\b/.test(accept),
  };
}

/**
 * The core's view of the same request: the identity is the IAM caller's (the sign-in path adds the
 * token's).
 */
export function toApprovalRequest(raw: unknown): ApprovalHttpRequest {
  const { method, path, query, form, userAgent, caller, bodyBytes } = toEndpointRequest(raw);
  return {
    method,
    path,
    query,
    form,
    identity: caller.identity,
    userAgent,
    source: caller.source,
    ...(bodyBytes !== undefined ? { bodyBytes } : {}),
  };
}

const defined = (record: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(record).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );

/** Invokes the decision function with the browser's request; its answer is the page to return. */
export function decisionForwarder(
  lambda: () => Promise<LambdaClient>,
  functionName: string,
): (request: EndpointRequest) => Promise<EndpointResponse> {
  return async (request) => {
    const { method, path, query, form, cookies, origin, userAgent, bodyBytes } = request;
    // Never the caller: the page URL authenticates nobody, and the decision function trusts only
    // the token.
    const payload: ForwardedDecision = {
      forwardedDecision: {
        method: method.toUpperCase() as 'POST',
        path,
        query: defined(query),
        form: defined(form),
        cookies,
        origin,
        userAgent,
        ...(bodyBytes !== undefined ? { bodyBytes } : {}),
      },
    };
    let out;
    try {
      const { InvokeCommand } = await sdk.lambda();
      out = await (await lambda()).send(
        new InvokeCommand({
          FunctionName: functionName,
          Payload: Buffer.from(JSON.stringify(payload)),
        }),
      );
    } catch (error) {
      throw wrapAwsError(`Lambda Invoke ${functionName}`, error);
    }
    if (out.FunctionError) throw new Error(`the decision function failed: ${out.FunctionError}`);
    const answer = ForwardedResponse.parse(
      JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8')),
    );
    return {
      status: answer.statusCode,
      headers: answer.headers,
      body: answer.body,
      cookies: answer.cookies,
    };
  };
}

const toResult = (response: EndpointResponse): APIGatewayProxyStructuredResultV2 => ({
  statusCode: response.status,
  headers: response.headers,
  body: response.body,
  cookies: response.cookies,
});

export function createApprovalEndpointHandler(
  deps: Dependencies,
): StepHandler<APIGatewayProxyStructuredResultV2> {
  const gate = approvalGate(deps);
  const logger = stepLogger(deps, 'approval-endpoint');
  let signIn: Promise<SignIn | null> | undefined;
  const decisionFunction = deps.env.APPROVAL_DECISION_FUNCTION;
  const forward = decisionFunction
    ? decisionForwarder(
        onFirstUse(
          async () => new (await sdk.lambda()).LambdaClient({ region: deps.env.AWS_REGION }),
        ),
        decisionFunction,
      )
    : undefined;
  const signInFor = (linkBaseUrl: string) => {
    // Resolved once per container; a failed lookup is tried again on the next request.
    signIn ??= resolveSignIn(deps.env, linkBaseUrl).catch((error: unknown) => {
      signIn = undefined;
      throw error;
    });
    return signIn;
  };
  return async (event) => {
    const forwarded = ForwardedDecision.safeParse(event);
    if (forwarded.success) {
      // Passed on by the page function: never an IAM identity, only what the token proves.
      const request: EndpointRequest = {
        ...forwarded.data.forwardedDecision,
        caller: { identity: null, source: 'oidc' },
      };
      try {
        const approvals = await gate();
        return toResult(
          await serveApprovalEndpoint(approvals, await signInFor(approvals.linkBaseUrl), request),
        );
      } catch (error) {
        logger.warn('approval decision failed', {
          errorName: (error as Error).name,
          errorMessage: (error as Error).message,
        });
        return toResult(errorResponse(error, request.method));
      }
    }
    let request: EndpointRequest;
    try {
      request = toEndpointRequest(event);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      logger.warn('malformed approval endpoint event', {
        errorName: error.name,
        errorMessage: error.message,
      });
      return toResult({
        ...renderPage(
          { status: 400, title: 'Bad request', message: '' },
          { method: 'GET', signedInAs: null, signInUrl: null, csrfToken: null },
        ),
        cookies: [],
      });
    }
    try {
      const approvals = await gate();
      return toResult(
        await serveApprovalEndpoint(
          approvals,
          await signInFor(approvals.linkBaseUrl),
          request,
          forward,
        ),
      );
    } catch (error) {
      logger.warn('approval endpoint failed', {
        errorName: (error as Error).name,
        errorMessage: (error as Error).message,
      });
      return toResult(errorResponse(error, request.method, request.wantsJson));
    }
  };
}

export const handler = lambdaHandler('approval-endpoint', createApprovalEndpointHandler);
