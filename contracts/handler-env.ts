import { z } from 'zod';
import { Stage } from './common';

/**
 * The environment every opsrail Lambda reads, parsed once at cold start. CDK builds it from the same
 * schema (so a missing required variable fails the synth) and the local runtime passes the same shape
 * in-process. The optional ones are optional for every function alike: a function that needs one and
 * lacks it (e.g. the approval signing key) fails when it first uses it, not at synth.
 */
export const HandlerEnv = z.object({
  OPSRAIL_STAGE: Stage,
  STATE_TABLE_NAME: z.string().min(1),
  IDEMPOTENCY_TABLE_NAME: z.string().min(1),
  EVIDENCE_BUCKET_NAME: z.string().min(1),
  AWS_REGION: z.string().min(1),
  OPSRAIL_CODE_VERSION: z.string().min(1),
  POWERTOOLS_SERVICE_NAME: z.string().min(1).default('opsrail'),
  POWERTOOLS_LOG_LEVEL: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT']).default('INFO'),
  /** Local stack only: read policy/ from this directory instead of the copy bundled into the function. */
  OPSRAIL_POLICY_DIR: z.string().min(1).optional(),
  /** Local stack only: endpoints of DynamoDB Local and the local S3 endpoint. */
  AWS_ENDPOINT_URL_DYNAMODB: z.url().optional(),
  AWS_ENDPOINT_URL_S3: z.url().optional(),
  OPSRAIL_S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).default('false'),
  /** The approval gate. In AWS: secret_refs (ARNs) and the alert topic; locally a key file under $OPSRAIL_HOME. */
  APPROVAL_SIGNING_KEY_SECRET_ARN: z.string().min(1).optional(),
  OPSRAIL_SIGNING_KEY_FILE: z.string().min(1).optional(),
  SLACK_WEBHOOK_SECRET_ARN: z.string().min(1).optional(),
  ALERTS_TOPIC_ARN: z.string().min(1).optional(),
  /** The Slack Web API (views.open); Slack's own when absent. Tests point it at a fake. */
  SLACK_API_BASE_URL: z.url().optional(),
  /** Where approval links point (the approval page); the policy's linkBaseUrl when absent. */
  APPROVAL_LINK_BASE_URL: z.string().min(1).optional(),
  /** Local stack only: a JSON file of secret values by secret_ref, for http jobs' `{{secret.NAME}}` (AWS reads Secrets Manager). */
  OPSRAIL_SECRETS_FILE: z.string().min(1).optional(),
  /** How the approval page signs approvers in: SignInSettings (contracts/sign-in.ts) as JSON. */
  APPROVAL_SIGN_IN: z.string().min(1).optional(),
  /** The page function only: the decision function it passes a signed-in browser's POST to. */
  APPROVAL_DECISION_FUNCTION: z.string().min(1).optional(),
  /** Run metrics as CloudWatch EMF on stdout ('emf', in Lambda) or not at all ('off', the local stack). */
  OPSRAIL_METRICS: z.enum(['emf', 'off']).default('emf'),
});
export type HandlerEnv = z.infer<typeof HandlerEnv>;
