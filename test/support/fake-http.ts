import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SIGNATURE_HEADER } from '../../functions/core/webhook-delivery';
import { REPO_ROOT } from '../../infra/paths';

/** The receiver's check: the snippet docs/webhooks.md gives receivers, run as written. */
export type Verify = (secret: string, header: unknown, body: string, now: number) => boolean;
export function documentedVerifier(): Verify {
  const page = readFileSync(join(REPO_ROOT, 'docs', 'webhooks.md'), 'utf8');
  const code = /```js\n([\s\S]*?)```/.exec(page)?.[1];
  assert.ok(code, 'docs/webhooks.md has a js snippet');
  return new Function('require', `${code}\nreturn verifyOpsrailSignature;`)(
    createRequire(import.meta.url),
  ) as Verify;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * A fake webhook: answers from a script (200 once it runs out; an answer may carry headers, or
 * hang: never answer, so the sender's timeout decides), verifies each request's signature with the
 * documented snippet, counts deliveries it accepted.
 */
export class FakeWebhook {
  private server!: Server;
  private readonly verify = documentedVerifier();
  answers: { status: number; headers?: Record<string, string>; hang?: boolean }[] = [];
  received: { headers: IncomingHttpHeaders; body: string; signatureValid: boolean }[] = [];
  deliveries = 0;
  url = '';

  constructor(readonly key: string) {}

  async start() {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        const signatureValid = this.verify(
          this.key,
          req.headers[SIGNATURE_HEADER.toLowerCase()],
          body,
          Math.floor(Date.now() / 1000),
        );
        this.received.push({ headers: req.headers, body, signatureValid });
        const answer = this.answers.shift() ?? { status: 200 };
        if (answer.hang) return;
        if (answer.status < 300 && signatureValid) this.deliveries++;
        res.writeHead(answer.status, answer.headers ?? {}).end(answer.status < 300 ? 'ok' : 'no');
      });
    });
    this.url = `${await listen(this.server)}/hook`;
  }
  reset(answers: FakeWebhook['answers'] = []) {
    this.answers = answers;
    this.received = [];
    this.deliveries = 0;
  }
  stop() {
    this.server.closeAllConnections();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A fake endpoint to monitor: each path answers from its script (delay, status), keeps headers. */
export class FakeEndpoint {
  private server!: Server;
  /** Per path: the answers still to give; the last one repeats. */
  scripts: Record<string, { delayMs: number; status: number }[]> = {};
  seenHeaders: IncomingHttpHeaders[] = [];
  base = '';

  async start() {
    this.server = createServer((req, res) => {
      this.seenHeaders.push(req.headers);
      const script = this.scripts[req.url ?? ''] ?? [];
      const answer = (script.length > 1 ? script.shift() : script[0]) ?? {
        delayMs: 0,
        status: 404,
      };
      setTimeout(() => res.writeHead(answer.status).end('x'), answer.delayMs);
    });
    this.base = await listen(this.server);
  }
  stop() {
    this.server.closeAllConnections();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
