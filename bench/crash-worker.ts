/**
 * One life of the crash bench's scheduler (bench/crash.ts starts it, kill -9s it, starts it again).
 * Like `npm start`, it owns the local stack of $OPSRAIL_HOME: it takes the home's lock (which stops
 * whatever a killed life left running, docs/local-stack.md) and starts DynamoDB Local and the S3
 * endpoint itself, so a kill -9 here is a kill -9 of the stack's owner. On that stack: the real
 * local runtime (real ASL, real handlers), two counted-effect jobs, a tick source that delivers at
 * least once (the cursor moves only once a tick's run is claimed, like EventBridge's redelivery)
 * and the local scheduler's resumption of runs whose lease expired. With --drain it delivers every
 * tick up to --ticks, stops its stack and exits once every run is finished.
 */
import { appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { systemClock } from '../functions/core/clock';
import type { JobImplementation } from '../functions/jobs/types';
import { LocalRuntime } from '../local/runtime';
import { LocalScheduler } from '../local/scheduler';
import { startLocalStack } from '../local/stack';
import { BENCH_JOBS, tickAt } from './crash-plan';

const { values } = parseArgs({
  options: {
    effects: { type: 'string' },
    interval: { type: 'string' },
    ticks: { type: 'string' },
    drain: { type: 'boolean', default: false },
    /**
     * Drain up to one tick past the furthest cursor the lives before reached; print it as
     * `TICKS n`.
     */
    'ticks-from-cursors': { type: 'boolean', default: false },
  },
});
const effectsFile = values.effects as string;
const intervalMs = Number(values.interval);
let lastTick = values.ticks === undefined ? Number.POSITIVE_INFINITY : Number(values.ticks) - 1;

/**
 * The counted effect: one line per execution of the job's logic, on disk before the job returns.
 */
function countedJob(jobId: string): JobImplementation {
  return {
    jobId,
    async run({ run }) {
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 150)));
      appendFileSync(effectsFile, `${run.jobRunId}\n`);
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 150)));
      return {
        quality: 'OK',
        outputs: [{ name: 'effect.txt', contentType: 'text/plain', body: `${run.jobRunId}\n` }],
        integrityReport: null,
        diagnostics: [],
      };
    },
  };
}

// This life's own stack, under $OPSRAIL_HOME and $OPSRAIL_POLICY_DIR (set by bench/crash.ts).
const stack = await startLocalStack({ attach: false, command: 'crash-worker' });
const runtime = new LocalRuntime(
  stack.env,
  BENCH_JOBS.map((j) => countedJob(j.jobId)),
);
const { state } = runtime.deps;
const scheduler = new LocalScheduler(runtime, runtime.deps.policy, state, systemClock);
const inFlight = new Set<Promise<unknown>>();
const deliver = (jobId: string, scheduledTime: string) => {
  const p = runtime.run({ jobId, scheduledTime, trigger: 'schedule' }).catch(() => undefined);
  inFlight.add(p);
  void p.finally(() => inFlight.delete(p));
};
const indexOf = (tick: string | undefined) =>
  tick === undefined ? -1 : Math.round((Date.parse(tick) - Date.parse(tickAt(0))) / 60_000);
if (values['ticks-from-cursors']) {
  // Every tick a life claimed (or began to deliver) is due: one past the furthest cursor.
  const cursors = await Promise.all(BENCH_JOBS.map((j) => state.getSchedulerCursor(j.jobId)));
  lastTick = Math.max(0, ...cursors.map(indexOf)) + 1;
  console.log(`TICKS ${lastTick + 1}`);
}
console.log('READY');

// While this life lasts, one more tick per job is due every interval after the last one claimed;
// draining, only the ticks up to --ticks are due (the lives before may have left some unclaimed).
const readyAt = Date.now();
const firstOfLife = new Map<string, number>();
for (const { jobId } of BENCH_JOBS)
  firstOfLife.set(jobId, indexOf(await state.getSchedulerCursor(jobId)) + 1);
const released = (jobId: string) =>
  values.drain
    ? lastTick
    : Math.min(
        lastTick,
        (firstOfLife.get(jobId) as number) + Math.floor((Date.now() - readyAt) / intervalMs),
      );

for (;;) {
  for (const { jobId } of BENCH_JOBS) {
    const next = indexOf(await state.getSchedulerCursor(jobId)) + 1;
    for (let i = next; i <= released(jobId); i++) {
      const tick = tickAt(i);
      deliver(jobId, tick);
      // At least once: the cursor passes a tick only when its run is claimed (by this or another
      // delivery).
      const jobRunId = `${jobId}/${tick}`;
      while (!(await state.getRun(jobRunId)))
        await new Promise((resolve) => setTimeout(resolve, 20));
      await state.setSchedulerCursor(jobId, tick);
    }
  }
  for (const resumed of await scheduler.resumeOpenRuns())
    console.log(`resumed ${resumed.jobId}@${resumed.scheduledTime}`);
  if (values.drain) {
    const open = await state.listOpenRuns();
    const cursors = await Promise.all(BENCH_JOBS.map((j) => state.getSchedulerCursor(j.jobId)));
    if (open.length === 0 && inFlight.size === 0 && cursors.every((c) => c === tickAt(lastTick)))
      break;
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}
await scheduler.drain();
await stack.stop();
console.log('DRAINED');
process.exit(0);
