import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { LocalRuntime, type ExecutionOutcome } from '../../local/runtime';
import type { LocalStack } from '../../local/stack';
import { readVerifiedBundle } from '../support/evidence';
import { countingJob } from '../support/jobs';
import { testStack, withTestJobs } from '../support/local';
import { seeded } from '../support/seeded';

const WRITES = /^(Put|Update|Delete|TransactWrite)/;
const RATE = 0.2;

describe('throttled store writes (issue 10): bookkeeping faults are retried, never job faults', () => {
  let stack: LocalStack;
  let runtime: LocalRuntime;
  const job = countingJob('throttled_counter');
  const throttled: string[] = [];
  const previousMaxAttempts = process.env.AWS_MAX_ATTEMPTS;

  beforeAll(async () => {
    const policyDir = withTestJobs(
      [{ jobId: 'throttled_counter', idempotent: false }],
      (policy) => ({
        ...policy,
        retry: { maxAttempts: 2, intervalSeconds: 1, backoffRate: 2, maxDelaySeconds: 2 },
        thresholds: {
          ...policy.thresholds,
          quarantineAfterConsecutiveFailures: 1,
          runLeaseSeconds: 30,
        },
      }),
    );
    stack = await testStack({ policyDir });
    // The SDK's own retries are off: every throttle reaches opsrail's code, as one that outlasted
    // them would.
    process.env.AWS_MAX_ATTEMPTS = '1';
    runtime = new LocalRuntime(stack.env, [job]);
    assert.equal(await runtime.deps.dynamodb.config.maxAttempts(), 1);
    const random = seeded(20261202);
    // State table and idempotency table (Powertools uses the same client): a fifth of all writes
    // throttled.
    runtime.deps.dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        if (WRITES.test(context.commandName ?? '') && random() < RATE) {
          throttled.push(context.commandName as string);
          throw Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), {
            name: 'ThrottlingException',
            $metadata: { httpStatusCode: 400 },
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'testThrottle' },
    );
  });
  afterAll(async () => {
    if (previousMaxAttempts === undefined) delete process.env.AWS_MAX_ATTEMPTS;
    else process.env.AWS_MAX_ATTEMPTS = previousMaxAttempts;
    await stack.stop();
  });

  test('every run completes once: no run left claimed, no false failure, no quarantine', async () => {
    const outcomes: ExecutionOutcome[] = [];
    for (let hour = 0; hour < 8; hour++) {
      outcomes.push(
        await runtime.run(
          {
            jobId: 'throttled_counter',
            scheduledTime: `2026-08-01T0${hour}:00:00Z`,
            trigger: 'schedule',
          },
          { retryPauseMs: 20 },
        ),
      );
    }

    assert.ok(
      throttled.length >= 5,
      `the store was throttled (${throttled.length} writes: ${[...new Set(throttled)].join(', ')})`,
    );
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      Array(8).fill('completed'),
    );
    for (const outcome of outcomes) {
      assert.ok(outcome.kind === 'completed');
      assert.deepEqual([outcome.summary.status, outcome.summary.quality], ['ok', 'OK']);
      await readVerifiedBundle(runtime.deps.evidence, outcome.summary.manifestKey as string);
    }
    assert.equal(job.effects.length, 8, 'one effect per run');
    assert.equal(new Set(job.effects).size, 8);
    assert.deepEqual(await runtime.deps.state.listOpenRuns(), [], 'no run left claimed');
    const state = await runtime.deps.state.getJobState('throttled_counter');
    assert.equal(state?.consecutiveFailures, 0);
    assert.equal(state?.quarantine, undefined);
  });
});
