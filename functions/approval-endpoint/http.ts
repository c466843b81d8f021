import type { ApprovalSource } from '../../contracts';
import {
  endpointError,
  handleApprovalHttp,
  type ApprovalDependencies,
  type ApprovalHttpRequest,
  type ApprovalHttpResponse,
  type IdentityRefusal,
} from '../core/approvals';
import { pendingApprovalsRoute } from '../core/approval-sources';
import { renderAnswerJson, renderJson, renderPage, type RenderedPage } from './page';
import {
  APPROVAL_RETURN,
  authorizeUrl,
  csrfMatches,
  csrfToken,
  exchangeCode,
  newNonce,
  pkcePair,
  setCookie,
  type ResolvedSignIn,
  type TokenVerifier,
} from './sign-in';

/**
 * Who the transport itself authenticated, before any sign-in: the SigV4 caller on the IAM decision
 * URL (source 'cli'), or on the local stack only the local user who names themselves (source
 * 'local', local/approval-server.ts). `identity` null: nobody; `source` is still what the attempt
 * is audited as.
 */
export interface TransportCaller {
  identity: string | null;
  source: ApprovalSource;
}

/** One HTTP request to the approval endpoint, from a Function URL event or the local server. */
export interface EndpointRequest {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  form: Record<string, string | undefined>;
  cookies: Record<string, string>;
  /** Scheme and host the browser used (the sign-in callback goes back there). */
  origin: string;
  userAgent: string | null;
  caller: TransportCaller;
  /**
   * The body's size; above MAX_BODY_BYTES the form is not read and the request is refused (413).
   */
  bodyBytes?: number;
  /** The caller asked for `application/json`: the answer as data (ApprovalAnswer), not the page. */
  wantsJson?: boolean;
}

export interface EndpointResponse extends RenderedPage {
  cookies: string[];
}

export interface SignIn {
  settings: ResolvedSignIn;
  verifier: TokenVerifier;
}

const ID_COOKIE = 'opsrail_id';
const CSRF_COOKIE = 'opsrail_csrf';
const SIGN_IN_COOKIE = 'opsrail_signin';

function redirect(location: string, cookies: string[]): EndpointResponse {
  return {
    status: 302,
    headers: { location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' },
    body: '',
    cookies,
  };
}

function message(method: string, status: number, title: string, text: string): EndpointResponse {
  return {
    ...renderPage(
      { status, title, message: text },
      { method, signedInAs: null, signInUrl: null, csrfToken: null },
    ),
    cookies: [],
  };
}

/** An error of the endpoint itself (503 retry, or 500), never the error's text. */
export function errorResponse(error: unknown, method: string, wantsJson = false): EndpointResponse {
  const answer = endpointError(error);
  return {
    ...(wantsJson
      ? renderAnswerJson(answer)
      : renderPage(answer, { method, signedInAs: null, signInUrl: null, csrfToken: null })),
    cookies: [],
  };
}

/**
 * The approval endpoint over HTTP: /auth/sign-in and /auth/callback sign an approver in (code flow
 * with PKCE); /approvals/<id> shows the page (GET) or decides (POST, with a verified identity and,
 * from a browser, the page's CSRF token); GET /approvals lists pending requests for an
 * authenticated caller. The decision itself is the core's (decideApproval in
 * functions/core/approvals.ts).
 */
export async function serveApprovalEndpoint(
  gate: ApprovalDependencies,
  signIn: SignIn | null,
  request: EndpointRequest,
  /**
   * The page function's way to have a browser's POST decided by the one function that may decide.
   */
  forwardDecision?: (request: EndpointRequest) => Promise<EndpointResponse>,
): Promise<EndpointResponse> {
  const method = request.method.toUpperCase();
  if (
    forwardDecision &&
    method === 'POST' &&
    !request.caller.identity &&
    request.path.startsWith('/approvals/')
  )
    return forwardDecision(request);
  const secure = request.origin.startsWith('https:');
  const redirectUri = `${request.origin}/auth/callback`;

  if (request.path === '/auth/sign-in' && signIn && (method === 'GET' || method === 'HEAD')) {
    const back = request.query.return ?? '';
    if (!APPROVAL_RETURN.test(back))
      return message(method, 400, 'Not an approval link', 'Open the approval link again.');
    const pkce = pkcePair();
    const state = newNonce();
    const cookie = setCookie(
      SIGN_IN_COOKIE,
      `${state}.${pkce.verifier}.${Buffer.from(back).toString('base64url')}`,
      { path: '/auth', maxAgeSeconds: 600, secure },
    );
    return redirect(authorizeUrl(signIn.settings, redirectUri, state, pkce.challenge), [cookie]);
  }
  if (request.path === '/auth/callback' && signIn && method === 'GET') {
    const [state, verifier, back64] = (request.cookies[SIGN_IN_COOKIE] ?? '').split('.');
    const back = back64 ? Buffer.from(back64, 'base64url').toString('utf8') : '';
    if (
      !state ||
      !verifier ||
      request.query.state !== state ||
      !request.query.code ||
      !APPROVAL_RETURN.test(back)
    ) {
      gate.log('approval sign-in refused', {
        outcome: 'refused_sign_in_state',
        userAgent: gate.redactor.text(request.userAgent ?? '').slice(0, 256),
      });
      return message(
        method,
        400,
        'Sign-in could not be completed',
        'Open the approval link again and sign in from there.',
      );
    }
    const idToken = await exchangeCode(
      signIn.settings,
      request.query.code,
      redirectUri,
      verifier,
    ).catch((error: unknown) => {
      gate.log('approval sign-in failed', {
        outcome: 'refused_token_exchange',
        detail: gate.redactor.text((error as Error).message),
      });
      return null;
    });
    const checked = idToken ? await signIn.verifier.check(idToken) : null;
    if (!idToken || !checked?.ok) {
      gate.log('approval sign-in refused', {
        outcome: checked && !checked.ok ? checked.outcome : 'refused_token_exchange',
        userAgent: gate.redactor.text(request.userAgent ?? '').slice(0, 256),
      });
      return message(
        method,
        403,
        'Sign-in was refused',
        'The identity provider did not vouch for you. Try again.',
      );
    }
    const clear = setCookie(SIGN_IN_COOKIE, '', { path: '/auth', maxAgeSeconds: 0, secure });
    return redirect(back, [
      clear,
      setCookie(ID_COOKIE, idToken, { path: '/approvals', maxAgeSeconds: 3600, secure }),
    ]);
  }

  // Who is asking: the transport's caller (IAM, or the local user), else the verified sign-in
  // token.
  let identity = request.caller.identity;
  let source = request.caller.source;
  let refusal: IdentityRefusal | undefined;
  const token = request.cookies[ID_COOKIE];
  if (!identity && token && signIn) {
    const checked = await signIn.verifier.check(token);
    if (checked.ok) {
      identity = checked.identity;
      source = 'oidc';
    } else
      refusal = {
        status: 401,
        outcome: checked.outcome,
        message: 'Your sign-in is not valid: sign in again',
      };
  }
  const core: ApprovalHttpRequest = {
    method,
    path: request.path,
    query: request.query,
    form: request.form,
    identity: refusal ? null : identity,
    userAgent: request.userAgent,
    source,
    ...(request.bodyBytes !== undefined ? { bodyBytes: request.bodyBytes } : {}),
  };
  const listed = await pendingApprovalsRoute(gate, { ...core, identity: request.caller.identity });
  if (listed) return { ...renderJson(listed), cookies: [] };

  const approvalId = /^\/approvals\/([a-f0-9]{32})\/?$/.exec(request.path)?.[1];
  // A browser's POST must carry the CSRF token of this approval's page (the token cookie rides
  // along on any site's form). A caller the transport authenticated (SigV4, the local header) sends
  // no cookie.
  if (
    method === 'POST' &&
    source === 'oidc' &&
    identity &&
    !refusal &&
    approvalId &&
    !csrfMatches(gate.signingKey, approvalId, request.cookies[CSRF_COOKIE], request.form.csrf)
  ) {
    refusal = {
      status: 403,
      outcome: 'refused_csrf',
      message: 'This form does not belong to this page: reload the page and decide again',
    };
  }
  const response: ApprovalHttpResponse = await handleApprovalHttp(gate, {
    ...core,
    identity: refusal ? null : identity,
    ...(refusal ? { refusal } : {}),
  });
  if (request.wantsJson) return { ...renderAnswerJson(response), cookies: [] };
  const link =
    approvalId && request.query.exp && request.query.sig
      ? `/approvals/${approvalId}?exp=${request.query.exp}&sig=${request.query.sig}`
      : null;
  const signInUrl =
    signIn && link && APPROVAL_RETURN.test(link)
      ? `/auth/sign-in?return=${encodeURIComponent(link)}`
      : null;
  const cookies: string[] = [];
  let csrf: string | null = null;
  // The form is offered to a signed-in browser only: a CSRF token for this page, its nonce in a
  // cookie.
  if (
    response.request?.status === 'PENDING' &&
    identity &&
    source === 'oidc' &&
    approvalId &&
    !refusal
  ) {
    const nonce = newNonce();
    csrf = csrfToken(gate.signingKey, approvalId, nonce);
    cookies.push(
      setCookie(CSRF_COOKIE, nonce, {
        path: `/approvals/${approvalId}`,
        maxAgeSeconds: 3600,
        secure,
      }),
    );
  }
  const signedInAs = refusal || source !== 'oidc' ? null : identity;
  const page = renderPage(response, {
    method,
    signedInAs,
    signInUrl: signedInAs ? null : signInUrl,
    csrfToken: csrf,
  });
  return { ...page, cookies };
}
