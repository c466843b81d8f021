import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SignatureV4 } from '@smithy/signature-v4';
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { ApprovalAnswer, PendingApprovals, type Stage } from '../contracts';
import { stackOutputKeys, stageResourceNames } from '../contracts/resource-names';
import { wrapAwsError } from '../functions/adapters/aws-errors';
import { ConfigurationError, DependencyError, PermissionError } from '../functions/core/errors';

/**
 * `opsrail approvals|approve|reject --stage S` (docs/approval-slack-and-cli.md): SigV4-signed
 * requests, with the caller's own AWS credentials, to the stage's IAM-authenticated decision
 * Function URL. The approver is the caller's IAM identity as Lambda verified it; the rules are the
 * endpoint's own.
 */

type Bytes = string | ArrayBuffer | ArrayBufferView;
const toBuffer = (data: Bytes) =>
  typeof data === 'string'
    ? Buffer.from(data, 'utf8')
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

/** SHA-256 (and HMAC-SHA256 with a key) for the signer, from node:crypto. */
class NodeSha256 {
  private hash!: Hash | Hmac;
  constructor(private readonly secret?: Bytes) {
    this.reset();
  }
  update(data: Bytes): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash =
      this.secret === undefined
        ? createHash('sha256')
        : createHmac('sha256', toBuffer(this.secret));
  }
}

export interface StageApprovalClients {
  cloudformation: CloudFormationClient;
}

export const defaultStageApprovalClients = (): StageApprovalClients => ({
  cloudformation: new CloudFormationClient({}),
});

/** A Function URL's region is in its host name (`<id>.lambda-url.<region>.on.aws`). */
const regionOf = (url: URL) => /\.lambda-url\.([a-z0-9-]+)\.on\.aws$/.exec(url.hostname)?.[1];

/** The stage's decision URL, from its stack's outputs. */
async function decisionUrl(stage: Stage, clients: StageApprovalClients): Promise<URL> {
  const stack = stageResourceNames(stage).stack;
  let outputs;
  try {
    outputs = (await clients.cloudformation.send(new DescribeStacksCommand({ StackName: stack })))
      .Stacks?.[0]?.Outputs;
  } catch (error) {
    throw wrapAwsError(`CloudFormation DescribeStacks ${stack}`, error);
  }
  const value = outputs?.find(
    (o) => o.OutputKey === stackOutputKeys.approvalDecisionUrl,
  )?.OutputValue;
  if (!value)
    throw new ConfigurationError(
      `stack ${stack} has no ${stackOutputKeys.approvalDecisionUrl} output: is stage '${stage}' deployed?`,
    );
  return new URL(value);
}

/** One SigV4-signed request (service `lambda`) with the credentials the AWS SDK would use. */
async function signedFetch(
  clients: StageApprovalClients,
  url: URL,
  method: 'GET' | 'POST',
  body?: string,
): Promise<{ status: number; text: string }> {
  const config = clients.cloudformation.config;
  const signer = new SignatureV4({
    service: 'lambda',
    region: regionOf(url) ?? (await config.region()),
    credentials: config.credentials,
    sha256: NodeSha256,
  });
  // The endpoint answers as data (ApprovalAnswer), not as the page.
  const headers: Record<string, string> = {
    host: url.host,
    'user-agent': 'opsrail-cli',
    accept: 'application/json',
  };
  if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  const signed = await signer.sign({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers,
    ...(body !== undefined ? { body } : {}),
  });
  const { host: _host, ...sendHeaders } = signed.headers;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: sendHeaders,
      body,
      signal: AbortSignal.timeout(30_000),
      redirect: 'error',
    });
  } catch (error) {
    throw new DependencyError(
      `the decision URL ${url.origin} did not answer: ${(error as Error).name}`,
      { cause: error },
    );
  }
  const text = await response.text();
  // Function URL IAM auth refuses before the function runs: the caller may not invoke it.
  if (response.status === 403 && text.includes('"Message"'))
    throw new PermissionError(
      `the decision URL refused your AWS credentials (lambda:InvokeFunctionUrl on the decision function): ${text.slice(0, 200)}`,
    );
  return { status: response.status, text };
}

/** The stage's pending approvals, with their links. */
export async function listStageApprovals(
  stage: Stage,
  clients: StageApprovalClients,
  base?: URL,
): Promise<PendingApprovals['approvals']> {
  base ??= await decisionUrl(stage, clients);
  const { status, text } = await signedFetch(clients, new URL('/approvals', base), 'GET');
  if (status !== 200)
    throw new DependencyError(
      `listing approvals on stage ${stage} answered ${status}: ${text.slice(0, 200)}`,
    );
  const parsed = PendingApprovals.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new DependencyError(
      `listing approvals on stage ${stage}: unexpected answer (${parsed.error.issues[0]?.message})`,
    );
  return parsed.data.approvals;
}

/**
 * Approves or rejects one request on the stage, through its decision URL; the endpoint's status and
 * title.
 */
export async function decideOnStage(
  stage: Stage,
  clients: StageApprovalClients,
  decision: {
    approvalId: string;
    decision: 'approve' | 'reject';
    challenge?: string;
    reason?: string;
  },
): Promise<{ status: number; title: string }> {
  const base = await decisionUrl(stage, clients);
  const pending = await listStageApprovals(stage, clients, base);
  const request = pending.find((p) => p.approvalId === decision.approvalId);
  if (!request)
    return {
      status: 404,
      title: `no pending approval request '${decision.approvalId}' on stage ${stage}`,
    };
  // The link's path and signature, sent to the decision URL (the link itself points at the page
  // URL).
  const link = new URL(request.link);
  const target = new URL(`${link.pathname}${link.search}`, base);
  const form = new URLSearchParams({ decision: decision.decision });
  if (decision.challenge !== undefined) form.set('challenge', decision.challenge);
  if (decision.reason !== undefined) form.set('reason', decision.reason);
  const { status, text } = await signedFetch(clients, target, 'POST', form.toString());
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    throw new DependencyError(
      `deciding on stage ${stage} answered ${status} with no JSON: ${text.slice(0, 200)}`,
    );
  }
  const parsed = ApprovalAnswer.safeParse(answer);
  if (!parsed.success)
    throw new DependencyError(
      `deciding on stage ${stage} answered ${status}: unexpected answer (${parsed.error.issues[0]?.message})`,
    );
  return { status: parsed.data.status, title: parsed.data.title };
}
