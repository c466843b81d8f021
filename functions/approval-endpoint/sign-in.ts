import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CognitoJwtVerifier, JwtVerifier } from 'aws-jwt-verify';
import {
  JwtExpiredError,
  JwtInvalidAudienceError,
  JwtInvalidIssuerError,
  JwtInvalidSignatureError,
  KidNotFoundInJwksError,
  CognitoJwtInvalidClientIdError,
  JwtNotBeforeError,
} from 'aws-jwt-verify/error';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import type { Fetcher } from 'aws-jwt-verify/https';
import type { SignInSettings } from '../../contracts';

/**
 * Signing an approver in on the approval page (docs/approval-sign-in.md): the OAuth 2.0
 * authorization code flow with PKCE against the stage's identity provider, its ID token verified by
 * aws-jwt-verify (the same code for Cognito, an OIDC issuer and the local stand-in IdP), and a CSRF
 * token bound to the page. Nothing here decides: it hands the core a verified identity or a
 * refusal.
 */
export interface ResolvedSignIn extends SignInSettings {
  clientId: string;
  clientSecret?: string;
}

/** Why a token was refused, as the audited outcome. */
export type TokenRefusal =
  | 'refused_token_expired'
  | 'refused_token_issuer'
  | 'refused_token_audience'
  | 'refused_token_signature'
  | 'refused_token_invalid'
  | 'refused_token_claim';

export type TokenCheck = { ok: true; identity: string } | { ok: false; outcome: TokenRefusal };

export interface TokenVerifier {
  check(idToken: string): Promise<TokenCheck>;
}

/**
 * aws-jwt-verify fetches JWKS over https only; the local stand-in serves it on 127.0.0.1 over http.
 */
const loopbackFetcher: Fetcher = {
  async fetch(uri) {
    const url = new URL(uri);
    if (url.protocol !== 'https:' && !['127.0.0.1', 'localhost'].includes(url.hostname))
      throw new Error(`JWKS over http is for the local stand-in only: ${url.origin}`);
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    if (!response.ok) throw new Error(`JWKS answered ${response.status}`);
    return response.arrayBuffer();
  },
};

function refusalOf(error: unknown): TokenRefusal {
  if (error instanceof JwtExpiredError || error instanceof JwtNotBeforeError)
    return 'refused_token_expired';
  if (error instanceof JwtInvalidIssuerError) return 'refused_token_issuer';
  if (error instanceof JwtInvalidAudienceError || error instanceof CognitoJwtInvalidClientIdError)
    return 'refused_token_audience';
  if (error instanceof JwtInvalidSignatureError || error instanceof KidNotFoundInJwksError)
    return 'refused_token_signature';
  return 'refused_token_invalid';
}

/**
 * The approver named by the token: its verified e-mail (only when email_verified) or its subject.
 */
function identityOf(
  payload: Record<string, unknown>,
  claim: SignInSettings['claim'],
): string | null {
  if (claim === 'sub') return typeof payload.sub === 'string' && payload.sub ? payload.sub : null;
  const verified = payload.email_verified === true || payload.email_verified === 'true';
  return verified && typeof payload.email === 'string' && payload.email
    ? payload.email.toLowerCase()
    : null;
}

export function tokenVerifier(settings: ResolvedSignIn): TokenVerifier {
  const jwksCache = new SimpleJwksCache(
    settings.kind === 'local' ? { fetcher: loopbackFetcher } : {},
  );
  const verifier =
    settings.kind === 'cognito' && settings.userPoolId
      ? CognitoJwtVerifier.create(
          { userPoolId: settings.userPoolId, clientId: settings.clientId, tokenUse: 'id' },
          { jwksCache },
        )
      : JwtVerifier.create(
          { issuer: settings.issuer, audience: settings.clientId, jwksUri: settings.jwksUri },
          { jwksCache },
        );
  return {
    async check(idToken) {
      try {
        const payload = (await verifier.verify(idToken)) as Record<string, unknown>;
        const identity = identityOf(payload, settings.claim);
        return identity ? { ok: true, identity } : { ok: false, outcome: 'refused_token_claim' };
      } catch (error) {
        return { ok: false, outcome: refusalOf(error) };
      }
    },
  };
}

const b64url = (buffer: Buffer) => buffer.toString('base64url');

/**
 * The CSRF token of one rendering of one approval's page: an HMAC (with the link-signing key) over
 * the approval id and a nonce that only this browser holds, in a cookie scoped to the page (double
 * submit). A token copied from another approval's page, or a form without the cookie, does not
 * match.
 */
export function csrfToken(key: Uint8Array, approvalId: string, nonce: string): string {
  return createHmac('sha256', key).update(`csrf|${approvalId}|${nonce}`).digest('base64url');
}

export function csrfMatches(
  key: Uint8Array,
  approvalId: string,
  nonce: string | undefined,
  token: string | undefined,
): boolean {
  if (!nonce || !token || !/^[A-Za-z0-9_-]{16,128}$/.test(nonce)) return false;
  const expected = Buffer.from(csrfToken(key, approvalId, nonce));
  const given = Buffer.from(token);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export const newNonce = (): string => b64url(randomBytes(24));

/**
 * PKCE (RFC 7636, S256): the verifier stays in this browser's cookie, the challenge goes to the
 * IdP.
 */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = b64url(randomBytes(32));
  return { verifier, challenge: b64url(createHash('sha256').update(verifier).digest()) };
}

/** Only a signed approval link may be returned to after sign-in (no open redirect). */
export const APPROVAL_RETURN = /^\/approvals\/[a-f0-9]{32}\?exp=\d{1,12}&sig=[a-f0-9]{64}$/;

export function authorizeUrl(
  settings: ResolvedSignIn,
  redirectUri: string,
  state: string,
  challenge: string,
): string {
  const url = new URL(settings.authorizationEndpoint);
  const params = {
    response_type: 'code',
    client_id: settings.clientId,
    redirect_uri: redirectUri,
    scope: settings.claim === 'email' ? 'openid email' : 'openid',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}

/** The authorization code for an ID token at the token endpoint (with the PKCE verifier). */
export async function exchangeCode(
  settings: ResolvedSignIn,
  code: string,
  redirectUri: string,
  verifier: string,
): Promise<string> {
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    client_id: settings.clientId,
    code_verifier: verifier,
  });
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  if (settings.clientSecret)
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(settings.clientId)}:${encodeURIComponent(settings.clientSecret)}`).toString('base64')}`;
  const response = await fetch(settings.tokenEndpoint, {
    method: 'POST',
    headers,
    body: form.toString(),
    signal: AbortSignal.timeout(5000),
  });
  const body = (await response.json().catch(() => ({}))) as { id_token?: unknown };
  if (!response.ok || typeof body.id_token !== 'string')
    throw new Error(`the token endpoint answered ${response.status} without an id_token`);
  return body.id_token;
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0) cookies[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return cookies;
}

export function setCookie(
  name: string,
  value: string,
  options: { path: string; maxAgeSeconds: number; secure: boolean },
): string {
  return `${name}=${value}; Path=${options.path}; Max-Age=${options.maxAgeSeconds}; HttpOnly; SameSite=Lax${options.secure ? '; Secure' : ''}`;
}
