import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { endpointHealthCheck } from '../../functions/jobs/endpoint-health-check';
import type { JobContext } from '../../functions/jobs/types';
import { freePort } from '../../local/dynamodb-local';

/** A real HTTP server on 127.0.0.1 answering whatever status the test sets. */
describe('endpoint_health_check against a local HTTP server', () => {
  let server: Server;
  let base = '';
  let answer = { status: 200, headers: {} as Record<string, string>, delayMs: 0 };
  beforeAll(async () => {
    server = createServer((_req, res) =>
      setTimeout(() => res.writeHead(answer.status, answer.headers).end('x'), answer.delayMs),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const context = (url: string, timeoutMs = 2000) =>
    ({
      job: { params: { url, expectStatus: 200, timeoutMs } },
      clock: { now: () => new Date() },
    }) as unknown as JobContext;

  test('a 200 is OK and records the latency', async () => {
    answer = { status: 200, headers: {}, delayMs: 0 };
    const result = await endpointHealthCheck.run(context(`${base}/health`));
    assert.equal(result.quality, 'OK');
    assert.equal(JSON.parse(result.outputs[0]!.body).status, 200);
  });

  test('answers and failures become the typed errors the ASL retries or not', async () => {
    for (const [status, name] of [
      [403, 'PermissionError'],
      [404, 'NotFoundError'],
      [500, 'DependencyError'],
      [429, 'ThrottlingError'],
    ] as const) {
      answer = { status, headers: status === 429 ? { 'retry-after': '3' } : {}, delayMs: 0 };
      await assert.rejects(
        endpointHealthCheck.run(context(`${base}/health`)),
        (e: Error) => e.name === name,
        String(status),
      );
    }
    answer = { status: 429, headers: { 'retry-after': '3' }, delayMs: 0 };
    await assert.rejects(
      endpointHealthCheck.run(context(`${base}/health`)),
      (e: { retryAfterSeconds?: number }) => e.retryAfterSeconds === 3,
    );
    answer = { status: 200, headers: {}, delayMs: 500 };
    await assert.rejects(
      endpointHealthCheck.run(context(`${base}/health`, 100)),
      (e: Error) => e.name === 'TimeoutError',
    );
    const closedPort = await freePort();
    await assert.rejects(
      endpointHealthCheck.run(context(`http://127.0.0.1:${closedPort}/health`)),
      (e: Error) => e.name === 'DependencyError' && /ECONNREFUSED/.test(e.message),
    );
  });
});
