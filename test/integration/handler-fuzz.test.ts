import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import fc from 'fast-check';
import type * as z from 'zod';
import {
  ExecuteEvent,
  ExecutionStatusChangeEvent,
  FinalizeEvent,
  PreflightEvent,
  RecordFailureEvent,
  RequestApprovalEvent,
  type RunContext,
} from '../../contracts';
import { buildDependencies, type Dependencies } from '../../functions/adapters/dependencies';
import type { StepHandler } from '../../functions/adapters/lambda';
import { OpsrailError, ValidationError } from '../../functions/core/errors';
import { createExecuteHandler } from '../../functions/execute/handler';
import { createExecutionEndedHandler } from '../../functions/execution-ended/handler';
import { createFinalizeHandler } from '../../functions/finalize/handler';
import { createPreflightHandler } from '../../functions/preflight/handler';
import { createRecordFailureHandler } from '../../functions/record-failure/handler';
import { createRequestApprovalHandler } from '../../functions/request-approval/handler';
import type { LocalStack } from '../../local/stack';
import { countingJob } from '../support/jobs';
import { eventsNear, hostileStrings } from '../support/fuzz';
import { testStack, withTestJobs } from '../support/local';

/**
 * Bad input never crashes a handler (docs/handlers.md): every step handler's real code, on the real
 * stores (DynamoDB Local, the local S3 endpoint), fed generated events. A malformed event is
 * refused by the handler's contract with a non-retryable ValidationError naming the field, before
 * anything is written; a well-formed event with hostile content ends in a result or a typed,
 * non-retryable error.
 */

/**
 * Generated inputs per handler: malformed ones are cheap (no store call), well-formed ones are not.
 */
const MALFORMED_RUNS = 1_700;
const WELL_FORMED_RUNS = 30;
/** Fixed, so a failure replays; OPSRAIL_FUZZ_SEED explores other inputs. */
const SEED = Number(process.env.OPSRAIL_FUZZ_SEED ?? 20260901);

const context = (): Context =>
  ({
    functionName: 'opsrail-fuzz',
    awsRequestId: 'fuzz',
    getRemainingTimeInMillis: () => 60_000,
  }) as unknown as Context;

interface Target {
  name: string;
  contract: z.ZodType;
  source: string;
  handler: StepHandler<unknown>;
  template: unknown;
}

interface Tally {
  malformed: number;
  wellFormed: number;
  untyped: string[];
  retryable: string[];
}

describe('handlers under generated events (fast-check)', () => {
  let stack: LocalStack;
  let deps: Dependencies;
  let targets: Target[];
  const tallies = new Map<string, Tally>();

  beforeAll(async () => {
    const policyDir = withTestJobs([
      { jobId: 'fuzz_job' },
      { jobId: 'fuzz_gated', dangerous: { value: true, opKind: 'retention' } },
    ]);
    stack = await testStack({ policyDir });
    deps = buildDependencies(stack.env, [countingJob('fuzz_job'), countingJob('fuzz_gated')]);
    const preflight = createPreflightHandler(deps);
    const request = { jobId: 'fuzz_job', scheduledTime: '2026-03-01T00:00:00Z', trigger: 'manual' };
    const run = (await preflight(
      { executionId: 'fuzz-fixture', request },
      context(),
    )) as RunContext;
    const gated = (await preflight(
      { executionId: 'fuzz-gated', request: { ...request, jobId: 'fuzz_gated' } },
      context(),
    )) as RunContext;
    const result = {
      status: 'ok',
      quality: 'OK',
      startedAt: '2026-03-01T00:00:01Z',
      endedAt: '2026-03-01T00:00:02Z',
      attempts: 1,
      outputs: [{ name: 'effect.txt', contentType: 'text/plain', body: 'effect\n' }],
      integrityReport: null,
      diagnostics: [],
    };
    const ended = {
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      detail: {
        executionArn: 'arn:aws:states:us-east-1:000000000000:execution:m:fuzz',
        stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:m',
        status: 'ABORTED',
        input: JSON.stringify({ ...request, scheduledTime: '2026-03-02T00:00:00Z' }),
        cause: 'stopped',
      },
    };
    targets = [
      {
        name: 'Preflight',
        contract: PreflightEvent,
        source: 'Preflight event',
        handler: preflight,
        template: { executionId: 'fuzz-exec', request },
      },
      {
        name: 'Execute',
        contract: ExecuteEvent,
        source: 'Execute event',
        handler: createExecuteHandler(deps),
        template: { run },
      },
      {
        name: 'RequestApproval',
        contract: RequestApprovalEvent,
        source: 'RequestApproval event',
        handler: createRequestApprovalHandler(deps),
        template: { run: gated, taskToken: 'fuzz-token' },
      },
      {
        name: 'Finalize',
        contract: FinalizeEvent,
        source: 'Finalize event',
        handler: createFinalizeHandler(deps),
        template: { run, result },
      },
      {
        name: 'RecordFailure',
        contract: RecordFailureEvent,
        source: 'RecordFailure event',
        handler: createRecordFailureHandler(deps),
        template: {
          executionId: 'fuzz-exec',
          state: {
            jobId: 'fuzz_job',
            scheduledTime: '2026-03-03T00:00:00Z',
            run,
            error: { Error: 'DependencyError', Cause: 'fuzz' },
          },
        },
      },
      {
        name: 'ExecutionEnded',
        contract: ExecutionStatusChangeEvent,
        source: 'ExecutionEnded event',
        handler: createExecutionEndedHandler(deps),
        template: ended,
      },
    ];
    for (const t of targets)
      tallies.set(t.name, { malformed: 0, wellFormed: 0, untyped: [], retryable: [] });
  });

  afterAll(async () => {
    const rows = [...tallies].map(([name, t]) => `${name} ${t.malformed}+${t.wellFormed}`);
    const total = [...tallies.values()].reduce((n, t) => n + t.malformed + t.wellFormed, 0);
    const untyped = [...tallies.values()].reduce((n, t) => n + t.untyped.length, 0);
    const retryable = [...tallies.values()].reduce((n, t) => n + t.retryable.length, 0);
    console.log(
      `handler fuzz (malformed+well-formed): ${rows.join(', ')}; ${total} inputs, ${untyped} untyped errors, ${retryable} retryable errors`,
    );
    await stack.stop();
  });

  /**
   * How many items the state table holds and objects the bucket has: malformed events change
   * neither.
   */
  async function footprint(): Promise<{ items: number; objects: number }> {
    const scan = await deps.dynamodb.send(
      new ScanCommand({ TableName: stack.env.STATE_TABLE_NAME, Select: 'COUNT' }),
    );
    return { items: scan.Count ?? 0, objects: (await deps.evidence.list('stage=local/')).length };
  }

  const describeError = (event: unknown, error: unknown) => {
    let shown: string;
    try {
      shown =
        JSON.stringify(event, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))?.slice(
          0,
          300,
        ) ?? String(event);
    } catch {
      shown = String(event);
    }
    return `${(error as Error)?.name}: ${(error as Error)?.message?.slice(0, 300)} <- ${shown}`;
  };

  test('malformed events: a non-retryable ValidationError naming the field, nothing written', async () => {
    const before = await footprint();
    for (const target of targets) {
      const tally = tallies.get(target.name) as Tally;
      const malformed = eventsNear(target.template).filter(
        (event) => !target.contract.safeParse(event).success,
      );
      await fc.assert(
        fc.asyncProperty(malformed, async (event) => {
          tally.malformed++;
          const error = await target.handler(event, context()).then(
            () => null,
            (e: unknown) => e,
          );
          if (!(error instanceof OpsrailError)) tally.untyped.push(describeError(event, error));
          else if (error.retryable) tally.retryable.push(describeError(event, error));
          assert.ok(
            error instanceof ValidationError,
            `${target.name}: ${describeError(event, error)}`,
          );
          assert.equal(error.retryable, false);
          assert.ok(error.message.startsWith(`${target.source}: `), error.message);
          assert.ok(error.issues.length > 0);
          // An event that is an object is refused for a field of it, named by its path.
          if (event && typeof event === 'object' && !Array.isArray(event))
            assert.ok(
              error.issues.some((i) => i.path !== ''),
              error.message,
            );
        }),
        { numRuns: MALFORMED_RUNS, seed: SEED },
      );
    }
    assert.deepEqual(await footprint(), before, 'a malformed event wrote nothing');
    console.log(`malformed: ${[...tallies].map(([n, x]) => `${n} ${x.malformed}`).join(', ')}`);
  });

  test('well-formed events with hostile content: a result or a typed, non-retryable error', async () => {
    for (const target of targets) {
      const tally = tallies.get(target.name) as Tally;
      const wellFormed = hostileStrings(target.template).filter(
        (event) => target.contract.safeParse(event).success,
      );
      await fc.assert(
        fc.asyncProperty(wellFormed, async (event) => {
          tally.wellFormed++;
          const error = await target.handler(event, context()).then(
            () => null,
            (e: unknown) => e,
          );
          if (error === null) return;
          if (!(error instanceof OpsrailError)) tally.untyped.push(describeError(event, error));
          else if (error.retryable) tally.retryable.push(describeError(event, error));
          assert.ok(
            error instanceof OpsrailError,
            `${target.name}: untyped ${describeError(event, error)}`,
          );
          assert.equal(
            error.retryable,
            false,
            `${target.name}: retryable ${describeError(event, error)}`,
          );
        }),
        { numRuns: WELL_FORMED_RUNS, seed: SEED },
      );
    }
    console.log(`well-formed: ${[...tallies].map(([n, x]) => `${n} ${x.wellFormed}`).join(', ')}`);
  });

  test('the two found by attack: params with an empty name, and ExecutionEnded input that is not JSON', async () => {
    const [preflight, , , , , ended] = targets as [Target, Target, Target, Target, Target, Target];
    const emptyName = await preflight
      .handler(
        {
          executionId: 'fuzz-empty',
          request: {
            jobId: 'fuzz_job',
            scheduledTime: '2026-03-04T00:00:00Z',
            trigger: 'manual',
            params: { '': 'x' },
          },
        },
        context(),
      )
      .catch((e: unknown) => e);
    assert.ok(emptyName instanceof ValidationError && !emptyName.retryable, String(emptyName));
    assert.match(emptyName.message, /request\.params/);
    const template = ended.template as { detail: Record<string, unknown> };
    const notJson = await ended
      .handler({ ...template, detail: { ...template.detail, input: '{not json' } }, context())
      .catch((e: unknown) => e);
    assert.ok(notJson instanceof ValidationError && !notJson.retryable, String(notJson));
    assert.match(notJson.message, /detail\.input: is not JSON/);
  });

  test('at least 10,000 generated inputs, none crashing a handler or asking to be retried', () => {
    const all = [...tallies.values()];
    assert.ok(all.reduce((n, t) => n + t.malformed + t.wellFormed, 0) >= 10_000);
    assert.deepEqual(
      all.flatMap((t) => t.untyped),
      [],
    );
    assert.deepEqual(
      all.flatMap((t) => t.retryable),
      [],
    );
  });
});
