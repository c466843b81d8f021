import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { ApprovalDependencies, ApprovalHttpRequest } from '../functions/core/approvals';
import { endpointErrorPage, handleApprovalHttp, MAX_BODY_BYTES } from '../functions/core/approvals';
import { ConfigurationError } from '../functions/core/errors';

/** The approver is named only on a POST (a GET never decides): X-Opsrail-Approver, else the Basic user. */
function toRequest(req: IncomingMessage, base: URL, method: string, bodyBytes: number, chunks: Buffer[]): ApprovalHttpRequest {
  const url = new URL(req.url ?? '/', base);
  const header = req.headers['x-opsrail-approver'];
  const named = Array.isArray(header) ? header[0] : header;
  const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  const basicUser = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':')[0] : undefined;
  const identity = method === 'POST' ? (named ?? basicUser ?? null) : null;
  const body = bodyBytes <= MAX_BODY_BYTES ? Buffer.concat(chunks).toString('utf8') : '';
  const form = Object.fromEntries(new URLSearchParams(body));
  return { method, path: url.pathname, query: Object.fromEntries(url.searchParams), form, identity, userAgent: req.headers['user-agent'] ?? null, bodyBytes, source: 'local' };
}


/** The approval page's address is taken: approval links would point at whatever holds it. */
export class ApprovalPortInUseError extends ConfigurationError {
  readonly address: string;
  constructor(host: string, port: number, cause: NodeJS.ErrnoException) {
    super(
      `cannot serve the approval page on ${host}:${port}: ${cause.code === 'EACCES' ? 'not allowed' : 'the port is already in use'} (another opsrail start, a run waiting at the gate, or another program); stop it, or point approvals.linkBaseUrl of the local policy at a free port`,
      { cause },
    );
    this.address = `${host}:${port}`;
  }
}

/** Binds the link's host and port; a taken one is an ApprovalPortInUseError naming it. */
function listenOn(server: Server, base: URL): Promise<void> {
  const port = Number(base.port || 80);
  return new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'EADDRINUSE' || error.code === 'EACCES' ? new ApprovalPortInUseError(base.hostname, port, error) : error));
    server.listen(port, base.hostname, () => resolve());
  });
}

/** Before anything starts (npm start): the approval page's port is free, or the startup fails at once. */
export async function assertApprovalPortFree(linkBaseUrl: string): Promise<void> {
  const base = new URL(linkBaseUrl);
  if (!['127.0.0.1', 'localhost'].includes(base.hostname)) return;
  const probe = createServer();
  await listenOn(probe, base);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

/**
 * The approval endpoint on 127.0.0.1, for the local stack: the same handler as the Lambda. There is no
 * IAM locally, so the approver is the local user who says who they are (the X-Opsrail-Approver header,
 * or the user name of HTTP Basic auth); the CLI's `--as` does the same. A GET never carries one.
 */
export async function startApprovalServer(gate: ApprovalDependencies): Promise<{ url: string; close: () => Promise<void> } | null> {
  const base = new URL(gate.linkBaseUrl);
  if (!['127.0.0.1', 'localhost'].includes(base.hostname)) return null;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => {
      // Counted to the end, kept only up to the limit: an oversized body is refused (413) and recorded.
      bodyBytes += chunk.byteLength;
      if (bodyBytes <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      const method = req.method ?? 'GET';
      // Anything unreadable in the request (a malformed URL) is an answer, never a crash of the server.
      Promise.resolve()
        .then(() => handleApprovalHttp(gate, toRequest(req, base, method, bodyBytes, chunks)))
        .catch((error: unknown) => endpointErrorPage(error, method))
        .then((response) => {
          res.writeHead(response.status, response.headers);
          res.end(response.body);
        });
    });
  });
  await listenOn(server, base);
  return { url: `${base.origin}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
