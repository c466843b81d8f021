import { handleApprovalHttp, type ApprovalDependencies, type ApprovalHttpRequest } from '../core/approvals';
import { renderPage, type RenderedPage } from './page';
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
  /** The SigV4 caller's IAM identity on the AWS_IAM decision URL; null anywhere else. */
  iamIdentity: string | null;
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
  return { status: 302, headers: { location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }, body: '', cookies };
}

function message(method: string, status: number, title: string, text: string): EndpointResponse {
  return { ...renderPage({ status, title, message: text }, { method, signedInAs: null, signInUrl: null, csrfToken: null }), cookies: [] };
}

/**
 * The approval endpoint over HTTP: /auth/sign-in and /auth/callback sign an approver in (code flow with
 * PKCE); /approvals/<id> shows the page (GET) or decides (POST, with a verified identity and the page's
 * CSRF token). The decision itself is the core's (functions/core/approvals.ts).
 */
export async function serveApprovalEndpoint(
  gate: ApprovalDependencies,
  signIn: SignIn | null,
  request: EndpointRequest,
  /** The page function's way to have a browser's POST decided by the one function that may decide. */
  forwardDecision?: (request: EndpointRequest) => Promise<EndpointResponse>,
): Promise<EndpointResponse> {
  const method = request.method.toUpperCase();
  if (forwardDecision && method === 'POST' && !request.iamIdentity && request.path.startsWith('/approvals/')) return forwardDecision(request);
  const secure = request.origin.startsWith('https:');
  const redirectUri = `${request.origin}/auth/callback`;

  if (request.path === '/auth/sign-in' && signIn && (method === 'GET' || method === 'HEAD')) {
    const back = request.query.return ?? '';
    if (!APPROVAL_RETURN.test(back)) return message(method, 400, 'Not an approval link', 'Open the approval link again.');
    const pkce = pkcePair();
    const state = newNonce();
    const cookie = setCookie(SIGN_IN_COOKIE, `${state}.${pkce.verifier}.${Buffer.from(back).toString('base64url')}`, { path: '/auth', maxAgeSeconds: 600, secure });
    return redirect(authorizeUrl(signIn.settings, redirectUri, state, pkce.challenge), [cookie]);
  }
  if (request.path === '/auth/callback' && signIn && method === 'GET') {
    const [state, verifier, back64] = (request.cookies[SIGN_IN_COOKIE] ?? '').split('.');
    const back = back64 ? Buffer.from(back64, 'base64url').toString('utf8') : '';
    if (!state || !verifier || request.query.state !== state || !request.query.code || !APPROVAL_RETURN.test(back)) {
      gate.log('approval sign-in refused', { outcome: 'refused_sign_in_state', userAgent: request.userAgent });
      return message(method, 400, 'Sign-in could not be completed', 'Open the approval link again and sign in from there.');
    }
    const idToken = await exchangeCode(signIn.settings, request.query.code, redirectUri, verifier).catch((error: unknown) => {
      gate.log('approval sign-in failed', { outcome: 'refused_token_exchange', detail: gate.redactor.text((error as Error).message) });
      return null;
    });
    const checked = idToken ? await signIn.verifier.check(idToken) : null;
    if (!idToken || !checked?.ok) {
      gate.log('approval sign-in refused', { outcome: checked && !checked.ok ? checked.outcome : 'refused_token_exchange', userAgent: request.userAgent });
      return message(method, 403, 'Sign-in was refused', 'The identity provider did not vouch for you. Try again.');
    }
    const clear = setCookie(SIGN_IN_COOKIE, '', { path: '/auth', maxAgeSeconds: 0, secure });
    return redirect(back, [clear, setCookie(ID_COOKIE, idToken, { path: '/approvals', maxAgeSeconds: 3600, secure })]);
  }

  const approvalId = /^\/approvals\/([a-f0-9]{32})\/?$/.exec(request.path)?.[1];
  // Who is asking: the SigV4 caller on the IAM URL, else the verified sign-in token.
  let identity: string | null = request.iamIdentity;
  let refusal: ApprovalHttpRequest['refusal'];
  const token = request.cookies[ID_COOKIE];
  if (!identity && token && signIn) {
    const checked = await signIn.verifier.check(token);
    if (checked.ok) identity = checked.identity;
    else refusal = { status: 401, outcome: checked.outcome, message: 'Your sign-in is not valid: sign in again' };
  }
  // A browser's POST must carry the CSRF token of this approval's page; a SigV4 caller is no browser.
  if (method === 'POST' && identity && !request.iamIdentity && approvalId && !csrfMatches(gate.signingKey, approvalId, request.cookies[CSRF_COOKIE], request.form.csrf)) {
    refusal = { status: 403, outcome: 'refused_csrf', message: 'This form does not belong to this page: reload the page and decide again' };
  }
  const response = await handleApprovalHttp(gate, {
    method,
    path: request.path,
    query: request.query,
    form: request.form,
    identity: refusal ? null : identity,
    userAgent: request.userAgent,
    ...(refusal ? { refusal } : {}),
  });
  const link = approvalId && request.query.exp && request.query.sig ? `/approvals/${approvalId}?exp=${request.query.exp}&sig=${request.query.sig}` : null;
  const signInUrl = signIn && link && APPROVAL_RETURN.test(link) ? `/auth/sign-in?return=${encodeURIComponent(link)}` : null;
  const cookies: string[] = [];
  let csrf: string | null = null;
  if (response.request?.status === 'PENDING' && identity && approvalId && !refusal) {
    const nonce = newNonce();
    csrf = csrfToken(gate.signingKey, approvalId, nonce);
    cookies.push(setCookie(CSRF_COOKIE, nonce, { path: `/approvals/${approvalId}`, maxAgeSeconds: 3600, secure }));
  }
  const page = renderPage(response, { method, signedInAs: refusal ? null : identity, signInUrl: identity && !refusal ? null : signInUrl, csrfToken: csrf });
  return { ...page, cookies };
}
