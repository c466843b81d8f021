import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'vitest';
import { FunctionEnv, functionDirs, type FunctionDir, type HandlerEnv } from '../../contracts';
import { parseFunctionEnv } from '../../functions/adapters/dependencies';
import { ValidationError } from '../../functions/core/errors';
import { localHandlerEnv, localNames } from '../../local/stack';

/** What every function gets in AWS (infra/opsrail-core.ts), without any approval variable. */
const awsCommon: HandlerEnv = {
  OPSRAIL_STAGE: 'prod',
  STATE_TABLE_NAME: 'opsrail-prod-state',
  IDEMPOTENCY_TABLE_NAME: 'opsrail-prod-idempotency',
  EVIDENCE_BUCKET_NAME: 'opsrail-prod-evidence',
  AWS_REGION: 'eu-west-1',
  OPSRAIL_CODE_VERSION: '1.0.0',
  POWERTOOLS_SERVICE_NAME: 'opsrail',
  POWERTOOLS_LOG_LEVEL: 'INFO',
  OPSRAIL_S3_FORCE_PATH_STYLE: 'false',
  OPSRAIL_METRICS: 'emf',
};
const local = localHandlerEnv(
  { dynamodb: 'http://127.0.0.1:1', s3: 'http://127.0.0.1:2' },
  localNames('x'),
  '/policy',
  '/home',
);
const approvalFunctions: FunctionDir[] = [
  'request-approval',
  'approval-endpoint',
  'slack-interaction',
];
const missing = (dir: FunctionDir, env: Partial<HandlerEnv>): string[] => {
  try {
    parseFunctionEnv(dir, env as Record<string, string>);
    return [];
  } catch (error) {
    assert.ok(error instanceof ValidationError, String(error));
    assert.equal(error.retryable, false);
    assert.match(error.message, new RegExp(`^${dir} environment: `));
    return error.issues.map((i) => i.path).sort();
  }
};

describe('an environment schema per function (contracts/handler-env.ts)', () => {
  test('the local stack’s one environment satisfies every function’s local variant', () => {
    // Prepare, Act, Assess
    for (const dir of functionDirs) assert.deepEqual(missing(dir, local), [], dir);
  });

  test('in AWS, the run steps need only the common variables; the approval functions name what they lack', () => {
    // Prepare: the common variables only
    // Act
    const lacking = Object.fromEntries(functionDirs.map((dir) => [dir, missing(dir, awsCommon)]));
    // Assess
    assert.deepEqual(lacking, {
      preflight: [],
      execute: [],
      finalize: [],
      'record-failure': [],
      'execution-ended': [],
      'request-approval': [
        'ALERTS_TOPIC_ARN',
        'APPROVAL_LINK_BASE_URL',
        'APPROVAL_SIGNING_KEY_SECRET_ARN',
      ],
      'approval-endpoint': ['APPROVAL_SIGNING_KEY_SECRET_ARN', 'APPROVAL_SIGN_IN'],
      'slack-interaction': ['APPROVAL_SIGNING_KEY_SECRET_ARN'],
    });
  });

  test('a local signing-key file does not stand in for the secret_ref in AWS, nor the reverse', () => {
    // Prepare
    const awsWithFile = {
      ...awsCommon,
      OPSRAIL_SIGNING_KEY_FILE: '/home/key',
      APPROVAL_SIGN_IN: '{}',
      ALERTS_TOPIC_ARN: 'arn:t',
      APPROVAL_LINK_BASE_URL: 'https://x',
    };
    const { OPSRAIL_SIGNING_KEY_FILE: _file, ...localWithoutFile } = local;
    // Act, Assess
    for (const dir of approvalFunctions) {
      assert.deepEqual(missing(dir, awsWithFile), ['APPROVAL_SIGNING_KEY_SECRET_ARN'], dir);
      assert.deepEqual(
        missing(dir, {
          ...localWithoutFile,
          APPROVAL_SIGNING_KEY_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:k',
        }),
        ['OPSRAIL_SIGNING_KEY_FILE'],
        dir,
      );
    }
  });

  test('an empty value is missing, and a stage no schema knows is named', () => {
    assert.deepEqual(
      missing('slack-interaction', { ...awsCommon, APPROVAL_SIGNING_KEY_SECRET_ARN: '' }),
      ['APPROVAL_SIGNING_KEY_SECRET_ARN'],
    );
    assert.deepEqual(missing('preflight', { ...awsCommon, OPSRAIL_STAGE: 'qa' as never }), [
      'OPSRAIL_STAGE',
    ]);
    assert.deepEqual(missing('execute', { ...awsCommon, STATE_TABLE_NAME: undefined as never }), [
      'STATE_TABLE_NAME',
    ]);
  });

  test('every folder under functions/ with a handler.ts has a schema', () => {
    const folders = readdirSync('functions').filter((dir) =>
      existsSync(join('functions', dir, 'handler.ts')),
    );
    assert.deepEqual(Object.keys(FunctionEnv).sort(), folders.sort());
  });
});
