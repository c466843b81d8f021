import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import type { ApprovalDependencies } from '../functions/core/approvals';
import { MAX_BODY_BYTES } from '../functions/core/approvals';
import { ApprovalPortInUseError } from './errors';
import { localSignInSettings } from '../functions/adapters/sign-in';
import {
  errorResponse,
  serveApprovalEndpoint,
  type EndpointRequest,
  type SignIn,
} from '../functions/approval-endpoint/http';
import { parseCookies, tokenVerifier } from '../functions/approval-endpoint/sign-in';
import { opsrailHome } from './stack';
import { policyNames, StandInIdp } from './stand-in-idp';

/**
 * The local user who names themselves, on a POST only (a GET never decides): the X-Opsrail-Approver
 * header, for tests and scripts on this machine; the CLI's `--as` is the same idea. LOCAL ONLY: the
 * Lambda never reads this header (in AWS the approver is the IAM caller or a verified sign-in
 * token). No CSRF token is needed for it: a form on another site cannot set a custom header on a
 * cross-site POST (that takes a CORS preflight, which this server never answers). HTTP Basic is not
 * taken, since a browser would replay remembered Basic credentials on such a POST.
 */
function localCaller(req: IncomingMessage, method: string): EndpointRequest['caller'] {
  const header = req.headers['x-opsrail-approver'];
  const named = Array.isArray(header) ? header[0] : header;
  return { identity: method === 'POST' ? (named ?? null) : null, source: 'local' };
}

function toRequest(
  req: IncomingMessage,
  base: URL,
  method: string,
  bodyBytes: number,
  chunks: Buffer[],
): EndpointRequest {
  const url = new URL(req.url ?? '/', base);
  const body = bodyBytes <= MAX_BODY_BYTES ? Buffer.concat(chunks).toString('utf8') : '';
  return {
    method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    form: Object.fromEntries(new URLSearchParams(body)),
    cookies: parseCookies(req.headers.cookie),
    origin: base.origin,
    userAgent: req.headers['user-agent'] ?? null,
    caller: localCaller(req, method),
    bodyBytes,
    wantsJson: /\bapplication\/json\b/.test(req.headers.accept ?? ''),
  };
}

/** Binds the link's host and port; a taken one is an ApprovalPortInUseError naming it. */
function listenOn(server: Server, base: URL): Promise<void> {
  const port = Number(base.port || 80);
  return new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE' || error.code === 'EACCES'
          ? new ApprovalPortInUseError(base.hostname, port, error)
          : error,
      ),
    );
    server.listen(port, base.hostname, () => resolve());
  });
}

/**
 * Before anything starts (npm start): the approval page's port is free, or the startup fails at
 * once.
 */
export async function assertApprovalPortFree(linkBaseUrl: string): Promise<void> {
  const base = new URL(linkBaseUrl);
  if (!['127.0.0.1', 'localhost'].includes(base.hostname)) return;
  const probe = createServer();
  await listenOn(probe, base);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

/**
 * The approval endpoint on 127.0.0.1, for the local stack: the same endpoint code as the Lambda
 * (functions/approval-endpoint/http.ts), with the stand-in IdP (local/stand-in-idp.ts) under /idp,
 * so an approver signs in on the page and the same token verification (aws-jwt-verify) runs as in
 * AWS. Tests and scripts may instead name the local user (localCaller above); the CLI's `--as`
 * decides through the core directly.
 */
export async function startApprovalServer(
  gate: ApprovalDependencies,
  options: { idpDir?: string } = {},
): Promise<{ url: string; idp: StandInIdp; close: () => Promise<void> } | null> {
  const base = new URL(gate.linkBaseUrl);
  if (!['127.0.0.1', 'localhost'].includes(base.hostname)) return null;
  const settings = localSignInSettings(gate.linkBaseUrl);
  const idp = new StandInIdp(
    options.idpDir ?? join(opsrailHome(), 'idp'),
    settings,
    policyNames(gate.policy.settings.approvals.approversByOpKind),
    () => gate.clock.now(),
  );
  const signIn: SignIn = { settings, verifier: tokenVerifier(settings) };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => {
      // Counted to the end, kept only up to the limit: an oversized body is refused (413) and
      // recorded.
      bodyBytes += chunk.byteLength;
      if (bodyBytes <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      const method = req.method ?? 'GET';
      // Anything unreadable in the request (a malformed URL) is an answer, never a crash of the
      // server.
      Promise.resolve()
        .then(() => {
          const request = toRequest(req, base, method, bodyBytes, chunks);
          const fromIdp = idp.handle(method, request.path, request.query, request.form);
          if (fromIdp) return { ...fromIdp, cookies: [] };
          return serveApprovalEndpoint(gate, signIn, request);
        })
        .catch((error: unknown) => errorResponse(error, method))
        .then((response) => {
          res.writeHead(response.status, {
            ...response.headers,
            ...(response.cookies.length ? { 'set-cookie': response.cookies } : {}),
          });
          res.end(response.body);
        });
    });
  });
  await listenOn(server, base);
  return {
    url: `${base.origin}`,
    idp,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
