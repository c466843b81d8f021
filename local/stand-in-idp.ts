import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeHtml } from '../functions/approval-endpoint/page';
import type { ResolvedSignIn } from '../functions/approval-endpoint/sign-in';

/**
 * The local stack's stand-in identity provider (docs/approval-sign-in.md): an RSA key pair kept
 * under $OPSRAIL_HOME/idp, a sign-in form listing the names of the local policy, an authorization
 * code flow with PKCE, and a JWKS, so the approval page's sign-in and aws-jwt-verify run exactly as
 * against Cognito. It vouches for whoever picks a name: it exists for the account-free local stage
 * only.
 */
export interface IdpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface PendingCode {
  sub: string;
  clientId: string;
  redirectUri: string;
  challenge: string;
  expiresAt: number;
}

function keyPair(dir: string): { privateKey: KeyObject; publicKey: KeyObject } {
  const path = join(dir, 'signing-key.pem');
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    // Written aside, then linked into place: two processes starting at once never read half a key.
    const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(aside, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    try {
      linkSync(aside, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      unlinkSync(aside);
    }
  }
  const privateKey = createPrivateKey(readFileSync(path, 'utf8'));
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export class StandInIdp {
  private readonly privateKey: KeyObject;
  private readonly jwk: Record<string, unknown>;
  private readonly codes = new Map<string, PendingCode>();

  constructor(
    dir: string,
    private readonly settings: ResolvedSignIn,
    private readonly names: string[],
    private readonly now: () => Date = () => new Date(),
  ) {
    const keys = keyPair(dir);
    this.privateKey = keys.privateKey;
    const publicJwk = keys.publicKey.export({ format: 'jwk' });
    const kid = createHash('sha256')
      .update(JSON.stringify({ e: publicJwk.e, kty: publicJwk.kty, n: publicJwk.n }))
      .digest('base64url')
      .slice(0, 16);
    this.jwk = { ...publicJwk, kid, alg: 'RS256', use: 'sig' };
  }

  /**
   * An RS256 ID token; tests mint refused ones (expired, another audience or issuer) with the
   * overrides.
   */
  mint(sub: string, overrides: Record<string, unknown> = {}): string {
    const iat = Math.floor(this.now().getTime() / 1000);
    const header = b64json({ alg: 'RS256', typ: 'JWT', kid: this.jwk.kid });
    const payload = b64json({
      iss: this.settings.issuer,
      aud: this.settings.clientId,
      sub,
      iat,
      exp: iat + 600,
      token_use: 'id',
      ...overrides,
    });
    return `${header}.${payload}.${sign('sha256', Buffer.from(`${header}.${payload}`), this.privateKey).toString('base64url')}`;
  }

  private page(status: number, title: string, body: string): IdpResponse {
    const html =
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>` +
      `<style>body{font:16px/1.5 system-ui,sans-serif;max-width:30rem;margin:0 auto;padding:1rem}label{display:block;margin:.4rem 0}button{font:inherit;padding:.5rem 1rem}</style></head>` +
      `<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
    return {
      status,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'x-frame-options': 'DENY',
      },
      body: html,
    };
  }

  private json(status: number, value: unknown): IdpResponse {
    return {
      status,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
      body: JSON.stringify(value),
    };
  }

  /** Only this stack's client, returning to this stack's callback. */
  private validClient(clientId: string | undefined, redirectUri: string | undefined): boolean {
    return (
      clientId === this.settings.clientId &&
      redirectUri === `${new URL(this.settings.issuer).origin}/auth/callback`
    );
  }

  /** Serves /idp/…; null for any other path. */
  handle(
    method: string,
    path: string,
    query: Record<string, string | undefined>,
    form: Record<string, string | undefined>,
  ): IdpResponse | null {
    const issuerPath = new URL(this.settings.issuer).pathname;
    if (!path.startsWith(`${issuerPath}/`)) return null;
    const route = path.slice(issuerPath.length);
    if (route === '/jwks.json' && method === 'GET') return this.json(200, { keys: [this.jwk] });
    if (route === '/.well-known/openid-configuration' && method === 'GET') {
      const s = this.settings;
      return this.json(200, {
        issuer: s.issuer,
        authorization_endpoint: s.authorizationEndpoint,
        token_endpoint: s.tokenEndpoint,
        jwks_uri: s.jwksUri,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
    }
    if (route === '/authorize' && method === 'GET') {
      if (
        !this.validClient(query.client_id, query.redirect_uri) ||
        query.code_challenge_method !== 'S256' ||
        !query.code_challenge ||
        !query.state
      )
        return this.page(400, 'Unknown client or request', '');
      const hidden = ['client_id', 'redirect_uri', 'state', 'code_challenge']
        .map((k) => `<input type="hidden" name="${k}" value="${escapeHtml(query[k] as string)}">`)
        .join('');
      const options = this.names
        .map(
          (name) =>
            `<label><input type="radio" name="sub" value="${escapeHtml(name)}" required> ${escapeHtml(name)}</label>`,
        )
        .join('');
      return this.page(
        200,
        'Sign in (local stand-in)',
        `<p>The local stack's stand-in identity provider: choose who you are.</p><form method="post">${hidden}<fieldset><legend>Sign in as</legend>${options}</fieldset><p><button type="submit">Sign in</button></p></form>`,
      );
    }
    if (route === '/authorize' && method === 'POST') {
      if (
        !this.validClient(form.client_id, form.redirect_uri) ||
        !form.code_challenge ||
        !form.state ||
        !form.sub ||
        !this.names.includes(form.sub)
      )
        return this.page(400, 'Unknown client or name', '');
      const code = randomBytes(24).toString('base64url');
      this.codes.set(code, {
        sub: form.sub,
        clientId: form.client_id as string,
        redirectUri: form.redirect_uri as string,
        challenge: form.code_challenge,
        expiresAt: this.now().getTime() + 120_000,
      });
      const back = new URL(form.redirect_uri as string);
      back.searchParams.set('code', code);
      back.searchParams.set('state', form.state);
      return {
        status: 302,
        headers: { location: back.toString(), 'cache-control': 'no-store' },
        body: '',
      };
    }
    if (route === '/token' && method === 'POST') {
      const pending = form.code ? this.codes.get(form.code) : undefined;
      if (form.code) this.codes.delete(form.code); // a code works once
      const verifierHash = createHash('sha256')
        .update(form.code_verifier ?? '')
        .digest('base64url');
      if (
        !pending ||
        form.grant_type !== 'authorization_code' ||
        pending.expiresAt < this.now().getTime() ||
        pending.clientId !== form.client_id ||
        pending.redirectUri !== form.redirect_uri ||
        verifierHash !== pending.challenge
      ) {
        return this.json(400, { error: 'invalid_grant' });
      }
      return this.json(200, {
        id_token: this.mint(pending.sub),
        token_type: 'Bearer',
        expires_in: 600,
      });
    }
    return this.json(404, { error: 'not_found' });
  }
}

/** The names the stand-in offers: everyone the local policy names as an approver. */
export function policyNames(approversByOpKind: Partial<Record<string, string[]>>): string[] {
  return [...new Set(Object.values(approversByOpKind).flatMap((names) => names ?? []))].sort();
}
