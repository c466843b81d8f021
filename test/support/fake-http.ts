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

type ScriptedAnswer = { status: number; headers?: Record<string, string>; hang?: boolean };

function readBody(req: import('node:http').IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => resolve(body));
  });
}

/**
 * A fake Slack incoming webhook (`POST /services/T/B/x`): answers from a script (200 `ok` once it
 * runs out; an answer may carry headers such as Retry-After, or hang), records every body, keeps
 * the texts it accepted in `messages`.
 */
export class FakeSlack {
  private server!: Server;
  answers: ScriptedAnswer[] = [];
  received: { headers: IncomingHttpHeaders; body: string }[] = [];
  /** The `text` of each post answered 2xx. */
  messages: string[] = [];
  url = '';

  async start() {
    this.server = createServer(async (req, res) => {
      const body = await readBody(req);
      if (req.method !== 'POST' || req.url !== '/services/T000/B000/hook') {
        res.writeHead(404).end('no_service');
        return;
      }
      this.received.push({ headers: req.headers, body });
      const answer = this.answers.shift() ?? { status: 200 };
      if (answer.hang) return;
      if (answer.status < 300) {
        let text: unknown;
        try {
          text = (JSON.parse(body) as { text?: unknown }).text;
        } catch {
          text = undefined;
        }
        if (typeof text !== 'string') {
          res.writeHead(400).end('invalid_payload');
          return;
        }
        this.messages.push(text);
      }
      res.writeHead(answer.status, answer.headers ?? {}).end(answer.status < 300 ? 'ok' : 'error');
    });
    this.url = `${await listen(this.server)}/services/T000/B000/hook`;
  }
  reset(answers: ScriptedAnswer[] = []) {
    this.answers = answers;
    this.received = [];
    this.messages = [];
  }
  stop() {
    this.server.closeAllConnections();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A fake GitHub REST API for one issue's comments: `GET` and `POST
 * /repos/{owner}/{repo}/issues/{n}/comments`. Requires `Authorization: Bearer <token>` (401
 * otherwise); `GET` pages with `per_page` (default 30, at most 100) and `page`, and sends a
 * `Link` header with `rel="next"`/`rel="last"` as GitHub does. Scripted answers (per method) come
 * before the real one; `comments` holds every comment (seed it for earlier history).
 */
export class FakeGitHub {
  private server!: Server;
  readonly owner = 'opsrail-org';
  readonly repo = 'ops';
  readonly issueNumber = 42;
  answers: { GET: ScriptedAnswer[]; POST: ScriptedAnswer[] } = { GET: [], POST: [] };
  comments: { id: number; body: string }[] = [];
  /** Every request, in order (method, path with query, whether it was authorised). */
  requests: { method: string; url: string; authorised: boolean }[] = [];
  base = '';

  constructor(readonly token = 'ghp_fake_token_for_tests') {}

  get posted(): string[] {
    return this.comments.filter((c) => c.id >= 1_000_000).map((c) => c.body);
  }

  /** Adds `count` earlier comments (not posted by the code under test). */
  seed(count: number, body = (i: number) => `earlier comment ${i}`) {
    for (let i = 0; i < count; i++)
      this.comments.push({ id: this.comments.length + 1, body: body(i) });
  }

  async start() {
    let nextId = 1_000_000;
    this.server = createServer(async (req, res) => {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', this.base);
      const authorised = req.headers.authorization === `Bearer ${this.token}`;
      const method = req.method ?? 'GET';
      this.requests.push({ method, url: `${url.pathname}${url.search}`, authorised });
      const json = (status: number, value: unknown, headers: Record<string, string> = {}) =>
        res
          .writeHead(status, { 'Content-Type': 'application/json', ...headers })
          .end(JSON.stringify(value));
      const path = `/repos/${this.owner}/${this.repo}/issues/${this.issueNumber}/comments`;
      if (url.pathname !== path || (method !== 'GET' && method !== 'POST'))
        return json(404, { message: 'Not Found' });
      if (!authorised) return json(401, { message: 'Bad credentials' });
      const scripted = this.answers[method].shift();
      if (scripted) {
        if (scripted.hang) return;
        return json(scripted.status, { message: 'scripted' }, scripted.headers);
      }
      if (method === 'POST') {
        let text: unknown;
        try {
          text = (JSON.parse(body) as { body?: unknown }).body;
        } catch {
          text = undefined;
        }
        if (typeof text !== 'string' || text.length === 0)
          return json(422, { message: 'Validation Failed' });
        const comment = { id: nextId++, body: text };
        this.comments.push(comment);
        return json(201, {
          ...comment,
          html_url: `${this.base}${path}#issuecomment-${comment.id}`,
        });
      }
      const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 30)));
      const page = Math.max(1, Number(url.searchParams.get('page') ?? 1));
      const last = Math.max(1, Math.ceil(this.comments.length / perPage));
      const link = (p: number, rel: string) =>
        `<${this.base}${path}?per_page=${perPage}&page=${p}>; rel="${rel}"`;
      const links = page < last ? [link(page + 1, 'next'), link(last, 'last')] : [];
      return json(
        200,
        this.comments.slice((page - 1) * perPage, page * perPage),
        links.length ? { Link: links.join(', ') } : {},
      );
    });
    this.base = await listen(this.server);
  }
  reset() {
    this.answers = { GET: [], POST: [] };
    this.comments = [];
    this.requests = [];
  }
  stop() {
    this.server.closeAllConnections();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
