/**
 * One life of the crash bench's scheduler (bench/crash.ts starts it, kill -9s it, starts it again):
 * the real local runtime (real ASL, real handlers) over the stack the bench holds (its handler
 * environment in OPSRAIL_BENCH_HANDLER_ENV), two counted-effect
 * jobs, a tick source that delivers at least once (the cursor moves only once a tick's run is
 * claimed, like EventBridge's redelivery) and the local scheduler's resumption of runs whose lease
 * expired. With --drain it delivers every tick up to --ticks and exits once every run is finished.
 */
import { appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { systemClock } from '../functions/core/clock';
import type { JobImplementation } from '../functions/jobs/types';
import { LocalRuntime } from '../local/runtime';
import { LocalScheduler } from '../local/scheduler';
import { HandlerEnv } from '../contracts';
import { BENCH_JOBS, tickAt } from './crash-plan';

const { values } = parseArgs({
  options: {
    effects: { type: 'string' },
    interval: { type: 'string' },
    ticks: { type: 'string' },
    drain: { type: 'boolean', default: false },
  },
});
const effectsFile = values.effects as string;
const intervalMs = Number(values.interval);
const lastTick = values.ticks === undefined ? Number.POSITIVE_INFINITY : Number(values.ticks) - 1;

/** The counted effect: one line per execution of the job's logic, on disk before the job returns. */
function countedJob(jobId: string): JobImplementation {
  return {
    jobId,
    async run({ run }) {
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 150)));
      appendFileSync(effectsFile, `${run.jobRunId}\n`);
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 150)));
      return { quality: 'OK', outputs: [{ name: 'effect.txt', contentType: 'text/plain', body: `${run.jobRunId}\n` }], integrityReport: null, diagnostics: [] };
    },
  };
}

// The stack bench/crash.ts holds (it outlives every life of this worker), as the handlers' environment.
const env = HandlerEnv.parse(JSON.parse(process.env.OPSRAIL_BENCH_HANDLER_ENV ?? 'null'));
const runtime = new LocalRuntime(env, BENCH_JOBS.map((j) => countedJob(j.jobId)));
const { state } = runtime.deps;
const scheduler = new LocalScheduler(runtime, runtime.deps.policy, state, systemClock);
const inFlight = new Set<Promise<unknown>>();
const deliver = (jobId: string, scheduledTime: string) => {
  const p = runtime.run({ jobId, scheduledTime, trigger: 'schedule' }).catch(() => undefined);
  inFlight.add(p);
  void p.finally(() => inFlight.delete(p));
};
console.log('READY');

const indexOf = (tick: string | undefined) => (tick === undefined ? -1 : Math.round((Date.parse(tick) - Date.parse(tickAt(0))) / 60_000));
// While this life lasts, one more tick per job is due every interval after the last one claimed;
// draining, only the ticks up to --ticks are due (the lives before may have left some unclaimed).
const readyAt = Date.now();
const firstOfLife = new Map<string, number>();
for (const { jobId } of BENCH_JOBS) firstOfLife.set(jobId, indexOf(await state.getSchedulerCursor(jobId)) + 1);
const released = (jobId: string) => (values.drain ? lastTick : Math.min(lastTick, (firstOfLife.get(jobId) as number) + Math.floor((Date.now() - readyAt) / intervalMs)));

for (;;) {
  for (const { jobId } of BENCH_JOBS) {
    const next = indexOf(await state.getSchedulerCursor(jobId)) + 1;
    for (let i = next; i <= released(jobId); i++) {
      const tick = tickAt(i);
      deliver(jobId, tick);
      // At least once: the cursor passes a tick only when its run is claimed (by this or another delivery).
      const jobRunId = `${jobId}/${tick}`;
      while (!(await state.getRun(jobRunId))) await new Promise((resolve) => setTimeout(resolve, 20));
      await state.setSchedulerCursor(jobId, tick);
    }
  }
  for (const resumed of await scheduler.resumeOpenRuns()) console.log(`resumed ${resumed.jobId}@${resumed.scheduledTime}`);
  if (values.drain) {
    const open = await state.listOpenRuns();
    const cursors = await Promise.all(BENCH_JOBS.map((j) => state.getSchedulerCursor(j.jobId)));
    if (open.length === 0 && inFlight.size === 0 && cursors.every((c) => c === tickAt(lastTick))) break;
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}
await scheduler.drain();
console.log('DRAINED');
process.exit(0);
