/**
 * Duplicates bench: at-least-once delivery on the local stack. An hourly counted-effect job
 * (test/support/jobs.ts's countingJob, in a policy dir of its own from withTestJobs) gets --ticks
 * ticks, one hour apart (distinct windows, all in the past), each delivered twice with the same
 * scheduledTime and trigger 'schedule', as EventBridge may. The deliveries go in order (a tick's
 * two back to back) to a pool of at most --inFlight executions, so a tick's two deliveries usually
 * race each other. Each is a real execution: LocalRuntime runs the real ASL under
 * aws-local-stepfunctions with the real handlers, on a stack of the bench's own (DynamoDB Local and
 * the local S3 endpoint, local/stack.ts, in a temporary home), stopped at the end, on failure too.
 *
 * It prints the figures, the runs per second (wall, from the first delivery to the last outcome)
 * and the overhead ratio: wall time per completed run against the bare job, the same job's run()
 * called directly in-process once per tick, with the same pool, timed the same way. Exits 1 unless
 * effects == ticks, each tick's effect happened exactly once, each tick's two deliveries ended as
 * exactly one completed (ok/OK) and one duplicate_suppressed outcome of that tick's run, and the
 * state table agrees (each run finalized ok, one duplicate recorded on it, no run left open), and
 * no process of the stack's home outlives its stop.
 *
 *   npx tsx bench/duplicates.ts [--ticks N] [--inFlight N]    # defaults: 1000 ticks, 4 in flight
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { JobContext } from '../functions/jobs/types';
import { type ExecutionOutcome, LocalRuntime } from '../local/runtime';
import { type LocalStack, startLocalStack } from '../local/stack';
import { countingJob } from '../test/support/jobs';
import { withTestJobs } from '../test/support/local';
import { orphansOf } from '../test/support/processes';

const { values } = parseArgs({
  options: {
    ticks: { type: 'string', default: '1000' },
    inFlight: { type: 'string', default: '4' },
  },
});
const ticks = Number(values.ticks);
const inFlight = Number(values.inFlight);
if (!Number.isInteger(ticks) || ticks < 1 || !Number.isInteger(inFlight) || inFlight < 1) {
  console.error('--ticks and --inFlight must be positive integers');
  process.exit(2);
}

const JOB_ID = 'dup_counter';
const HOUR_MS = 3_600_000;
// The last tick is the hour before the current one: every tick is in the past (Preflight refuses a
// future one), whatever --ticks.
const firstTickMs = (Math.floor(Date.now() / HOUR_MS) - ticks) * HOUR_MS;
const tickAt = (i: number): string =>
  new Date(firstTickMs + i * HOUR_MS).toISOString().replace(/\.\d{3}Z$/, 'Z');
const runIdOf = (i: number) => `${JOB_ID}/${tickAt(i)}`;

const startedAt = Date.now();
const progress = (line: string) =>
  process.stderr.write(
    `duplicates bench ${((Date.now() - startedAt) / 1000).toFixed(1)}s ${line}\n`,
  );

/** Runs `task` on each item, at most `limit` at once; resolves with the most that were at once. */
async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>) {
  let next = 0;
  let running = 0;
  let most = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      most = Math.max(most, ++running);
      try {
        await task(item);
      } finally {
        running--;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return most;
}

const job = countingJob(JOB_ID);
const tickIndexes = Array.from({ length: ticks }, (_, i) => i);

// The bare job: its run() called directly, once per tick, with the same pool and the same clock.
// countingJob reads only run.jobRunId of its context.
const bareStarted = performance.now();
await pool(tickIndexes, inFlight, async (i) => {
  await job.run({ run: { jobRunId: runIdOf(i) } } as unknown as JobContext);
});
const bareMs = performance.now() - bareStarted;
const bareEffects = job.effects.length;
job.effects.length = 0;

const misses: string[] = [];
if (bareEffects !== ticks) misses.push(`bare job: ${bareEffects} effects for ${ticks} calls`);

const home = mkdtempSync(join(tmpdir(), 'opsrail-duplicates-'));
process.env.OPSRAIL_HOME = home;
const policyDir = withTestJobs(
  [
    {
      jobId: JOB_ID,
      description: 'duplicates bench: a counted effect, one run per hourly tick',
      idempotent: false,
      schedule: { expression: 'rate(1 hour)' },
      window: { kind: 'tick', minutes: 60 },
      // Distinct windows run --inFlight at a time (docs/scheduling.md#overlap).
      overlap: 'allow',
    },
  ],
  // Only the bench's job is enabled: nothing else runs meanwhile.
  (policy) => ({ ...policy, jobs: { [JOB_ID]: { enabled: true } } }),
);

let stack: LocalStack | undefined;
const stopStack = async () => {
  const s = stack;
  stack = undefined;
  await s?.stop();
};
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const)
  process.once(signal, () => void stopStack().finally(() => process.exit(code)));

const figures = {
  deliveries: 0,
  completed: 0,
  suppressed: 0,
  otherOutcomes: 0,
  effects: 0,
  mostInFlight: 0,
  wallMs: 0,
};
try {
  progress(`starting the local stack in ${home}`);
  stack = await startLocalStack({ home, policyDir, attach: false, command: 'duplicates-bench' });
  const runtime = new LocalRuntime(stack.env, [job], { handlers: 'source' });
  progress(`stack up; ${ticks} ticks x 2 deliveries, at most ${inFlight} in flight`);

  const outcomes: ExecutionOutcome[][] = tickIndexes.map(() => []);
  const deliveries = tickIndexes.flatMap((i) => [i, i]);
  const step = Math.max(1, Math.floor(deliveries.length / 10));
  const wallStarted = performance.now();
  figures.mostInFlight = await pool(deliveries, inFlight, async (i) => {
    const outcome = await runtime.run({
      jobId: JOB_ID,
      scheduledTime: tickAt(i),
      trigger: 'schedule',
    });
    outcomes[i]?.push(outcome);
    if (++figures.deliveries % step === 0)
      progress(`${figures.deliveries}/${deliveries.length} deliveries ended`);
  });
  figures.wallMs = performance.now() - wallStarted;

  // Every tick: exactly one completed (ok/OK) and one duplicate_suppressed outcome, both of its run.
  for (const i of tickIndexes) {
    const jobRunId = runIdOf(i);
    const of = outcomes[i] ?? [];
    const completed = of.filter((o) => o.kind === 'completed');
    const suppressed = of.filter((o) => o.kind === 'duplicate_suppressed');
    figures.completed += completed.length;
    figures.suppressed += suppressed.length;
    figures.otherOutcomes += of.length - completed.length - suppressed.length;
    const describe = of
      .map((o) => `${o.kind}${o.kind === 'failed' ? ` (${o.error})` : ''} ${o.jobRunId}`)
      .join(', ');
    if (completed.length !== 1 || suppressed.length !== 1 || of.length !== 2)
      misses.push(`${jobRunId}: outcomes ${describe}`);
    else if (of.some((o) => o.jobRunId !== jobRunId))
      misses.push(`${jobRunId}: outcomes of another run: ${describe}`);
    for (const o of completed)
      if (o.summary.status !== 'ok' || o.summary.quality !== 'OK')
        misses.push(`${jobRunId}: completed ${o.summary.status}/${o.summary.quality}`);
  }
  // Every tick's effect exactly once, and no other.
  const effects = new Map<string, number>();
  for (const id of job.effects) effects.set(id, (effects.get(id) ?? 0) + 1);
  figures.effects = job.effects.length;
  for (const i of tickIndexes) {
    const count = effects.get(runIdOf(i)) ?? 0;
    if (count !== 1) misses.push(`${runIdOf(i)}: effect ${count} times`);
    effects.delete(runIdOf(i));
  }
  for (const [id, count] of effects) misses.push(`${id}: ${count} effect(s) outside the ticks`);

  // What the state table says (after the timing): each run finalized ok, one duplicate on it.
  progress('checking the state table');
  await pool(tickIndexes, 8, async (i) => {
    const jobRunId = runIdOf(i);
    const item = await runtime.deps.state.getRun(jobRunId);
    if (item?.phase !== 'finalized' || item.summary?.status !== 'ok')
      misses.push(
        `${jobRunId}: state ${item ? `${item.phase} ${item.summary?.status ?? ''}` : 'no run item'}`,
      );
    const duplicates = await runtime.deps.state.listDuplicates(jobRunId);
    if (duplicates.length !== 1)
      misses.push(`${jobRunId}: ${duplicates.length} duplicates recorded`);
  });
  const open = await runtime.deps.state.listOpenRuns();
  if (open.length) misses.push(`${open.length} run(s) left open`);
} catch (error) {
  misses.push(`the bench failed: ${(error as Error).stack ?? error}`);
} finally {
  await stopStack();
}
// Stopped means gone: no DynamoDB Local (nor its watchdog) of the bench's home is left running.
const orphans = await orphansOf(home);
if (orphans.length)
  misses.push(
    `left running after the stack stopped: ${orphans.map((p) => `pid ${p.pid} ${p.command.slice(0, 80)}`).join('; ')}`,
  );

const wallS = figures.wallMs / 1000;
const perRunMs = figures.completed ? figures.wallMs / figures.completed : Number.NaN;
const barePerRunMs = bareMs / ticks;
console.log(
  `duplicates bench: ${ticks} hourly ticks, each delivered twice, at most ${inFlight} executions in flight, on the local stack (real ASL, real handlers, DynamoDB Local, local S3)`,
);
console.log(`  ticks ${ticks}`);
console.log(`  deliveries ${figures.deliveries}`);
console.log(`  completed runs ${figures.completed}`);
console.log(`  duplicates suppressed ${figures.suppressed}`);
console.log(`  other outcomes ${figures.otherOutcomes}`);
console.log(`  effects ${figures.effects}`);
console.log(`  most executions in flight ${figures.mostInFlight}`);
console.log(`  wall ${wallS.toFixed(1)} s (first delivery to last outcome)`);
console.log(`  runs per second (wall) ${(figures.completed / wallS).toFixed(2)}`);
console.log(`  per completed run (wall) ${perRunMs.toFixed(1)} ms`);
console.log(
  `  bare job: ${ticks} run() calls in-process, ${inFlight} in flight, ${bareMs.toFixed(1)} ms (${(barePerRunMs * 1000).toFixed(1)} µs per run)`,
);
console.log(
  `  overhead ratio x${(perRunMs / barePerRunMs).toFixed(0)} (wall per completed run / per bare run() call)`,
);
if (misses.length) {
  console.log(`FAILED: ${misses.length} miss(es) (the stack's data is kept in ${home})`);
  for (const miss of misses.slice(0, 40)) console.log(`  - ${miss}`);
  process.exit(1);
}
// The stack's data (about 100 MB for 1,000 ticks) and the policy copy, once nothing missed.
rmSync(home, { recursive: true, force: true });
rmSync(policyDir, { recursive: true, force: true });
console.log(`ok: effects == ticks (${ticks}), every tick one completed + one duplicate_suppressed`);
process.exit(0);
