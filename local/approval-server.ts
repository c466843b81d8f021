import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { ApprovalDependencies } from '../functions/core/approvals';
import { serveApprovalEndpoint } from '../functions/approval-endpoint/http';
import { parseCookies, tokenVerifier } from '../functions/approval-endpoint/sign-in';
import { localSignInSettings } from '../functions/adapters/sign-in';
import { opsrailHome } from './stack';
import { policyNames, StandInIdp } from './stand-in-idp';

/**
 * The approval endpoint on 127.0.0.1, for the local stack: the same endpoint code as the Lambda, with
 * the stand-in IdP (local/stand-in-idp.ts) under /idp, so an approver signs in and the same token
 * verification runs. There is no IAM locally; the CLI's `--as` decides through the core directly.
 */
export async function startApprovalServer(gate: ApprovalDependencies, options: { idpDir?: string } = {}): Promise<{ url: string; idp: StandInIdp; close: () => Promise<void> } | null> {
  const base = new URL(gate.linkBaseUrl);
  if (!['127.0.0.1', 'localhost'].includes(base.hostname)) return null;
  const settings = localSignInSettings(gate.linkBaseUrl);
  const idpDir = options.idpDir ?? join(opsrailHome(), 'idp');
  const idp = new StandInIdp(idpDir, settings, policyNames(gate.policy.settings.approvals.approversByOpKind), () => gate.clock.now());
  const signIn = { settings, verifier: tokenVerifier(settings) };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
      if (body.length > 16_384) req.destroy();
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', base);
      const query = Object.fromEntries(url.searchParams);
      const form = Object.fromEntries(new URLSearchParams(body));
      const method = req.method ?? 'GET';
      const fromIdp = idp.handle(method, url.pathname, query, form);
      if (fromIdp) {
        res.writeHead(fromIdp.status, fromIdp.headers);
        res.end(fromIdp.body);
        return;
      }
      serveApprovalEndpoint(gate, signIn, { method, path: url.pathname, query, form, cookies: parseCookies(req.headers.cookie), origin: base.origin, userAgent: req.headers['user-agent'] ?? null, iamIdentity: null })
        .then((response) => {
          res.writeHead(response.status, { ...response.headers, ...(response.cookies.length ? { 'set-cookie': response.cookies } : {}) });
          res.end(response.body);
        })
        .catch((error: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`error: ${(error as Error).name}`);
        });
    });
  });
  const port = Number(base.port || 80);
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false)); // another local process (npm start, a waiting run) already serves it
    server.listen(port, base.hostname, () => resolve(true));
  });
  if (!listening) return null;
  return { url: `${base.origin}`, idp, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
