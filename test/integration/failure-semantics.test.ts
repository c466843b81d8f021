import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import type { JobImplementation, JobResult } from '../../functions/jobs/types';
import { FUNCTION_TIMEOUT_ERROR } from '../../local/lambda-invoke';
import { LocalRuntime, type ExecutionOutcome } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { testStack, withTestJobs } from '../support/local';

const OK: JobResult = { quality: 'OK', outputs: [], integrityReport: null, diagnostics: [] };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A job whose first call takes `firstMs`, later ones none: it counts calls and effects. */
function slowOnce(jobId: string, firstMs: number) {
  const job = {
    jobId,
    calls: 0,
    effects: 0,
    async run(): Promise<JobResult> {
      job.calls++;
      if (job.calls === 1) await sleep(firstMs);
      job.effects++;
      return OK;
    },
  };
  return job;
}

/** A job that throws what no typed error is: a TypeError, or a bare string. */
function throwing(jobId: string, value: () => unknown) {
  const job = {
    jobId,
    calls: 0,
    async run(): Promise<JobResult> {
      job.calls++;
      throw value();
    },
  } satisfies JobImplementation & { calls: number };
  return job;
}

const failedError = (outcome: ExecutionOutcome) => {
  assert.ok(outcome.kind === 'failed', `failed, not ${outcome.kind}`);
  assert.ok(outcome.summary?.error, 'the failure is recorded with its error');
  return outcome.summary.error;
};

/**
 * AWS failure semantics under the real ASL (docs/failure-semantics.md), with small timeouts: an
 * overrunning step is the state's States.Timeout and is retried; a function that runs past its own
 * timeout, or crashes, surfaces under the names Lambda reports and is not retried.
 */
describe('failure semantics: overruns and crashes under the names AWS reports', () => {
  let stack: LocalStack;
  const overrun = slowOnce('fs_overrun', 1500);
  const pastFunction = slowOnce('fs_past_function', 2500);
  const typeError = throwing(
    'fs_type_error',
    () => new TypeError("Cannot read properties of undefined (reading 'x')"),
  );
  const bareString = throwing('fs_string', () => 'a bare string');

  beforeAll(async () => {
    const ids = ['fs_overrun', 'fs_past_function', 'fs_type_error', 'fs_string'];
    stack = await testStack({
      policyDir: withTestJobs(
        ids.map((jobId) => ({ jobId })),
        (p) => ({ ...p, retry: { ...p.retry, maxAttempts: 4 } }),
      ),
    });
  });
  afterAll(async () => stack.stop());

  test('an Execute that overruns its state is States.Timeout, retried, and its effect happens once (Powertools)', async () => {
    const runtime = new LocalRuntime(stack.env, [overrun, pastFunction, typeError, bareString], {
      stateTimeoutSeconds: { Execute: 1 },
    });
    const started = Date.now();
    const done = await runtime.run(
      { jobId: 'fs_overrun', scheduledTime: '2026-04-01T00:00:00Z', trigger: 'manual' },
      { retryPauseMs: 400 },
    );
    assert.equal(done.kind, 'completed');
    // The first invocation ran on after its state timed out (as a Lambda does) and finished the
    // job; the retry found it in progress, then replayed its stored result: one effect.
    assert.equal(overrun.effects, 1);
    assert.equal(overrun.calls, 1);
    assert.ok(
      Date.now() - started >= 1500,
      'it completed only after the overrun: the States.Timeout was retried',
    );
  });

  test('a function that runs past its own timeout fails as Sandbox.Timedout, is not retried, and is recorded', async () => {
    // The misconfiguration the shipped timeouts rule out (function shorter than its state), to see
    // what AWS reports.
    const runtime = new LocalRuntime(stack.env, [overrun, pastFunction, typeError, bareString], {
      stateTimeoutSeconds: { Execute: 20 },
      functionTimeoutSeconds: { execute: 1 },
    });
    const done = await runtime.run(
      { jobId: 'fs_past_function', scheduledTime: '2026-04-01T00:00:00Z', trigger: 'manual' },
      { retryPauseMs: 10 },
    );
    const error = failedError(done);
    assert.equal(error.name, FUNCTION_TIMEOUT_ERROR);
    assert.match(error.message, /Task timed out after 1\.00 seconds/);
    assert.equal(pastFunction.calls, 1, 'not retried');
  });

  test('a crash with an untyped error surfaces under its own name (TypeError), is not retried, and is internal', async () => {
    const runtime = new LocalRuntime(stack.env, [overrun, pastFunction, typeError, bareString]);
    const error = failedError(
      await runtime.run(
        { jobId: 'fs_type_error', scheduledTime: '2026-04-01T00:00:00Z', trigger: 'manual' },
        { retryPauseMs: 10 },
      ),
    );
    assert.deepEqual([error.name, error.kind], ['TypeError', 'internal']);
    assert.equal(typeError.calls, 1);
  });

  test('a thrown non-Error is wrapped by Powertools as IdempotencyUnknownError (in AWS too), not retried, internal', async () => {
    const runtime = new LocalRuntime(stack.env, [overrun, pastFunction, typeError, bareString]);
    const error = failedError(
      await runtime.run(
        { jobId: 'fs_string', scheduledTime: '2026-04-01T00:00:00Z', trigger: 'manual' },
        { retryPauseMs: 10 },
      ),
    );
    assert.deepEqual([error.name, error.kind], ['IdempotencyUnknownError', 'internal']);
    assert.equal(bareString.calls, 1);
  });

  test('an exception thrown outside the handler’s promise fails that invocation under its name; the process lives on', async () => {
    const script = join(import.meta.dirname, '..', 'support', 'crash-run.ts');
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', script],
        { env: process.env, timeout: 120_000 },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
      ),
    );
    const { outcome, again, calls } = JSON.parse(stdout.trim().split('\n').at(-1) as string);
    assert.equal(outcome.kind, 'failed');
    assert.deepEqual(
      [outcome.summary.error.name, outcome.summary.error.kind],
      ['RangeError', 'internal'],
    );
    assert.equal(
      again,
      'failed',
      'a second run crashes the same way, in a process that survived the first',
    );
    assert.equal(calls, 2, 'one call per run: a crash is not retried');
  });
});
