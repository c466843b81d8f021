import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import type { HandlerEnv, RunContext } from '../../contracts';
import { approvalGate, buildDependencies } from '../../functions/adapters/dependencies';
import { createApprovalEndpointHandler } from '../../functions/approval-endpoint/handler';
import { requestApproval } from '../../functions/core/approvals';
import { createPreflightHandler } from '../../functions/preflight/handler';
import { startApprovalServer } from '../../local/approval-server';
import { LocalRuntime } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { countingJob } from '../support/jobs';
import { testStack, withTestJobs } from '../support/local';
import { freeLoopbackPort } from '../support/net';

/** A Function URL event (payload 2.0) as Lambda builds it. */
function urlEvent(
  method: string,
  url: URL,
  options: { cookies?: string[]; body?: string; iam?: string } = {},
) {
  return {
    version: '2.0',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    queryStringParameters: Object.fromEntries(url.searchParams),
    cookies: options.cookies,
    headers: {},
    body: options.body ? Buffer.from(options.body).toString('base64') : undefined,
    isBase64Encoded: Boolean(options.body),
    requestContext: {
      domainName: 'abc.lambda-url.eu-west-1.on.aws',
      http: { method, path: url.pathname, userAgent: 'Mozilla/5.0 test' },
      ...(options.iam ? { authorizer: { iam: { userArn: options.iam } } } : {}),
    },
  };
}

describe('the approval Lambdas: the page function signs in and forwards a POST; only the decision function decides', () => {
  let stack: LocalStack;
  let server: NonNullable<Awaited<ReturnType<typeof startApprovalServer>>>;
  let env: HandlerEnv;
  const lambda = mockClient(LambdaClient);
  const forwarded: unknown[] = [];

  beforeAll(async () => {
    const base = `http://127.0.0.1:${await freeLoopbackPort()}`;
    stack = await testStack({
      policyDir: withTestJobs([{ jobId: 'gated_job', overlap: 'allow' }], (p) => ({
        ...p,
        approvals: { ...p.approvals, linkBaseUrl: base },
      })),
    });
    env = stack.env;
    // The stand-in IdP's JWKS is served by the local approval server, as under npm start.
    const gate = await approvalGate(new LocalRuntime(env, [countingJob('gated_job')]).deps)();
    const started = await startApprovalServer(gate, { idpDir: join(stack.home, 'idp') });
    assert.ok(started);
    server = started;
    const decision = createApprovalEndpointHandler(
      buildDependencies(env, [countingJob('gated_job')]),
    );
    lambda
      .on(InvokeCommand, {
        FunctionName: 'arn:aws:lambda:eu-west-1:111111111111:function:decision',
      })
      .callsFake(async (input: { Payload: Uint8Array }) => {
        const payload = JSON.parse(Buffer.from(input.Payload).toString('utf8'));
        forwarded.push(payload);
        return {
          StatusCode: 200,
          Payload: Buffer.from(JSON.stringify(await decision(payload, {} as never))),
        };
      });
  });
  afterAll(async () => {
    lambda.restore();
    await server?.close();
    await stack?.stop();
  });

  test('GET shows the page and issues the CSRF cookie; the POST goes to the decision function, which verifies and approves', async () => {
    const runtime = new LocalRuntime(env, [countingJob('gated_job')]);
    const run: RunContext = await createPreflightHandler(runtime.deps)(
      {
        executionId: 'exec-lambda-1',
        request: { jobId: 'gated_job', scheduledTime: '2026-08-01T00:00:00Z', trigger: 'manual' },
      },
      {} as never,
    );
    const gate = await approvalGate(runtime.deps)();
    const { record, link } = await requestApproval(
      { ...gate, announcers: [], log: () => {} },
      run,
      {
        opKind: 'retention',
        plan: { summary: 'purge 1 run record', details: { count: 1 } },
        requestedBy: 'alice',
        taskToken: 'task-token',
      },
    );
    const page = createApprovalEndpointHandler(
      buildDependencies(
        {
          ...env,
          APPROVAL_DECISION_FUNCTION: 'arn:aws:lambda:eu-west-1:111111111111:function:decision',
        },
        [countingJob('gated_job')],
      ),
    );
    const url = new URL(link);
    const token = server.idp.mint('bob');

    const shown = await page(
      urlEvent('GET', url, { cookies: [`opsrail_id=${token}`] }),
      {} as never,
    );
    assert.equal(shown.statusCode, 200);
    const csrfCookie = shown.cookies?.find((c) => c.startsWith('opsrail_csrf='))?.split(';')[0];
    const csrf = /name="csrf" value="([^"]+)"/.exec(String(shown.body))?.[1];
    assert.ok(csrfCookie && csrf);
    assert.match(
      shown.cookies![0]!,
      new RegExp(
        `Path=/approvals/${record.approvalId}; Max-Age=\\d+; HttpOnly; SameSite=Lax; Secure`,
      ),
      'https: the cookie is Secure',
    );
    assert.equal(forwarded.length, 0, 'a GET is never forwarded');

    const body = new URLSearchParams({
      csrf,
      decision: 'approve',
      challenge: record.challenge,
    }).toString();
    const decided = await page(
      urlEvent('POST', url, { cookies: [`opsrail_id=${token}`, csrfCookie], body }),
      {} as never,
    );
    assert.equal(decided.statusCode, 200);
    assert.match(String(decided.body), /<h1>Approved<\/h1>/);
    assert.equal(forwarded.length, 1);
    assert.ok(
      !('iamIdentity' in (forwarded[0] as { forwardedDecision: object }).forwardedDecision),
      'the page passes on no identity of its own',
    );
    const stored = (await gate.approvals.getApproval(record.approvalId))!;
    assert.deepEqual([stored.record.status, stored.record.decidedBy], ['APPROVED', 'bob']);
  });

  test('a forwarded POST without a valid token decides nothing, whatever the page claims', async () => {
    const runtime = new LocalRuntime(env, [countingJob('gated_job')]);
    const run: RunContext = await createPreflightHandler(runtime.deps)(
      {
        executionId: 'exec-lambda-2',
        request: { jobId: 'gated_job', scheduledTime: '2026-08-02T00:00:00Z', trigger: 'manual' },
      },
      {} as never,
    );
    const gate = await approvalGate(runtime.deps)();
    const { record, link } = await requestApproval(
      { ...gate, announcers: [], log: () => {} },
      run,
      {
        opKind: 'retention',
        plan: { summary: 'purge 1 run record', details: { count: 1 } },
        requestedBy: 'alice',
        taskToken: 'task-token',
      },
    );
    const decision = createApprovalEndpointHandler(
      buildDependencies(env, [countingJob('gated_job')]),
    );
    const url = new URL(link);
    const base = {
      method: 'POST',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      form: { decision: 'approve', challenge: record.challenge },
      origin: 'https://x',
      userAgent: 'forged',
    };
    const noToken = await decision({ forwardedDecision: { ...base, cookies: {} } }, {} as never);
    assert.equal(noToken.statusCode, 401);
    const withIam = (await decision(
      {
        forwardedDecision: {
          ...base,
          cookies: {},
          iamIdentity: 'arn:aws:iam::111111111111:user/bob',
        },
      },
      {} as never,
    ).catch((e: Error) => e)) as { statusCode?: number } | Error;
    assert.ok(
      withIam instanceof Error || withIam.statusCode !== 200,
      'an identity smuggled into a forwarded request is never taken',
    );
    assert.equal((await gate.approvals.getApproval(record.approvalId))!.record.status, 'PENDING');
  });
});
