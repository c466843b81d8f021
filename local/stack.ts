import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { HandlerEnv } from '../contracts';
import { idempotencyTable, stateTable } from '../functions/adapters/table-layout';
import { startDynamoDbLocal } from './dynamodb-local';
import { HomeInUseError } from './errors';
import { acquireHomeLock, readStackFile, type HomeLock } from './home-lock';
import { isProcessAlive } from './process-identity';
import packageJson from '../package.json' with { type: 'json' };

export const REPO_ROOT = resolve(import.meta.dirname, '..');
/** policy/ in the working directory (a user's project), else opsrail's own example policy/. */
export const DEFAULT_POLICY_DIR = existsSync(join(process.cwd(), 'policy', 'catalog.json'))
  ? resolve('policy')
  : join(REPO_ROOT, 'policy');

/** $OPSRAIL_HOME, default .opsrail/ in the working directory: all local data lives there. */
export function opsrailHome(): string {
  return resolve(process.env.OPSRAIL_HOME ?? '.opsrail');
}

export interface LocalNames {
  stateTable: string;
  idempotencyTable: string;
  evidenceBucket: string;
}

export const localNames = (prefix = 'opsrail-local'): LocalNames => ({
  stateTable: `${prefix}-state`,
  idempotencyTable: `${prefix}-idempotency`,
  evidenceBucket: `${prefix}-evidence`,
});

export interface LocalStack {
  env: HandlerEnv;
  home: string;
  /**
   * true when this process started the stack (and stops it); false when it attached to a running
   * one.
   */
  owner: boolean;
  stop(): Promise<void>;
}

/** The only key pair s3rver accepts; DynamoDB Local accepts any. */
const LOCAL_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

/**
 * The environment every local handler gets: one shape for the local stack and the in-memory test
 * stack.
 */
export function localHandlerEnv(
  endpoints: { dynamodb: string; s3: string },
  names: LocalNames,
  policyDir: string,
  home: string,
): HandlerEnv {
  return {
    OPSRAIL_STAGE: 'local',
    STATE_TABLE_NAME: names.stateTable,
    IDEMPOTENCY_TABLE_NAME: names.idempotencyTable,
    EVIDENCE_BUCKET_NAME: names.evidenceBucket,
    AWS_REGION: 'us-east-1',
    OPSRAIL_CODE_VERSION: `${packageJson.version}-local`,
    POWERTOOLS_SERVICE_NAME: 'opsrail',
    POWERTOOLS_LOG_LEVEL:
      (process.env.OPSRAIL_LOG_LEVEL as HandlerEnv['POWERTOOLS_LOG_LEVEL']) ?? 'SILENT',
    OPSRAIL_POLICY_DIR: policyDir,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_S3: endpoints.s3,
    OPSRAIL_S3_FORCE_PATH_STYLE: 'true',
    // EMF lines would only clutter a terminal: locally the evidence and `opsrail query` are the
    // metrics.
    OPSRAIL_METRICS: 'off',
    OPSRAIL_SIGNING_KEY_FILE: join(home, 'approval-signing.key'),
    OPSRAIL_SECRETS_FILE: join(home, 'secrets.json'),
  };
}

/** The directory, made if missing. */
function madeDir(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

/**
 * true when something answers HTTP at the endpoint (a local stack's DynamoDB Local or S3 endpoint
 * is alive).
 */
export async function endpointAnswers(endpoint: string): Promise<boolean> {
  try {
    await fetch(endpoint, { signal: AbortSignal.timeout(1500) });
    return true;
  } catch {
    return false;
  }
}

/** Creates the tables and the bucket with the same key layout as the CDK constructs, if missing. */
export async function provision(env: HandlerEnv): Promise<void> {
  const dynamodb = new DynamoDBClient({
    region: env.AWS_REGION,
    endpoint: env.AWS_ENDPOINT_URL_DYNAMODB,
  });
  const s3 = new S3Client({
    region: env.AWS_REGION,
    endpoint: env.AWS_ENDPOINT_URL_S3,
    forcePathStyle: true,
  });
  const tables = [
    {
      name: env.STATE_TABLE_NAME,
      keys: [
        { AttributeName: stateTable.partitionKey, KeyType: 'HASH' as const },
        { AttributeName: stateTable.sortKey, KeyType: 'RANGE' as const },
      ],
      ttl: stateTable.ttlAttribute,
    },
    {
      name: env.IDEMPOTENCY_TABLE_NAME,
      keys: [{ AttributeName: idempotencyTable.partitionKey, KeyType: 'HASH' as const }],
      ttl: idempotencyTable.ttlAttribute,
    },
  ];
  for (const table of tables) {
    try {
      await dynamodb.send(new DescribeTableCommand({ TableName: table.name }));
      continue;
    } catch {
      // not there yet
    }
    try {
      await dynamodb.send(
        new CreateTableCommand({
          TableName: table.name,
          KeySchema: table.keys,
          AttributeDefinitions: table.keys.map((k) => ({
            AttributeName: k.AttributeName,
            AttributeType: 'S' as const,
          })),
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      if (table.ttl)
        await dynamodb.send(
          new UpdateTimeToLiveCommand({
            TableName: table.name,
            TimeToLiveSpecification: { AttributeName: table.ttl, Enabled: true },
          }),
        );
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
  }
  try {
    await s3.send(new HeadBucketCommand({ Bucket: env.EVIDENCE_BUCKET_NAME }));
  } catch {
    await s3.send(
      new CreateBucketCommand({
        Bucket: env.EVIDENCE_BUCKET_NAME,
        ObjectLockEnabledForBucket: true,
      }),
    );
  }
  dynamodb.destroy();
  s3.destroy();
}

export interface StartOptions {
  home?: string;
  policyDir?: string;
  names?: LocalNames;
  /** Use this DynamoDB endpoint (the test runner's) instead of starting one. */
  dynamodbEndpoint?: string;
  /** Attach to a stack another process (npm start) is running in the same home, if there is one. */
  attach?: boolean;
  /** What the owner is doing, for the message a refused second instance prints (e.g. `start`). */
  command?: string;
  /**
   * Told once what is happening while the stack starts (the CLI prints it on stderr): Java takes
   * seconds. Not called when attaching to a running stack.
   */
  onProgress?: (line: string) => void;
}

const ATTACH_WAIT_MS = 60_000;

/** The running owner's endpoints once both answer; undefined when the owner is gone. */
async function attachableStack(
  home: string,
): Promise<{ dynamodb: string; s3: string } | undefined> {
  for (const deadline = Date.now() + ATTACH_WAIT_MS; Date.now() < deadline; ) {
    const held = readStackFile(home);
    if (!held || !isProcessAlive(held.owner)) return undefined;
    if (
      held.dynamodbEndpoint &&
      held.s3Endpoint &&
      (await endpointAnswers(held.dynamodbEndpoint)) &&
      (await endpointAnswers(held.s3Endpoint))
    ) {
      return { dynamodb: held.dynamodbEndpoint, s3: held.s3Endpoint };
    }
    await new Promise((r) => setTimeout(r, 200)); // the owner is still starting its stack
  }
  return undefined;
}

/**
 * The embedded local stack: DynamoDB Local and a local S3 endpoint with their data under
 * $OPSRAIL_HOME, the tables and bucket provisioned, and the environment the handlers read.
 */
export async function startLocalStack(options: StartOptions = {}): Promise<LocalStack> {
  const home = options.home ?? opsrailHome();
  const names = options.names ?? localNames();
  const policyDir = options.policyDir ?? process.env.OPSRAIL_POLICY_DIR ?? DEFAULT_POLICY_DIR;
  // The local stack's own credentials, never a real account's: nothing local can reach AWS by
  // mistake.
  Object.assign(process.env, LOCAL_CREDENTIALS);
  for (const key of ['AWS_SESSION_TOKEN', 'AWS_PROFILE']) delete process.env[key];
  mkdirSync(home, { recursive: true });

  // The test runner's DynamoDB Local: no lock, the home is the test's own.
  let lock: HomeLock | undefined;
  while (!options.dynamodbEndpoint && !lock) {
    try {
      lock = await acquireHomeLock(home, options.command ?? process.argv[2] ?? 'cli');
    } catch (error) {
      if (!(error instanceof HomeInUseError) || options.attach === false) throw error;
      const running = await attachableStack(home);
      if (!running && isProcessAlive(error.holder)) throw error; // alive but never ready
      if (!running) continue; // its owner stopped meanwhile: take the home
      const env = localHandlerEnv(running, names, policyDir, home);
      await provision(env);
      return { env, home, owner: false, stop: async () => {} };
    }
  }

  const stopped: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stopped.reverse()) await stop();
    lock?.release();
  };
  try {
    if (!options.dynamodbEndpoint)
      options.onProgress?.(`starting the local stack (DynamoDB Local, S3) in ${home}…`);
    const dynamodb = options.dynamodbEndpoint
      ? { endpoint: options.dynamodbEndpoint, processes: () => [], stop: async () => {} }
      : await startDynamoDbLocal({ dbPath: madeDir(join(home, 'dynamodb')) });
    stopped.push(dynamodb.stop);
    lock?.update({
      children: dynamodb
        .processes()
        .map((p, i) => ({ ...p, name: i === 0 ? 'dynamodb-watchdog' : 'dynamodb-local' })),
    });
    const s3Dir = join(home, 's3');
    mkdirSync(s3Dir, { recursive: true });
    // Loaded here, by the owner only: s3rver and its Koa stack are a quarter of a second of every
    // CLI start, and an attached command (or one that needs no stack) never serves S3.
    const { startS3Endpoint } = await import('./s3-endpoint');
    const s3 = await startS3Endpoint(s3Dir);
    stopped.push(s3.stop);
    const env = localHandlerEnv(
      { dynamodb: dynamodb.endpoint, s3: s3.endpoint },
      names,
      policyDir,
      home,
    );
    await provision(env);
    lock?.update({ dynamodbEndpoint: dynamodb.endpoint, s3Endpoint: s3.endpoint });
    return { env, home, owner: true, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
