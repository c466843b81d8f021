import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import { BUILTIN_JOB_IDS, FunctionEnv, type FunctionDir, type HandlerEnv } from '../../contracts';
import { systemClock, type Clock } from '../core/clock';
import { validationErrorOf } from '../core/errors';
import { loadPolicy } from '../core/policy';
import { createRedactor } from '../core/redaction';
import { Logger } from '@aws-lambda-powertools/logger';
import type { RunDependencies } from '../core/run/dependencies';
import { registryOf } from '../jobs/registry-of';
import { kindJobs } from '../jobs/kinds';
import { awsJobKindPorts, localJobKindPorts } from './job-kind-adapters';
import { bundledConfig } from './bundle-config';
import { fetchHttpGetter, fetchWebhookPoster } from './webhook-poster';
import { chainNotify, type NotificationLedger } from '../core/notification-chain';
import { DynamoDbNotificationLedger } from './dynamodb-notification-ledger';
import type { JobImplementation } from '../jobs/types';
import { DynamoDbStateStore } from './dynamodb-state-store';
import { bundledPolicySource, directoryPolicySource } from './policy-sources';
import { S3EvidenceStore } from './s3-evidence-store';
import { noRunMetrics, PowertoolsRunMetrics } from './run-metrics';
import { DynamoDbApprovalStore } from './dynamodb-approval-store';
import {
  localSigningKey,
  pollingTaskCallbacks,
  readSecret,
  SlackAnnouncer,
  SnsAnnouncer,
  StepFunctionsTaskCallbacks,
} from './approval-adapters';
import { ConfigurationError } from '../core/errors';
import type { Announcer, ApprovalDependencies } from '../core/approvals';
import type { EvidenceStore } from '../core/ports';
import { onFirstUse, sdk } from './aws-sdk';

/**
 * One function's environment (contracts/handler-env.ts): a missing or malformed variable is named.
 */
export function parseFunctionEnv(
  dir: FunctionDir,
  raw: Record<string, string | undefined>,
  source = `${dir} environment`,
): HandlerEnv {
  const parsed = FunctionEnv[dir].safeParse(raw);
  if (!parsed.success) throw validationErrorOf(source, parsed.error);
  return parsed.data;
}

function dynamoDbClient(env: HandlerEnv): DynamoDBClient {
  return new DynamoDBClient({
    region: env.AWS_REGION,
    ...(env.AWS_ENDPOINT_URL_DYNAMODB ? { endpoint: env.AWS_ENDPOINT_URL_DYNAMODB } : {}),
  });
}

/** The evidence bucket's client settings (a test or bench that watches S3 builds its own client). */
export function s3ClientConfig(env: HandlerEnv) {
  return {
    region: env.AWS_REGION,
    forcePathStyle: env.OPSRAIL_S3_FORCE_PATH_STYLE === 'true',
    ...(env.AWS_ENDPOINT_URL_S3 ? { endpoint: env.AWS_ENDPOINT_URL_S3 } : {}),
  };
}

/**
 * The evidence bucket, with the S3 client loaded at the first read or write: Preflight never
 * touches evidence, a job function only if its job declares it (functions/adapters/aws-sdk.ts).
 * The adapter itself is imported statically: a dynamic import of a module inside the bundle makes
 * esbuild wrap every module that one shares with the rest (zod and the contracts among them) in
 * lazy initializers, which V8 then parses twice at every cold start
 * (docs/failure-semantics.md#cold-start).
 */
export function s3EvidenceStore(env: HandlerEnv): EvidenceStore {
  const store = onFirstUse(async () => {
    const { S3Client } = await sdk.s3();
    return new S3EvidenceStore(new S3Client(s3ClientConfig(env)), env.EVIDENCE_BUCKET_NAME);
  });
  return {
    putObject: async (key, body, contentType) => (await store()).putObject(key, body, contentType),
    getObject: async (key) => (await store()).getObject(key),
    list: async (prefix) => (await store()).list(prefix),
  };
}

export interface Dependencies extends RunDependencies {
  env: HandlerEnv;
  dynamodb: DynamoDBClient;
  /**
   * Where the Execute handler keeps its idempotency records: the idempotency table (DynamoDB)
   * unless given. Tests that run on the in-memory ports give an in-memory one (one per handler,
   * shared data).
   */
  idempotencyPersistence?: () => BasePersistenceLayer;
}

/** Whether an id is a built-in job's (functions/jobs/registry.ts), loaded here or not. */
const isBuiltinJob = (jobId: string) => (BUILTIN_JOB_IDS as readonly string[]).includes(jobId);

/**
 * Everything a handler needs, built once per cold start (or once per local runtime).
 *
 * `builtinJobs` are the implementations of the built-in jobs, given by what runs or plans jobs (the
 * Execute and RequestApproval handlers, a local runtime: `builtinJobs` of functions/jobs/registry.ts).
 * Without them `jobs` holds only the given and the http/lambda jobs, and the policy still counts
 * every built-in id as implemented: the other functions never run a job, and not importing the
 * registry keeps every job's code out of their bundles (docs/failure-semantics.md#cold-start).
 */
export function buildDependencies(
  env: HandlerEnv,
  extraJobs: readonly JobImplementation[] = [],
  overrides: {
    clock?: Clock;
    runsJobs?: boolean;
    notificationLedger?: NotificationLedger;
    builtinJobs?: readonly JobImplementation[];
  } = {},
): Dependencies {
  const builtins = overrides.builtinJobs ?? [];
  const dynamodb = dynamoDbClient(env);
  const source = env.OPSRAIL_POLICY_DIR
    ? directoryPolicySource(env.OPSRAIL_POLICY_DIR)
    : bundledPolicySource;
  // Job modules: given by the local runtime (loaded from the jobs directory), or bundled into this
  // function.
  const given = extraJobs.length > 0 ? extraJobs : bundledConfig().jobs;
  // What runs jobs (a handler, a local runtime) needs an implementation of every job in its
  // catalog; an operator's command that only reads or decides (status, verify, approve) does not
  // run any.
  const implemented = registryOf([...builtins, ...given]);
  const policy = loadPolicy(
    source,
    env.OPSRAIL_STAGE,
    overrides.runsJobs === false
      ? undefined
      : {
          has: (jobId) => implemented.has(jobId) || isBuiltinJob(jobId),
          get: (jobId) => implemented.get(jobId),
        },
  );
  // http and lambda jobs have no code of their own: made from their catalog entries.
  const kindPorts =
    env.OPSRAIL_STAGE === 'local' ? localJobKindPorts(env, policy) : awsJobKindPorts(env);
  const jobs = registryOf([...builtins, ...given, ...kindJobs(policy.jobs, kindPorts)]);
  const redactor = createRedactor(policy.settings.redaction);
  const jobLogger = new Logger({
    serviceName: env.POWERTOOLS_SERVICE_NAME,
    logLevel: env.POWERTOOLS_LOG_LEVEL,
    persistentKeys: { stage: env.OPSRAIL_STAGE, source: 'job' },
  });
  const log = (message: string, details?: Record<string, unknown>) =>
    jobLogger.info(message, details ?? {});
  const clock = overrides.clock ?? systemClock;
  const webhooks = {
    http: fetchWebhookPoster,
    sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
    random: Math.random,
  };
  return {
    env,
    dynamodb,
    policy,
    redactor,
    log,
    metrics:
      env.OPSRAIL_METRICS === 'emf'
        ? new PowertoolsRunMetrics(env.POWERTOOLS_SERVICE_NAME, env.OPSRAIL_STAGE)
        : noRunMetrics,
    approvals: new DynamoDbApprovalStore(dynamodb, env.STATE_TABLE_NAME),
    state: new DynamoDbStateStore(dynamodb, env.STATE_TABLE_NAME),
    evidence: s3EvidenceStore(env),
    clock,
    jobs,
    secrets: kindPorts.secrets,
    webhooks,
    // The stage's notification chain from its policy (docs/notifications.md#configuration): the
    // Slack ledger in the state table, kept as long as the run records.
    notify: chainNotify(
      {
        ...webhooks,
        clock,
        get: fetchHttpGetter,
        secrets: kindPorts.secrets,
        ledger:
          overrides.notificationLedger ??
          new DynamoDbNotificationLedger(
            dynamodb,
            env.STATE_TABLE_NAME,
            policy.settings.retention.runRecordDays * 86400,
          ),
        redactor,
        log: (message, details) =>
          log(redactor.text(message), details ? redactor.value(details) : undefined),
      },
      policy.settings.notifications,
    ),
    codeVersion: env.OPSRAIL_CODE_VERSION,
  };
}

/**
 * What the approval functions need besides the run dependencies, built once on first use: the
 * link-signing key (Secrets Manager by secret_ref in AWS, a key file locally), the announcers, and
 * the way back to the waiting task (SendTask* in AWS; locally the gate polls the record).
 */
export function approvalGate(deps: Dependencies): () => Promise<ApprovalDependencies> {
  let built: Promise<ApprovalDependencies> | undefined;
  const { env } = deps;
  return () =>
    (built ??= (async () => {
      // Loaded only if a secret is read (not with a local key file and no Slack webhook).
      const secrets = onFirstUse(
        async () =>
          new (await sdk.secretsManager()).SecretsManagerClient({ region: env.AWS_REGION }),
      );
      let signingKey: Uint8Array;
      if (env.APPROVAL_SIGNING_KEY_SECRET_ARN)
        signingKey = new TextEncoder().encode(
          await readSecret(await secrets(), env.APPROVAL_SIGNING_KEY_SECRET_ARN),
        );
      else if (env.OPSRAIL_SIGNING_KEY_FILE)
        signingKey = localSigningKey(env.OPSRAIL_SIGNING_KEY_FILE);
      else
        throw new ConfigurationError(
          'no approval signing key: set APPROVAL_SIGNING_KEY_SECRET_ARN (a secret_ref) or OPSRAIL_SIGNING_KEY_FILE',
        );
      const announcers: Announcer[] = [];
      const slackRef = env.SLACK_WEBHOOK_SECRET_ARN;
      if (slackRef)
        announcers.push(
          new SlackAnnouncer(async () => readSecret(await secrets(), slackRef), {
            buttons: !!deps.policy.settings.approvals.slack,
          }),
        );
      if (env.ALERTS_TOPIC_ARN) {
        const { SNSClient } = await sdk.sns();
        announcers.push(
          new SnsAnnouncer(new SNSClient({ region: env.AWS_REGION }), env.ALERTS_TOPIC_ARN),
        );
      }
      return {
        ...deps,
        signingKey,
        announcers,
        tasks:
          env.OPSRAIL_STAGE === 'local'
            ? pollingTaskCallbacks
            : new StepFunctionsTaskCallbacks(
                new (await sdk.sfn()).SFNClient({ region: env.AWS_REGION }),
              ),
        linkBaseUrl: env.APPROVAL_LINK_BASE_URL ?? deps.policy.settings.approvals.linkBaseUrl,
      };
    })());
}
