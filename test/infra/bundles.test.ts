import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'vitest';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { HandlerEnv } from '../../contracts';
import { ValidationError } from '../../functions/core/errors';
import { OpsrailFunction } from '../../infra/constructs/opsrail-function';
import { buildApp } from '../../infra/app';
import { BUNDLE_FILE } from '../../infra/bundling';
import { buildBundle, loadBundle, offerRuntimeSdk } from '../../local/bundles';
import {
  jobRunSteps,
  jobRunTemplate,
  statesInvoking,
  substitute,
} from '../../statemachines/definition';
import { LAMBDA_MAX_TIMEOUT_SECONDS, stateTimeoutsOf } from '../../statemachines/timeouts';

type Resource = {
  Type: string;
  Properties: Record<string, any>;
  Metadata?: Record<string, string>;
};

/**
 * The synthesized dev stack, with its assets on disk (cdk.out layout) and their paths in the
 * metadata.
 */
function synthesized() {
  const outdir = mkdtempSync(join(tmpdir(), 'opsrail-cdk-out-'));
  const app = new App({ outdir, context: { stage: 'dev', 'aws:cdk:enable-asset-metadata': true } });
  const stack = buildApp(app);
  const template = app.synth().getStackByName(stack.stackName).template as {
    Resources: Record<string, Resource>;
  };
  const fn = (logicalPrefix: string) => {
    const found = Object.entries(template.Resources).filter(
      ([id, r]) =>
        r.Type === 'AWS::Lambda::Function' && new RegExp(`^${logicalPrefix}[0-9A-F]{8}$`).test(id),
    );
    assert.equal(found.length, 1, logicalPrefix);
    return { id: found[0]![0], ...found[0]![1] };
  };
  const machine = Object.values(template.Resources).find(
    (r) => r.Type === 'AWS::StepFunctions::StateMachine',
  )!;
  return { outdir, template, fn, machine };
}

const shipped = synthesized();

describe('what ships: the synthesized template and assets', () => {
  const { outdir, fn, machine } = shipped;

  test('the synthesized Preflight asset throws DuplicateRunError by name, byte for byte the bundle the local runtime runs', () => {
    const preflight = fn('RunnerPreflight');
    const asset = join(outdir, preflight.Metadata!['aws:asset:path']!, BUNDLE_FILE);
    const shipped = readFileSync(asset);
    assert.ok(
      shipped.toString('utf8').split('DuplicateRunError').length - 1 > 0,
      `grep -c DuplicateRunError ${asset} > 0`,
    );
    const local = readFileSync(
      buildBundle('preflight', mkdtempSync(join(tmpdir(), 'opsrail-bundles-'))),
    );
    assert.ok(
      shipped.equals(local),
      'CDK and local/bundles.ts build the same bytes from infra/bundling.ts',
    );
  });

  test('every step function outlives each state that invokes it, in the template as synthesized', () => {
    const body = machine.Properties.DefinitionString as string;
    const substitutions = machine.Properties.DefinitionSubstitutions as Record<string, unknown>;
    const numbers = Object.fromEntries(
      Object.entries(substitutions).map(([k, v]) => [k, typeof v === 'string' ? v : k]),
    );
    const states = stateTimeoutsOf(
      JSON.parse(substitute(body.replace(/"\$\{([A-Za-z0-9_]+)\}"/g, '"$1"'), numbers)),
    );
    const invokers = statesInvoking(jobRunTemplate(body));
    for (const step of jobRunSteps) {
      // Execute runs in each job's function (one of them stands for all: they share the timeout).
      const logical =
        step.placeholder === null ? 'RunnerJobsEvidenceIntegrityCheck' : `Runner${step.state}`;
      const timeout = fn(logical).Properties.Timeout as number;
      assert.ok(timeout <= LAMBDA_MAX_TIMEOUT_SECONDS);
      // RequestApproval's state waits for a human (approvals.timeoutSeconds); its invocation does
      // not.
      if (step.functionDir === 'request-approval') continue;
      for (const state of invokers[step.functionDir])
        assert.ok(
          timeout > (states[state] as number),
          `${step.state} function ${timeout}s > ${state} ${states[state]}s`,
        );
    }
  });
});

describe('each function’s environment schema, at synth and in the shipped bundle', () => {
  const { outdir, fn } = shipped;
  const requestApproval = fn('RunnerRequestApproval');
  const shippedEnv = requestApproval.Properties.Environment.Variables as Record<string, unknown>;

  test('the synthesized RequestApproval learns where its secrets are; the other steps do not', () => {
    assert.ok(
      shippedEnv.APPROVAL_SIGNING_KEY_SECRET_ARN &&
        shippedEnv.ALERTS_TOPIC_ARN &&
        shippedEnv.APPROVAL_LINK_BASE_URL,
    );
    const preflight = fn('RunnerPreflight').Properties.Environment.Variables as Record<
      string,
      unknown
    >;
    assert.equal(preflight.APPROVAL_SIGNING_KEY_SECRET_ARN, undefined);
  });

  test('a function lacking a variable it needs fails the synth, naming the function and the variable', () => {
    // Prepare: RequestApproval's environment without its signing key's secret_ref
    const stack = new Stack(new App(), 'EnvCheck', {
      env: { region: 'eu-west-1', account: '111111111111' },
    });
    const environment = {
      OPSRAIL_STAGE: 'dev',
      STATE_TABLE_NAME: 't',
      IDEMPOTENCY_TABLE_NAME: 'i',
      EVIDENCE_BUCKET_NAME: 'b',
      AWS_REGION: 'eu-west-1',
      OPSRAIL_CODE_VERSION: '1',
      ALERTS_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111111111111:a',
      APPROVAL_LINK_BASE_URL: 'https://x',
    } as HandlerEnv;
    const make = (id: string, functionDir: 'request-approval' | 'preflight') =>
      new OpsrailFunction(stack, id, {
        functionDir,
        description: id,
        environment,
        logRetentionDays: 7,
        removalPolicy: RemovalPolicy.DESTROY,
        timeout: Duration.seconds(10),
      });
    // Act, Assess
    assert.throws(
      () => make('RequestApproval', 'request-approval'),
      (error: unknown) => {
        assert.ok(error instanceof ValidationError);
        assert.match(
          error.message,
          /^EnvCheck\/RequestApproval \(functions\/request-approval\) environment: APPROVAL_SIGNING_KEY_SECRET_ARN: /,
        );
        assert.deepEqual(
          error.issues.map((i) => i.path),
          ['APPROVAL_SIGNING_KEY_SECRET_ARN'],
        );
        return true;
      },
    );
    assert.doesNotThrow(
      () => make('Preflight', 'preflight'),
      'Preflight needs no approval variable',
    );
  });

  test('the shipped RequestApproval asset, started without its signing key, fails at once naming it', async () => {
    // Prepare: the template's own environment (CloudFormation references as placeholder strings),
    // minus the secret_ref
    const assetDir = join(outdir, requestApproval.Metadata!['aws:asset:path']!);
    const asset = join(assetDir, BUNDLE_FILE);
    // The asset has no SDK of its own: Lambda's runtime provides it, here this package's.
    offerRuntimeSdk(assetDir);
    const variables = Object.fromEntries(
      Object.entries(shippedEnv).map(([k, v]) => [k, typeof v === 'string' ? v : `resolved-${k}`]),
    );
    delete variables.APPROVAL_SIGNING_KEY_SECRET_ARN;
    const saved = { ...process.env };
    Object.assign(process.env, variables, { AWS_REGION: 'eu-west-1' });
    delete process.env.APPROVAL_SIGNING_KEY_SECRET_ARN;
    try {
      const { handler } = loadBundle<{
        handler: (event: unknown, context: unknown) => Promise<unknown>;
      }>(asset);
      // Act
      const failed = await handler({}, {}).then(
        () => undefined,
        (error: Error) => error,
      );
      // Assess: the minified bundle keeps the error's name, and the message names the variable
      assert.equal(failed?.name, 'ValidationError');
      assert.match(
        String(failed?.message),
        /^request-approval environment: APPROVAL_SIGNING_KEY_SECRET_ARN: /,
      );
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });
});
