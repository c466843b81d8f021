import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import fc from 'fast-check';
import type { RunContext } from '../../contracts';
import { approvalGate } from '../../functions/adapters/dependencies';
import { createApprovalEndpointHandler } from '../../functions/approval-endpoint/handler';
import {
  approvalLink,
  requestApproval,
  type ApprovalDependencies,
} from '../../functions/core/approvals';
import { createPreflightHandler } from '../../functions/preflight/handler';
import { LocalRuntime } from '../../local/runtime';
import { countingJob } from '../support/jobs';
import type { LocalStack } from '../../local/stack';
import { testStack, withTestJobs } from '../support/local';

/**
 * Statuses the endpoint may answer; a 500 (or a throw) is an untyped failure and fails the
 * property.
 */
const EXPECTED = new Set([200, 400, 401, 403, 404, 405, 409, 410, 413]);
const MALFORMED_RUNS = 4000;
const REQUEST_RUNS = 1500;

describe('fuzz: the approval HTTP entry point (Lambda Function URL handler)', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  let gate: ApprovalDependencies;
  let handler: ReturnType<typeof createApprovalEndpointHandler>;
  let link: URL;
  let approvalId: string;
  const counts = { requests: 0, untyped: 0, views: 0 };

  beforeAll(async () => {
    stack = await testStack({
      policyDir: withTestJobs([
        { jobId: 'fuzz_purge', dangerous: { value: true, opKind: 'retention' } },
      ]),
    });
    runtime = new LocalRuntime(stack.env, [countingJob('fuzz_purge')]);
    gate = await approvalGate(runtime.deps)();
    handler = createApprovalEndpointHandler(runtime.deps);
    const run: RunContext = await createPreflightHandler(runtime.deps)(
      {
        executionId: 'exec-fuzz',
        request: {
          jobId: 'fuzz_purge',
          scheduledTime: '2026-10-01T00:00:00Z',
          trigger: 'manual',
          requestedBy: 'alice',
        },
      },
      {} as never,
    );
    const plan = { summary: 'purge 3 run records', details: { count: 3 } };
    const { record } = await requestApproval(gate, run, {
      opKind: 'retention',
      plan,
      requestedBy: 'alice',
      taskToken: 'fuzz-task-token',
    });
    approvalId = record.approvalId;
    link = new URL(approvalLink(gate.linkBaseUrl, gate.signingKey, record));
  });
  afterAll(async () => stack.stop());

  async function call(event: unknown): Promise<{ status: number; method: string }> {
    counts.requests++;
    let result;
    try {
      result = await handler(event, {} as never);
    } catch (error) {
      counts.untyped++;
      throw new Error(`the handler threw ${(error as Error).name}: ${(error as Error).message}`);
    }
    if (!EXPECTED.has(result.statusCode ?? 0)) counts.untyped++;
    assert.ok(EXPECTED.has(result.statusCode ?? 0), `status ${result.statusCode}`);
    assert.equal(
      result.headers?.['x-frame-options'],
      'DENY',
      'every answer keeps the security headers',
    );
    const method = (event as { requestContext?: { http?: { method?: unknown } } })?.requestContext
      ?.http?.method;
    return {
      status: result.statusCode as number,
      method: typeof method === 'string' ? method.toUpperCase() : '',
    };
  }

  test(`${MALFORMED_RUNS} malformed events (anything at all, or a Function URL event with holes): 400s, never a throw`, async () => {
    const holey = fc.record(
      {
        rawPath: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
        queryStringParameters: fc.oneof(
          fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer())),
          fc.string(),
        ),
        body: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
        isBase64Encoded: fc.oneof(fc.boolean(), fc.string()),
        requestContext: fc.oneof(
          fc.constant(undefined),
          fc.constant(null),
          fc.record(
            { http: fc.oneof(fc.anything(), fc.record({ method: fc.anything() })) },
            { requiredKeys: [] },
          ),
        ),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.anything(), holey), async (event) => void (await call(event))),
      { numRuns: MALFORMED_RUNS },
    );
  });

  test(`${REQUEST_RUNS} well-formed requests from strangers and the requester (forged links, any method, any body): 0 decisions`, async () => {
    // Weighted toward the real link, so most requests get past the signature to the decision rules.
    const path = fc.oneof(
      { arbitrary: fc.constant(link.pathname), weight: 4 },
      fc.constant(`/approvals/${'0'.repeat(32)}`),
      fc.string({ maxLength: 80 }).map((s) => `/approvals/${s}`),
      fc.string({ maxLength: 40 }),
    );
    const sig = link.searchParams.get('sig') as string;
    const query = fc.oneof(
      { arbitrary: fc.constant(Object.fromEntries(link.searchParams)), weight: 4 },
      fc.record({
        exp: fc.oneof(fc.constant(link.searchParams.get('exp') as string), fc.string()),
        sig: fc.oneof(fc.constant(sig.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'))), fc.string()),
      }),
      fc.dictionary(fc.string(), fc.string()),
    );
    // Never an allowed approver (bob): the requester in every spelling, strangers, look-alikes,
    // ARNs.
    const identity = fc.oneof(
      fc.constantFrom(
        'alice',
        'ALICE',
        ' alice ',
        'alice\u0000',
        'al ice',
        'b\u200bob',
        'bo b',
        'mallory',
        'arn:aws:iam::111111111111:user/mallory',
        '',
      ),
      fc.string({ maxLength: 300 }).filter((s) => s.trim().toLowerCase() !== 'bob'),
    );
    const form = fc.record(
      {
        decision: fc.oneof(fc.constantFrom('approve', 'reject', 'APPROVE', ''), fc.string()),
        challenge: fc.oneof(fc.constant('retention-000000'), fc.string({ maxLength: 40 })),
        reason: fc.string({ maxLength: 2000 }),
        identity: fc.constant('bob'),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      form.map((f) => ({ body: new URLSearchParams(f).toString(), isBase64Encoded: false })),
      form.map((f) => ({
        body: Buffer.from(new URLSearchParams(f).toString()).toString('base64'),
        isBase64Encoded: true,
      })),
      fc.string({ maxLength: 500 }).map((s) => ({ body: s, isBase64Encoded: false })),
      fc.constant({ body: 'a'.repeat(20_000), isBase64Encoded: false }),
      fc.constant({}),
    );
    const request = fc.record({
      rawPath: path,
      queryStringParameters: fc.option(query, { nil: undefined, freq: 8 }),
      payload: body,
      method: fc.oneof(
        fc.constantFrom('GET', 'HEAD', 'POST', 'post', 'PUT', 'DELETE', 'OPTIONS'),
        fc.string({ minLength: 1, maxLength: 16 }),
      ),
      userArn: fc.option(identity, { nil: undefined, freq: 8 }),
      userAgent: fc.option(
        fc.oneof(fc.string({ maxLength: 300 }), fc.constant('U'.repeat(15_000))),
        { nil: undefined },
      ),
    });
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const event = {
          rawPath: r.rawPath,
          ...(r.queryStringParameters ? { queryStringParameters: r.queryStringParameters } : {}),
          ...r.payload,
          requestContext: {
            http: {
              method: r.method,
              ...(r.userAgent === undefined ? {} : { userAgent: r.userAgent }),
            },
            ...(r.userArn === undefined ? {} : { authorizer: { iam: { userArn: r.userArn } } }),
          },
        };
        const { status, method } = await call(event);
        if (status === 200) {
          counts.views++;
          assert.ok(
            method === 'GET' || method === 'HEAD',
            `a 200 to ${method} would be a decision`,
          );
        }
      }),
      { numRuns: REQUEST_RUNS },
    );
    const stored = (await gate.approvals.getApproval(approvalId))!;
    assert.equal(stored.record.status, 'PENDING', '0 decisions');
    assert.deepEqual(stored.record.decisions, []);
    assert.ok(
      stored.attempts.length + stored.attemptsNotStored > 0,
      'attempts reached the request and were recorded',
    );
    assert.ok(stored.attempts.length <= 50);
    console.log(
      `approval endpoint fuzz: ${counts.requests} generated requests, ${counts.untyped} untyped errors or 500s, 0 decisions (${counts.views} page views)`,
    );
    assert.equal(counts.untyped, 0);
  });
});
