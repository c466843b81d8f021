import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { HandlerEnv } from '../../contracts';
import { systemClock, type Clock } from '../core/clock';
import { ValidationError } from '../core/errors';
import { loadPolicy } from '../core/policy';
import { createRedactor } from '../core/redaction';
import { Logger } from '@aws-lambda-powertools/logger';
import type { RunDependencies } from '../core/run';
import { jobRegistry } from '../jobs/registry';
import type { JobImplementation } from '../jobs/types';
import { DynamoDbStateStore } from './dynamodb-state-store';
import { bundledPolicySource, directoryPolicySource } from './policy-sources';
import { S3EvidenceStore } from './s3-evidence-store';
import { noRunMetrics, PowertoolsRunMetrics } from './run-metrics';

export function parseHandlerEnv(raw: Record<string, string | undefined>): HandlerEnv {
  const parsed = HandlerEnv.safeParse(raw);
  if (!parsed.success) {
    throw new ValidationError('environment', parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })), { cause: parsed.error });
  }
  return parsed.data;
}

export function awsClients(env: HandlerEnv): { dynamodb: DynamoDBClient; s3: S3Client } {
  return {
    dynamodb: new DynamoDBClient({ region: env.AWS_REGION, ...(env.AWS_ENDPOINT_URL_DYNAMODB ? { endpoint: env.AWS_ENDPOINT_URL_DYNAMODB } : {}) }),
    s3: new S3Client({
      region: env.AWS_REGION,
      forcePathStyle: env.OPSRAIL_S3_FORCE_PATH_STYLE === 'true',
      ...(env.AWS_ENDPOINT_URL_S3 ? { endpoint: env.AWS_ENDPOINT_URL_S3 } : {}),
    }),
  };
}

export interface Dependencies extends RunDependencies {
  env: HandlerEnv;
  dynamodb: DynamoDBClient;
}

/** Everything a handler needs, built once per cold start (or once per local runtime). */
export function buildDependencies(env: HandlerEnv, extraJobs: readonly JobImplementation[] = [], overrides: { clock?: Clock } = {}): Dependencies {
  const { dynamodb, s3 } = awsClients(env);
  const source = env.OPSRAIL_POLICY_DIR ? directoryPolicySource(env.OPSRAIL_POLICY_DIR) : bundledPolicySource;
  const policy = loadPolicy(source, env.OPSRAIL_STAGE);
  const redactor = createRedactor(policy.settings.redaction);
  const jobLogger = new Logger({ serviceName: env.POWERTOOLS_SERVICE_NAME, logLevel: env.POWERTOOLS_LOG_LEVEL, persistentKeys: { stage: env.OPSRAIL_STAGE, source: 'job' } });
  return {
    env,
    dynamodb,
    policy,
    redactor,
    log: (message, details) => jobLogger.info(message, details ?? {}),
    metrics: env.OPSRAIL_METRICS === 'emf' ? new PowertoolsRunMetrics(env.POWERTOOLS_SERVICE_NAME, env.OPSRAIL_STAGE) : noRunMetrics,
    state: new DynamoDbStateStore(dynamodb, env.STATE_TABLE_NAME),
    evidence: new S3EvidenceStore(s3, env.EVIDENCE_BUCKET_NAME),
    clock: overrides.clock ?? systemClock,
    jobs: jobRegistry(extraJobs),
    codeVersion: env.OPSRAIL_CODE_VERSION,
  };
}
