/**
 * Cost bench: what one routine run costs at AWS list prices (bench/prices.ts), from what a run on
 * the local stack actually does. The real local runtime (real ASL under aws-local-stepfunctions,
 * real handlers) runs a counted job that succeeds (test/support/jobs.ts) over its own DynamoDB
 * Local and S3 endpoint. Middleware on the runtime's own DynamoDB client (the state, approval and
 * idempotency stores all send through it) asks every call for its consumed capacity
 * (ReturnConsumedCapacity TOTAL) and sums CapacityUnits, reads and writes by command; a call that
 * returns none (or fails, as a refused conditional write does, which AWS still bills) is counted
 * by the documented rule (1 RRU per 4 KB read strongly consistent, half eventually; 1 WRU per KB
 * written; transactions twice), sized from its JSON, and the output says which. Middleware on the
 * evidence store's S3 client counts every request by kind. The interpreter's own events give the
 * state transitions (states entered, and retries); the Task handlers it calls, timed, give the
 * Lambda invocations and their wall durations, billed as 512 MB arm64 rounded up to the ms.
 *
 * One run warms up first (cold starts, first connections and table pages are not per-run cost);
 * the second, of the next hour, is measured. The local runtime's kill-switch poll (a read a second
 * while a run is in flight, with no AWS counterpart: there StopExecution does it) is turned off.
 * Handler logs are counted at prod's level (INFO) and swallowed; they, Lambda's own log lines, the
 * execution log and X-Ray are an estimate on a line of their own, outside the budget. Exits 1 when
 * the run is not a routine success or costs more than $0.00025 (transitions, invocations, request
 * units, S3 requests).
 *
 *   npx tsx bench/cost.ts
 */
import { performance } from 'node:perf_hooks';
import { S3Client } from '@aws-sdk/client-s3';
import { StateMachine } from 'aws-local-stepfunctions';
import type { HandlerEnv } from '../contracts';
import { S3EvidenceStore } from '../functions/adapters/s3-evidence-store';
import { s3ClientConfig } from '../functions/adapters/dependencies';
import { LocalRuntime } from '../local/runtime';
import { countingJob } from '../test/support/jobs';
import { testStack, withTestJobs } from '../test/support/local';
import { PRICES, PRICES_AS_OF } from './prices';

const BUDGET_USD = 0.00025;
const LAMBDA_MEMORY_GB = 512 / 1024;
/** START, END and REPORT (with its X-Ray line) of one invocation: about 400 bytes. */
const LAMBDA_PLATFORM_LOG_BYTES = 400;
const JOB_ID = 'cost_counter';

// ---- DynamoDB: consumed capacity of every call ----
const READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
const WRITES = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'TransactWriteItems',
]);
interface CommandUnits {
  kind: 'read' | 'write' | 'other';
  calls: number;
  units: number;
  /** Calls whose units were counted by the documented rule, with why. */
  byRule: Map<string, number>;
}
const dynamo = new Map<string, CommandUnits>();
const s3 = new Map<string, number>();
let measuring = false;

const bytesOf = (value: unknown): number =>
  value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value));
const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));
const readUnits = (bytes: number, consistent: boolean) =>
  Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5);

/** The documented rule, for a call DynamoDB Local returned no ConsumedCapacity for. */
function unitsByRule(
  command: string,
  input: Record<string, any>,
  output: Record<string, any> | undefined,
): number {
  switch (command) {
    case 'PutItem':
      return writeUnits(bytesOf(input.Item));
    case 'UpdateItem':
      return writeUnits(bytesOf(input.Key) + bytesOf(input.ExpressionAttributeValues));
    case 'DeleteItem':
      return writeUnits(bytesOf(output?.Attributes ?? input.Key));
    case 'TransactWriteItems':
      return (input.TransactItems as Record<string, any>[])
        .map((t) => {
          const op = t.Put ?? t.Update ?? t.Delete ?? t.ConditionCheck;
          return 2 * writeUnits(bytesOf(op.Item ?? op.Key) + bytesOf(op.ExpressionAttributeValues));
        })
        .reduce((a, b) => a + b, 0);
    case 'GetItem':
      return readUnits(bytesOf(output?.Item), input.ConsistentRead === true);
    case 'Query':
    case 'Scan':
      return readUnits(bytesOf(output?.Items), input.ConsistentRead === true);
    case 'TransactGetItems':
      return (input.TransactItems as unknown[]).length * 2 * readUnits(0, true);
    default:
      return (input.RequestItems ? Object.values(input.RequestItems).flat().length : 1) as number;
  }
}

const returned = (capacity: unknown): number | undefined => {
  if (capacity === undefined) return undefined;
  const list = (Array.isArray(capacity) ? capacity : [capacity]) as { CapacityUnits?: number }[];
  if (list.length === 0 || list.some((c) => c.CapacityUnits === undefined)) return undefined;
  return list.reduce((sum, c) => sum + (c.CapacityUnits as number), 0);
};

function countDynamo(
  command: string,
  input: Record<string, any>,
  output: Record<string, any> | undefined,
  error: unknown,
): void {
  if (!measuring) return;
  const kind = READS.has(command) ? 'read' : WRITES.has(command) ? 'write' : 'other';
  const entry = dynamo.get(command) ?? { kind, calls: 0, units: 0, byRule: new Map() };
  dynamo.set(command, entry);
  entry.calls++;
  if (kind === 'other') return;
  const units = returned(output?.ConsumedCapacity);
  if (units !== undefined) {
    entry.units += units;
    return;
  }
  const why = error
    ? `failed (${(error as Error).name}), billed anyway`
    : 'no ConsumedCapacity returned';
  entry.byRule.set(why, (entry.byRule.get(why) ?? 0) + 1);
  entry.units += unitsByRule(command, input, output);
}

const s3Kind = (command: string): string =>
  ({ PutObject: 'PUT', GetObject: 'GET', ListObjectsV2: 'LIST', ListObjects: 'LIST' })[command] ??
  (command.startsWith('Head') ? 'HEAD' : command);

// ---- The local stack and the runtime, instrumented ----
const stack = await testStack({ policyDir: withTestJobs([{ jobId: JOB_ID }]) });
// The handlers log at prod's level, so their lines can be counted (and kept off the terminal).
const env: HandlerEnv = { ...stack.env, POWERTOOLS_LOG_LEVEL: 'INFO' };
// The evidence store over a client of the bench's own, so every S3 request can be counted.
const evidenceClient = new S3Client(s3ClientConfig(env));
const runtime = new LocalRuntime(env, [countingJob(JOB_ID)], {
  handlers: 'source',
  killSwitchPollMs: 2_000_000_000,
  evidence: new S3EvidenceStore(evidenceClient, env.EVIDENCE_BUCKET_NAME),
});

runtime.deps.dynamodb.middlewareStack.add(
  (next, context) => async (args) => {
    const command = (context.commandName ?? 'unknown').replace(/Command$/, '');
    const input = args.input as Record<string, any>;
    const asked =
      READS.has(command) || WRITES.has(command)
        ? { ...args, input: { ...input, ReturnConsumedCapacity: 'TOTAL' } }
        : args;
    try {
      const result = await next(asked);
      countDynamo(command, input, result.output as Record<string, any>, undefined);
      return result;
    } catch (error) {
      countDynamo(command, input, undefined, error);
      throw error;
    }
  },
  { step: 'initialize', name: 'costBenchConsumedCapacity' },
);
evidenceClient.middlewareStack.add(
  (next, context) => async (args) => {
    const kind = s3Kind((context.commandName ?? 'unknown').replace(/Command$/, ''));
    if (measuring) s3.set(kind, (s3.get(kind) ?? 0) + 1); // a refused or missing object is billed too
    return next(args);
  },
  { step: 'initialize', name: 'costBenchS3Requests' },
);

// ---- The interpreter: its events (transitions) and the Task handlers it calls (invocations) ----
type RunArgs = Parameters<StateMachine['run']>;
type Event = Awaited<ReturnType<ReturnType<StateMachine['run']>['eventLogs']['next']>>['value'];
const events: NonNullable<Event>[] = [];
const invocations: { state: string; ms: number }[] = [];
let eventsDrained: Promise<void> = Promise.resolve();
const originalRun = StateMachine.prototype.run;
StateMachine.prototype.run = function (this: StateMachine, input: RunArgs[0], options: RunArgs[1]) {
  const handlers = options?.overrides?.taskResourceLocalHandlers ?? {};
  const timed = Object.fromEntries(
    Object.entries(handlers).map(([state, handler]) => [
      state,
      async (stepInput: Parameters<typeof handler>[0]) => {
        const started = performance.now();
        try {
          return await handler(stepInput);
        } finally {
          if (measuring) invocations.push({ state, ms: performance.now() - started });
        }
      },
    ]),
  );
  const execution = originalRun.call(this, input, {
    ...options,
    overrides: { ...options?.overrides, taskResourceLocalHandlers: timed },
  });
  eventsDrained = (async () => {
    for await (const event of execution.eventLogs) {
      if (measuring) events.push(event);
      if (event.type.startsWith('Execution') && event.type !== 'ExecutionStarted') return;
    }
  })();
  return execution;
};

// ---- Two runs: a warm-up, then the measured one; handler logs counted and swallowed ----
let logBytes = 0;
const stdoutWrite = process.stdout.write;
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  if (measuring) logBytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
  const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
  callback?.();
  return true;
}) as typeof process.stdout.write;

const runAt = (scheduledTime: string) =>
  runtime.run({ jobId: JOB_ID, scheduledTime, trigger: 'schedule' });
let outcome: Awaited<ReturnType<typeof runAt>> | undefined;
let failure: unknown;
try {
  await runAt('2026-02-01T10:00:00Z');
  await eventsDrained;
  measuring = true;
  outcome = await runAt('2026-02-01T11:00:00Z');
  await Promise.race([eventsDrained, new Promise((resolve) => setTimeout(resolve, 2000))]);
  measuring = false;
} catch (error) {
  failure = error;
} finally {
  process.stdout.write = stdoutWrite;
  StateMachine.prototype.run = originalRun;
  await stack.stop();
}
if (failure) throw failure;

// ---- Figures and their cost ----
const misses: string[] = [];
if (outcome?.kind !== 'completed' || outcome.summary.status !== 'ok')
  misses.push(
    `the measured run is not a routine success: ${outcome?.kind} ${outcome && 'summary' in outcome ? outcome.summary?.status : ''}`,
  );
const entered = events.filter((e) => e.type === 'StateEntered');
const retried = events.filter((e) => e.type === 'StateRetried').length;
const transitions = entered.length + retried;
const path = entered.map((e) => (e as { state: { name: string } }).state.name).join(' > ');
const billedMs = invocations.reduce((sum, i) => sum + Math.ceil(i.ms), 0);
const gbSeconds = (LAMBDA_MEMORY_GB * billedMs) / 1000;
const sumUnits = (kind: 'read' | 'write') =>
  [...dynamo.values()].filter((c) => c.kind === kind).reduce((sum, c) => sum + c.units, 0);
const rru = sumUnits('read');
const wru = sumUnits('write');
const s3Of = (kind: string) => s3.get(kind) ?? 0;
const s3PutClass = s3Of('PUT') + s3Of('LIST') + s3Of('CopyObject');
const s3GetClass = [...s3.entries()]
  .filter(([kind]) => !['PUT', 'LIST', 'CopyObject'].includes(kind))
  .reduce((sum, [, n]) => sum + n, 0);

const cost = {
  transitions: transitions * PRICES.stepFunctionsStandardPerTransition,
  invocations:
    invocations.length * PRICES.lambdaPerRequest + gbSeconds * PRICES.lambdaArmPerGbSecond,
  dynamodb: rru * PRICES.dynamodbPerReadRequestUnit + wru * PRICES.dynamodbPerWriteRequestUnit,
  s3: s3PutClass * PRICES.s3PerPutCopyPostListRequest + s3GetClass * PRICES.s3PerGetRequest,
};
const total = cost.transitions + cost.invocations + cost.dynamodb + cost.s3;
// Logs at prod's defaults: the handlers' lines at INFO and Lambda's own; the execution log at ERROR
// writes nothing for a run that succeeds. Outside prod it logs ALL with data: about the size of the
// interpreter's events, which carry each state's input and output as the history events do.
const prodLogBytes = logBytes + invocations.length * LAMBDA_PLATFORM_LOG_BYTES;
const executionLogBytes = events.reduce((sum, e) => sum + bytesOf(e), 0);
const GB = 1024 ** 3;
const logsCost = (prodLogBytes / GB) * PRICES.cloudwatchLogsIngestionPerGb;
const executionLogCost = (executionLogBytes / GB) * PRICES.cloudwatchLogsIngestionPerGb;
const xrayCost = PRICES.xrayPerTraceRecorded; // one trace a run: the execution's, its Lambdas in it

const usd = (n: number) => `$${n.toFixed(8)}`;
const byRuleNote = (c: CommandUnits) =>
  c.byRule.size
    ? ` (by rule: ${[...c.byRule].map(([why, n]) => `${n} call(s) ${why}`).join('; ')})`
    : c.kind === 'other'
      ? ''
      : ' (as returned)';
console.log(
  `cost bench: one routine run of ${JOB_ID} on the local stack, measured after one warm-up run; list prices us-east-1 as of ${PRICES_AS_OF} (bench/prices.ts)`,
);
console.log(
  `  state transitions: ${transitions} (${entered.length} states entered, ${retried} retries, from the interpreter's events: ${path})`,
);
console.log(
  `  lambda invocations: ${invocations.length} (${invocations.map((i) => `${i.state} ${i.ms.toFixed(0)} ms`).join(', ')})`,
);
console.log(
  `  lambda duration: ${billedMs} ms billed at 512 MB arm64 = ${gbSeconds.toFixed(4)} GB-s`,
);
for (const [command, c] of dynamo)
  console.log(
    `  dynamodb ${command}: ${c.calls} call(s)${c.kind === 'other' ? '' : `, ${c.units} ${c.kind === 'read' ? 'RRU' : 'WRU'}`}${byRuleNote(c)}`,
  );
console.log(`  dynamodb read request units: ${rru}`);
console.log(`  dynamodb write request units: ${wru}`);
for (const [kind, n] of s3) console.log(`  s3 ${kind} requests: ${n}`);
console.log(`  cost of transitions: ${usd(cost.transitions)}`);
console.log(`  cost of invocations (requests and GB-s): ${usd(cost.invocations)}`);
console.log(`  cost of dynamodb request units: ${usd(cost.dynamodb)}`);
console.log(`  cost of s3 requests: ${usd(cost.s3)}`);
console.log(`  cost per routine run: ${usd(total)} (budget ${usd(BUDGET_USD)})`);
console.log(
  `  estimate, not in the budget: logs ${prodLogBytes} B a run at prod's levels (${logBytes} B handler lines at INFO, ${invocations.length} x ${LAMBDA_PLATFORM_LOG_BYTES} B Lambda's own) ${usd(logsCost)}, X-Ray 1 trace ${usd(xrayCost)}; outside prod the execution log at ALL with data adds about ${executionLogBytes} B ${usd(executionLogCost)}`,
);
if (total > BUDGET_USD) misses.push(`a routine run costs ${usd(total)}, over ${usd(BUDGET_USD)}`);
if (misses.length) {
  console.log(`FAILED: ${misses.join('; ')}`);
  process.exit(1);
}
console.log('ok: a routine run costs less than the budget at list prices');
process.exit(0);
