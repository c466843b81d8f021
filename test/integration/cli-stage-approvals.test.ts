import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { GateResults } from '../../contracts';
import { createApprovalEndpointHandler } from '../../functions/approval-endpoint/handler';
import { approvalGate } from '../../functions/adapters/dependencies';
import type { ApprovalDependencies } from '../../functions/core/approvals';
import { main } from '../../cli/main';
import { LocalRuntime } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { readVerifiedBundle } from '../support/evidence';
import { countingJob } from '../support/jobs';
import { testStack, withTestJobs } from '../support/local';

const ACCOUNT = '111111111111';
const ALICE_ARN = `arn:aws:iam::${ACCOUNT}:user/alice`;
const BOB_ARN = `arn:aws:sts::${ACCOUNT}:assumed-role/approver/bob`;
const MALLORY_ARN = `arn:aws:iam::${ACCOUNT}:user/mallory`;
/** Access keys the fake Function URL knows, and whose IAM identity each one is. */
const KEYS: Record<string, { secret: string; arn: string }> = {
  AKIAALICE000000000001: { secret: 'alice-secret-access-key-0000000000000000', arn: ALICE_ARN },
  ASIABOB00000000000002: { secret: 'bob-secret-access-key-00000000000000000000', arn: BOB_ARN },
  AKIAMALLORY000000003: { secret: 'mallory-secret-access-key-000000000000000', arn: MALLORY_ARN },
};

const hmac = (key: string | Buffer, data: string) =>
  createHmac('sha256', key).update(data).digest();
const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
const encode = (s: string) =>
  encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );

/**
 * SigV4 checked from the specification, independently of the signer the CLI uses: the canonical
 * request, the string to sign and the derived key. The identity of a valid request, or why not.
 */
function verifySigV4(
  method: string,
  url: URL,
  headers: Record<string, string | string[] | undefined>,
  body: string,
): { arn: string } | { refused: string } {
  const auth =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([a-f0-9]{64})$/.exec(
      String(headers.authorization ?? ''),
    );
  if (!auth) return { refused: 'missing or malformed Authorization' };
  const [, keyId, date, region, service, signedHeaders, signature] = auth as unknown as string[];
  const key = KEYS[keyId!];
  if (!key) return { refused: 'unknown access key' };
  if (service !== 'lambda') return { refused: `signed for service ${service}` };
  const names = signedHeaders!.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date'))
    return { refused: 'host and x-amz-date must be signed' };
  const amzDate = String(headers['x-amz-date']);
  if (
    !amzDate.startsWith(date!) ||
    Math.abs(
      Date.now() -
        Date.parse(
          amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'),
        ),
    ) >
      5 * 60_000
  )
    return { refused: 'request time' };
  const query = [...url.searchParams]
    .map(([k, v]) => [encode(k), encode(v)])
    .sort(([a, x], [b, y]) => (a! < b! ? -1 : a! > b! ? 1 : x! < y! ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalHeaders = names
    .map(
      (n) =>
        `${n}:${String(headers[n] ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const canonical = [
    method,
    url.pathname.split('/').map(encode).join('/'),
    query,
    canonicalHeaders,
    signedHeaders,
    sha256(body),
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const signingKey = hmac(
    hmac(hmac(hmac(`AWS4${key.secret}`, date!), region!), service!),
    'aws4_request',
  );
  return hmac(signingKey, toSign).toString('hex') === signature
    ? { arn: key.arn }
    : { refused: 'signature does not match' };
}

describe('opsrail approvals|approve|reject --stage: SigV4 with your own credentials against the decision Function URL', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  let gate: ApprovalDependencies;
  let server: Server;
  let decisionUrl = '';
  const seen: { method: string; path: string; identity: string | null; form: string }[] = [];
  const cloudformation = mockClient(CloudFormationClient);
  const purge = countingJob('stage_purge');
  const requests: { approvalId: string }[] = [];
  let tick = 0;

  beforeAll(async () => {
    const policyDir = withTestJobs(
      [{ jobId: 'stage_purge', dangerous: { value: true, opKind: 'retention' } }],
      (p) => ({
        ...p,
        approvals: {
          ...p.approvals,
          timeoutSeconds: 60,
          approversByOpKind: { ...p.approvals.approversByOpKind, retention: [ALICE_ARN, BOB_ARN] },
        },
      }),
    );
    stack = await testStack({ policyDir });
    runtime = new LocalRuntime(stack.env, [purge], {
      onApprovalRequested: (r) => requests.push(r),
    });
    gate = await approvalGate(runtime.deps)();
    const endpoint = createApprovalEndpointHandler(runtime.deps);
    // A stand-in for the decision Function URL (auth AWS_IAM): AWS checks the signature and hands
    // the function the caller's IAM identity; unsigned or badly signed requests never reach the
    // function.
    server = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
      const verdict = verifySigV4(req.method ?? 'GET', url, req.headers, body);
      seen.push({
        method: req.method ?? '',
        path: url.pathname,
        identity: 'arn' in verdict ? verdict.arn : null,
        form: body,
      });
      if (!('arn' in verdict))
        return void res
          .writeHead(403, { 'content-type': 'application/json' })
          .end(JSON.stringify({ Message: `Forbidden (${verdict.refused})` }));
      const keyId = /Credential=([^/]+)/.exec(String(req.headers.authorization))![1]!;
      const event = {
        version: '2.0',
        rawPath: url.pathname,
        rawQueryString: url.search.slice(1),
        ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body: body || undefined,
        isBase64Encoded: false,
        requestContext: {
          http: {
            method: req.method,
            path: url.pathname,
            protocol: 'HTTP/1.1',
            sourceIp: '127.0.0.1',
            userAgent: String(req.headers['user-agent']),
          },
          authorizer: {
            iam: {
              accessKey: keyId,
              accountId: ACCOUNT,
              callerId: 'AIDAEXAMPLE',
              userArn: verdict.arn,
              userId: 'AIDAEXAMPLE',
            },
          },
        },
      };
      const result = await endpoint(event, {} as never);
      res
        .writeHead(result.statusCode ?? 200, result.headers as Record<string, string>)
        .end(result.body ?? '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    decisionUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    cloudformation.on(DescribeStacksCommand, { StackName: 'opsrail-dev' }).resolves({
      Stacks: [
        {
          StackName: 'opsrail-dev',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: [{ OutputKey: 'ApprovalDecisionUrl', OutputValue: decisionUrl }],
        },
      ],
    });
  });
  afterAll(async () => {
    cloudformation.restore();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await stack.stop();
  });

  /**
   * The CLI in-process, with the given access key as its AWS credentials (the SDK's env provider).
   */
  async function opsrail(keyId: string | null, ...argv: string[]) {
    const saved = {
      id: process.env.AWS_ACCESS_KEY_ID,
      secret: process.env.AWS_SECRET_ACCESS_KEY,
      region: process.env.AWS_REGION,
      log: console.log,
      error: console.error,
    };
    const out: string[] = [];
    const err: string[] = [];
    process.env.AWS_ACCESS_KEY_ID = keyId ?? 'AKIAUNKNOWN000000000';
    process.env.AWS_SECRET_ACCESS_KEY = keyId
      ? KEYS[keyId]!.secret
      : 'not-a-known-secret-key-000000000000000';
    process.env.AWS_REGION = 'eu-west-1';
    console.log = (...a: unknown[]) => void out.push(a.join(' '));
    console.error = (...a: unknown[]) => void err.push(a.join(' '));
    try {
      return { code: await main(argv), stdout: out.join('\n'), stderr: err.join('\n') };
    } finally {
      console.log = saved.log;
      console.error = saved.error;
      for (const [name, value] of [
        ['AWS_ACCESS_KEY_ID', saved.id],
        ['AWS_SECRET_ACCESS_KEY', saved.secret],
        ['AWS_REGION', saved.region],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  }

  async function waitingRun() {
    const before = requests.length;
    const outcome = runtime.run({
      jobId: 'stage_purge',
      scheduledTime: `2026-08-${String(++tick).padStart(2, '0')}T00:00:00Z`,
      trigger: 'manual',
      requestedBy: ALICE_ARN,
      params: {},
    });
    while (requests.length === before) await new Promise((r) => setTimeout(r, 50));
    const { approvalId } = requests.at(-1)!;
    const stored = () => gate.approvals.getApproval(approvalId).then((s) => s!);
    return { outcome, approvalId, challenge: (await stored()).record.challenge, stored };
  }
  const BOB = 'ASIABOB00000000000002';
  const ALICE = 'AKIAALICE000000000001';
  const MALLORY = 'AKIAMALLORY000000003';

  test('approvals --stage lists the pending requests through a signed GET; approve with the challenge as an allowed IAM identity releases the run', async () => {
    const { outcome, approvalId, challenge, stored } = await waitingRun();
    const listed = await opsrail(BOB, 'approvals', '--stage', 'dev', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    const row = JSON.parse(listed.stdout).find(
      (r: { approvalId: string }) => r.approvalId === approvalId,
    );
    assert.deepEqual([row.requestedBy, row.allowedApprovers], [ALICE_ARN, [BOB_ARN]]);
    assert.match(row.link, /\/approvals\/[a-f0-9]{32}\?exp=\d+&sig=[a-f0-9]{64}$/);

    const approved = await opsrail(
      BOB,
      'approve',
      approvalId,
      '--stage',
      'dev',
      '--challenge',
      challenge,
      '--reason',
      'looked at the plan',
    );
    assert.equal(approved.code, 0, approved.stdout + approved.stderr);
    assert.match(approved.stdout, /^200 Approved/);
    const done = await outcome;
    assert.equal(done.kind, 'completed');
    const { record, attempts } = await stored();
    assert.deepEqual(
      [record.status, record.decidedBy, record.reason],
      ['APPROVED', BOB_ARN, 'looked at the plan'],
    );
    assert.deepEqual(
      attempts.map((a) => [a.outcome, a.identity, a.source, a.userAgent]),
      [['approved', BOB_ARN, 'cli', 'opsrail-cli']],
    );
    assert.ok('summary' in done && done.summary);
    const results = GateResults.parse(
      JSON.parse(
        (await readVerifiedBundle(runtime.deps.evidence, done.summary.manifestKey as string))
          .objects['gate_results.json'] as string,
      ),
    );
    assert.deepEqual([results.decision, results.decidedBy], ['approved', BOB_ARN]);
    assert.ok(
      seen.filter((s) => s.path.startsWith('/approvals')).every((s) => s.identity !== null),
      'every request the CLI made was SigV4-signed',
    );
    assert.ok(
      !seen.some((s) => /identity|approver|decidedBy/.test(s.form)),
      'the identity is never a form field',
    );

    const again = await opsrail(
      BOB,
      'approve',
      approvalId,
      '--stage',
      'dev',
      '--challenge',
      challenge,
    );
    assert.notEqual(again.code, 0, 'a decided request is no longer pending');
  });

  test('the same rules as the page: the requester, an IAM identity not listed, a wrong challenge and --as are refused', async () => {
    const { outcome, approvalId, challenge, stored } = await waitingRun();
    assert.equal(
      (await opsrail(ALICE, 'approve', approvalId, '--stage', 'dev', '--challenge', challenge))
        .code,
      3,
      'the requester',
    );
    assert.equal(
      (await opsrail(MALLORY, 'approve', approvalId, '--stage', 'dev', '--challenge', challenge))
        .code,
      3,
      'not an approver of retention',
    );
    assert.equal(
      (
        await opsrail(
          BOB,
          'approve',
          approvalId,
          '--stage',
          'dev',
          '--challenge',
          'retention-000000',
        )
      ).code,
      2,
      'wrong challenge',
    );
    assert.equal(
      (await opsrail(BOB, 'approve', approvalId, '--stage', 'dev')).code,
      2,
      'no challenge',
    );
    const named = await opsrail(
      BOB,
      'approve',
      approvalId,
      '--stage',
      'dev',
      '--as',
      BOB_ARN,
      '--challenge',
      challenge,
    );
    assert.equal(named.code, 2);
    assert.match(named.stderr, /--as is not used with --stage/);
    const { record, attempts } = await stored();
    assert.equal(record.status, 'PENDING');
    assert.deepEqual(
      attempts.map((a) => [a.outcome, a.identity]),
      [
        ['refused_requester', ALICE_ARN],
        ['refused_not_allowed', MALLORY_ARN],
        ['refused_wrong_challenge', BOB_ARN],
      ],
    );

    const rejected = await opsrail(
      BOB,
      'reject',
      approvalId,
      '--stage',
      'dev',
      '--reason',
      'not this week',
    );
    assert.equal(rejected.code, 0, rejected.stdout + rejected.stderr);
    assert.notEqual((await outcome).kind, 'completed');
    assert.deepEqual(
      [(await stored()).record.status, (await stored()).record.decidedBy],
      ['REJECTED', BOB_ARN],
    );
  });

  test('the listing is for signed callers only: on the page URL (no IAM identity) it is refused, and it takes only GET', async () => {
    const endpoint = createApprovalEndpointHandler(runtime.deps);
    const event = (method: string, iam: boolean) => ({
      version: '2.0',
      rawPath: '/approvals',
      headers: {},
      isBase64Encoded: false,
      requestContext: {
        http: { method, path: '/approvals', userAgent: 'curl/8' },
        ...(iam ? { authorizer: { iam: { userArn: BOB_ARN } } } : {}),
      },
    });
    const anonymous = await endpoint(event('GET', false), {} as never);
    assert.equal(anonymous.statusCode, 401);
    assert.ok(!String(anonymous.body).includes('approvalId'));
    assert.equal((await endpoint(event('POST', true), {} as never)).statusCode, 405);
    assert.equal((await endpoint(event('GET', true), {} as never)).statusCode, 200);
  });

  test('credentials the decision URL does not accept, an undeployed stage, and a bad stage name fail clearly', async () => {
    const denied = await opsrail(null, 'approvals', '--stage', 'dev');
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /refused your AWS credentials.*lambda:InvokeFunctionUrl/);
    cloudformation.on(DescribeStacksCommand, { StackName: 'opsrail-stage' }).resolves({
      Stacks: [
        {
          StackName: 'opsrail-stage',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: [],
        },
      ],
    });
    const undeployed = await opsrail(BOB, 'approvals', '--stage', 'stage');
    assert.equal(undeployed.code, 1);
    assert.match(undeployed.stderr, /no ApprovalDecisionUrl output: is stage 'stage' deployed\?/);
    assert.equal((await opsrail(BOB, 'approvals', '--stage', 'qa')).code, 2);
  });
});
