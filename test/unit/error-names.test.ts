import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'vitest';
import { buildSync } from 'esbuild';
import * as powertoolsIdempotency from '@aws-lambda-powertools/idempotency';
import { ErrorKind } from '../../contracts';
import * as errors from '../../functions/core/errors';
import { buildBundle, esbuildOptions, loadBundle } from '../../local/bundles';
import { asReportedError, FUNCTION_TIMEOUT_ERROR } from '../../local/lambda-invoke';
import {
  jobRunFunctionTimeouts,
  jobRunSteps,
  jobRunTemplate,
  statesInvoking,
} from '../../statemachines/definition';
import { LAMBDA_MAX_TIMEOUT_SECONDS, stateTimeoutsOf } from '../../statemachines/timeouts';

type Rule = { ErrorEquals: string[] };
type Task = { Type?: string; Retry?: Rule[]; Catch?: Rule[]; TimeoutSeconds?: number };
const template = jobRunTemplate() as unknown as { States: Record<string, Task> };
const tasks = Object.entries(template.States).filter(([, s]) => s.Type === 'Task');
const retried = (state: string) =>
  new Set((template.States[state]?.Retry ?? []).flatMap((r) => r.ErrorEquals));
const caught = (state: string) =>
  new Set((template.States[state]?.Catch ?? []).flatMap((r) => r.ErrorEquals));

/**
 * Every name an opsrail error can carry: the class names, and the names of kinds (JobFailedError,
 * refusals).
 */
function thrownNames(): Set<string> {
  const names = new Set(ErrorKind.options.map((kind) => errors.errorNameOf(kind)));
  for (const exported of Object.values(errors)) {
    if (typeof exported === 'function' && exported.prototype instanceof errors.OpsrailError)
      names.add(exported.name);
  }
  for (const exported of Object.values(powertoolsIdempotency)) {
    if (typeof exported === 'function' && exported.prototype instanceof Error)
      names.add(new (exported as new (m: string) => Error)('x').name);
  }
  return names;
}

/** What Lambda itself reports when an invocation fails (docs/failure-semantics.md). */
const TRANSIENT_LAMBDA = [
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];
/**
 * The retryable names the adapters throw in every step (wrapAwsError), as opposed to a job's own.
 */
const ADAPTER_RETRYABLE = ['ThrottlingError', 'DependencyError'];
const RETRYABLE_KIND_NAMES = errors.RETRYABLE_KINDS.map((k) => errors.errorNameOf(k));

describe('the error names of statemachines/job-run.asl.json', () => {
  test('every name in an ErrorEquals is an AWS name or one some opsrail or Powertools error carries', () => {
    const known = thrownNames();
    const unknown = tasks.flatMap(([state, s]) =>
      [...(s.Retry ?? []), ...(s.Catch ?? [])]
        .flatMap((r) => r.ErrorEquals)
        .filter((n) => !/^(States|Lambda|Sandbox)\./.test(n) && !known.has(n))
        .map((n) => `${state}: ${n}`),
    );
    assert.deepEqual(unknown, []);
    assert.ok(
      known.has('DuplicateRunError') &&
        known.has('IdempotencyAlreadyInProgressError') &&
        known.has('QuarantinedError'),
    );
  });

  test('every Lambda-invoking state retries the transient Lambda service errors', () => {
    for (const [state] of tasks)
      for (const name of TRANSIENT_LAMBDA)
        assert.ok(retried(state).has(name), `${state} retries ${name}`);
  });

  test('Execute retries every retryable kind and an in-progress duplicate; every other step the adapters’ retryable errors', () => {
    for (const name of [
      ...RETRYABLE_KIND_NAMES,
      'IdempotencyAlreadyInProgressError',
      'States.Timeout',
    ])
      assert.ok(retried('Execute').has(name), `Execute retries ${name}`);
    for (const state of ['Preflight', 'Finalize', 'RecordFailure', 'RecordRefusal']) {
      for (const name of [...ADAPTER_RETRYABLE, 'States.Timeout'])
        assert.ok(retried(state).has(name), `${state} retries ${name}`);
    }
    // The errors' own flag agrees: what the ASL retries is what the classes call retryable.
    assert.equal(
      new errors.ThrottlingError('x').retryable && new errors.DependencyError('x').retryable,
      true,
    );
    assert.deepEqual(errors.RETRYABLE_KINDS, [
      'throttling',
      'dependency',
      'timeout',
      'bookkeeping',
    ]);
  });

  test('nothing non-retryable is retried: crashes, validation, duplicates, refusals, the approval wait', () => {
    const never = [
      'Lambda.Unknown',
      FUNCTION_TIMEOUT_ERROR,
      'States.ALL',
      'States.TaskFailed',
      'ValidationError',
      'ConfigurationError',
      'PermissionError',
      'NotFoundError',
      'DuplicateRunError',
      'RetryAfterTooLongError',
      'InternalError',
      'ApprovalRejected',
    ];
    for (const [state] of tasks)
      for (const name of never)
        assert.ok(!retried(state).has(name), `${state} must not retry ${name}`);
    // Preflight's refusals (RunRefusedError): claimed and evidenced as skipped, never retried.
    for (const kind of ErrorKind.options.filter(
      (k) => k.startsWith('refused_') || k === 'inputs_unpinned',
    )) {
      assert.ok(
        caught('Preflight').has(errors.errorNameOf(kind)),
        `Preflight catches ${kind} as a refusal`,
      );
      assert.ok(!retried('Preflight').has(errors.errorNameOf(kind)));
    }
    // At the gate States.Timeout is the human not deciding: a refusal, never a retry.
    assert.ok(!retried('RequestApproval').has('States.Timeout'));
    assert.ok(caught('RequestApproval').has('States.Timeout'));
  });

  test('a function outlives every state that invokes it, so an overrun is States.Timeout (retried), not a Lambda timeout', () => {
    const timeouts = jobRunFunctionTimeouts();
    const states = stateTimeoutsOf(template);
    const invokers = statesInvoking();
    for (const step of jobRunSteps) {
      assert.ok(
        timeouts[step.functionDir] <= LAMBDA_MAX_TIMEOUT_SECONDS,
        `${step.functionDir} within Lambda's limit`,
      );
      if (step.functionDir === 'request-approval') continue; // its state waits for a human, not for the function
      assert.ok(invokers[step.functionDir].length > 0);
      for (const state of invokers[step.functionDir])
        assert.ok(
          timeouts[step.functionDir] > (states[state] as number),
          `${step.functionDir} outlives ${state}`,
        );
    }
    assert.deepEqual(invokers['record-failure'].sort(), ['RecordFailure', 'RecordRefusal']);
  });

  test('timeouts are read as errors: a States.Timeout is kind timeout; a crash or a Lambda timeout is not retried', () => {
    assert.equal(errors.errorKindFromName('States.Timeout'), 'timeout');
    assert.equal(errors.errorKindFromName('Lambda.Unknown'), 'internal');
    assert.equal(errors.errorKindFromName('TypeError'), 'internal');
    // What Lambda's Node.js runtime reports for a thrown value: an Error's name, else its typeof.
    assert.equal(asReportedError(new TypeError('x')).name, 'TypeError');
    assert.deepEqual(
      [asReportedError('x').name, asReportedError(undefined).name, asReportedError({}).name],
      ['string', 'undefined', 'object'],
    );
  });
});

describe('each error class states its name', () => {
  test('an opsrail error is named after its class (a string in the class, which minification keeps), or after its kind', () => {
    // Prepare: every error class but those named after a kind (a job's failure, a refusal) or
    // retried as another
    type ErrorClass = (new (...args: unknown[]) => errors.OpsrailError) & { name: string };
    const byKind: unknown[] = [
      errors.JobFailedError,
      errors.RunRefusedError,
      errors.ContentionError,
    ];
    const named = (Object.values(errors) as unknown[]).filter(
      (e): e is ErrorClass =>
        typeof e === 'function' &&
        e.prototype instanceof errors.OpsrailError &&
        !byKind.includes(e),
    );
    // Act
    const wrong = named
      .map((E) => [E.name, new E('x', []).name])
      .filter(([cls, name]) => cls !== name);
    // Assess
    assert.ok(named.length >= 15, `${named.length} classes`);
    assert.deepEqual(wrong, []);
    assert.equal(new errors.JobFailedError('timeout', 'x').name, 'TimeoutError');
    assert.equal(new errors.RunRefusedError('refused_safety', 'x').name, 'SafetyRefusedError');
    assert.equal(new errors.ContentionError('r', 'w').name, 'ThrottlingError');
  });
});

describe('the names survive bundling', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'opsrail-bundles-'));
  const env = {
    OPSRAIL_STAGE: 'local',
    STATE_TABLE_NAME: 'unused-state',
    IDEMPOTENCY_TABLE_NAME: 'unused-idem',
    EVIDENCE_BUCKET_NAME: 'unused-evidence',
    AWS_REGION: 'us-east-1',
    OPSRAIL_CODE_VERSION: 'test',
    POWERTOOLS_SERVICE_NAME: 'opsrail',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    OPSRAIL_METRICS: 'off',
  };

  test('the Preflight bundle built with the shipped options names DuplicateRunError, and its errors carry their names', async () => {
    const bundle = buildBundle('preflight', cacheDir);
    const code = readFileSync(bundle, 'utf8');
    assert.ok(code.split('DuplicateRunError').length - 1 > 0, 'grep -c DuplicateRunError > 0');
    for (const name of [...ADAPTER_RETRYABLE, 'InputsUnpinnedError', 'SafetyRefusedError'])
      assert.ok(code.includes(`"${name}"`), name);
    Object.assign(process.env, env);
    const { handler } = loadBundle<{ handler: (e: unknown, c: unknown) => Promise<unknown> }>(
      bundle,
    );
    await assert.rejects(
      handler({ request: { jobId: 'x' } }, {}),
      (e: Error) =>
        e.name === 'ValidationError' &&
        String(e).startsWith('ValidationError: ') &&
        /scheduledTime|executionId/.test(e.message),
    );
  });

  test('control: a class that does not state its name loses it in a bundle built with the shipped options (so the test above can fail)', async () => {
    // Prepare
    const dir = join(cacheDir, 'unnamed');
    const entry = join(dir, 'entry.ts');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      entry,
      [
        'class UnnamedError extends Error {',
        '  constructor(message: string) { super(message); this.name = new.target.name; }',
        '}',
        "export const handler = async () => { throw new UnnamedError('x'); };",
      ].join('\n'),
    );
    const outfile = join(dir, 'index.js');
    buildSync({ ...esbuildOptions('preflight', outfile), entryPoints: [entry], metafile: false });
    // Act
    const { handler } = loadBundle<{ handler: () => Promise<unknown> }>(outfile);
    // Assess
    assert.equal(readFileSync(outfile, 'utf8').includes('UnnamedError'), false);
    await assert.rejects(handler(), (e: Error) => e.message === 'x' && e.name !== 'UnnamedError');
  });
});
