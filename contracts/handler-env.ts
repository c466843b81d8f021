import { deferred } from './deferred';
import * as z from 'zod';
import { Environment, Stage } from './common';

/**
 * Every variable an opsrail Lambda may read: the common ones are required for all; the optional
 * ones are needed by some functions only, and `FunctionEnv` (below) says which function needs
 * which, in AWS and on the local stack. A handler parses its own function's schema at cold start,
 * CDK parses it at synth (so a function that lacks a variable it needs fails `cdk synth`), and the
 * local runtime parses every function's schema when it starts.
 */
export const HandlerEnv = deferred(() =>
  z.object({
    OPSRAIL_STAGE: Stage,
    STATE_TABLE_NAME: z.string().min(1),
    IDEMPOTENCY_TABLE_NAME: z.string().min(1),
    EVIDENCE_BUCKET_NAME: z.string().min(1),
    AWS_REGION: z.string().min(1),
    OPSRAIL_CODE_VERSION: z.string().min(1),
    POWERTOOLS_SERVICE_NAME: z.string().min(1).default('opsrail'),
    POWERTOOLS_LOG_LEVEL: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT']).default('INFO'),
    /**
     * Local stack only: read policy/ from this directory instead of the copy bundled into the
     * function.
     */
    OPSRAIL_POLICY_DIR: z.string().min(1).optional(),
    /** Local stack only: endpoints of DynamoDB Local and the local S3 endpoint. */
    AWS_ENDPOINT_URL_DYNAMODB: z.url().optional(),
    AWS_ENDPOINT_URL_S3: z.url().optional(),
    OPSRAIL_S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).default('false'),
    /**
     * The approval gate. In AWS: secret_refs (ARNs) and the alert topic; locally a key file under
     * $OPSRAIL_HOME.
     */
    APPROVAL_SIGNING_KEY_SECRET_ARN: z.string().min(1).optional(),
    OPSRAIL_SIGNING_KEY_FILE: z.string().min(1).optional(),
    SLACK_WEBHOOK_SECRET_ARN: z.string().min(1).optional(),
    ALERTS_TOPIC_ARN: z.string().min(1).optional(),
    /** The Slack Web API (views.open); Slack's own when absent. Tests point it at a fake. */
    SLACK_API_BASE_URL: z.url().optional(),
    /** Where approval links point (the approval page); the policy's linkBaseUrl when absent. */
    APPROVAL_LINK_BASE_URL: z.string().min(1).optional(),
    /**
     * Local stack only: a JSON file of secret values by secret_ref, for http jobs' `{{secret.NAME}}`
     * (AWS reads Secrets Manager).
     */
    OPSRAIL_SECRETS_FILE: z.string().min(1).optional(),
    /** How the approval page signs approvers in: SignInSettings (contracts/sign-in.ts) as JSON. */
    APPROVAL_SIGN_IN: z.string().min(1).optional(),
    /** The page function only: the decision function it passes a signed-in browser's POST to. */
    APPROVAL_DECISION_FUNCTION: z.string().min(1).optional(),
    /**
     * Run metrics as CloudWatch EMF on stdout ('emf', in Lambda) or not at all ('off', the local
     * stack).
     */
    OPSRAIL_METRICS: z.enum(['emf', 'off']).default('emf'),
  }),
);
export type HandlerEnv = z.infer<typeof HandlerEnv>;

/** Every opsrail Lambda, by its folder under functions/ (one handler.ts each). */
export const functionDirs = [
  'preflight',
  'execute',
  'finalize',
  'record-failure',
  'request-approval',
  'execution-ended',
  'approval-endpoint',
  'slack-interaction',
] as const;
export type FunctionDir = (typeof functionDirs)[number];

const required = deferred(() => z.string().min(1));
type Needs = Partial<Record<keyof typeof HandlerEnv.shape, typeof required>>;

/**
 * What each function needs beyond the common variables. In AWS the approval functions read the
 * link-signing key from Secrets Manager (its secret_ref); on the local stack from a key file under
 * $OPSRAIL_HOME. RequestApproval also announces on the alerts topic and links to the approval page;
 * the page function needs how approvers sign in (the local stack uses its stand-in IdP instead).
 */
const needs: Record<FunctionDir, { aws: Needs; local: Needs }> = {
  preflight: { aws: {}, local: {} },
  execute: { aws: {}, local: {} },
  finalize: { aws: {}, local: {} },
  'record-failure': { aws: {}, local: {} },
  'execution-ended': { aws: {}, local: {} },
  'request-approval': {
    aws: {
      APPROVAL_SIGNING_KEY_SECRET_ARN: required,
      ALERTS_TOPIC_ARN: required,
      APPROVAL_LINK_BASE_URL: required,
    },
    local: { OPSRAIL_SIGNING_KEY_FILE: required },
  },
  'approval-endpoint': {
    aws: { APPROVAL_SIGNING_KEY_SECRET_ARN: required, APPROVAL_SIGN_IN: required },
    local: { OPSRAIL_SIGNING_KEY_FILE: required },
  },
  'slack-interaction': {
    aws: { APPROVAL_SIGNING_KEY_SECRET_ARN: required },
    local: { OPSRAIL_SIGNING_KEY_FILE: required },
  },
};

/**
 * One function's environment schema: the local-stack variant for stage `local`, the AWS one
 * otherwise.
 */
function functionEnv(dir: FunctionDir): z.ZodType<HandlerEnv> {
  return z.discriminatedUnion('OPSRAIL_STAGE', [
    HandlerEnv.extend({ OPSRAIL_STAGE: z.literal('local'), ...needs[dir].local }),
    HandlerEnv.extend({ OPSRAIL_STAGE: Environment, ...needs[dir].aws }),
  ]) as unknown as z.ZodType<HandlerEnv>; // a variant only makes optional variables required: still a HandlerEnv
}

/** The environment schema of each function (see `needs` for what differs between them). */
export const FunctionEnv = deferred(
  () =>
    Object.fromEntries(functionDirs.map((dir) => [dir, functionEnv(dir)])) as Record<
      FunctionDir,
      z.ZodType<HandlerEnv>
    >,
);
