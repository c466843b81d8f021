/**
 * Crash bench (issue 10): the local scheduler's loop (bench/crash-worker.ts: real local runtime,
 * real ASL and handlers) runs two counted-effect jobs, one tick every --interval ms while it lives,
 * and is killed with SIGKILL at seeded random moments, --kills times, and started again each time;
 * a last life delivers the remaining ticks and finishes every run. Each life owns the home's stack
 * as `npm start` does (its own DynamoDB Local, with a watchdog, and S3 endpoint), so each kill -9
 * leaves those behind unless the product stops them. Then: effects == ticks that ran (0 doubled, 0
 * lost), `opsrail verify --all` exits 0, no run left claimed, no failure counted, and no process or
 * endpoint of a killed life outlives the next start, nor any of the home after the final shutdown.
 * Exits 1 on any miss and prints the figures.
 *
 *   npm run bench                  # both benches; this one with 20 kills
 *   npx tsx bench/crash.ts --kills 5 --seed 7
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildDependencies } from '../functions/adapters/dependencies';
import { builtinJobs } from '../functions/jobs/registry';
import { readStackFile, type StackFile } from '../local/home-lock';
import { isProcessAlive } from '../local/process-identity';
import { DEFAULT_POLICY_DIR, endpointAnswers, REPO_ROOT, startLocalStack } from '../local/stack';
import { BENCH_JOBS, BENCH_LEASE_SECONDS, benchPolicyDir, tickAt } from './crash-plan';
import { seeded } from '../test/support/seeded';
import { orphansOf } from '../test/support/processes';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    interval: { type: 'string', default: '1000' },
  },
});
const kills = Number(values.kills);
const seed = Number(values.seed);
const intervalMs = Number(values.interval);
const WORKER = join(import.meta.dirname, 'crash-worker.ts');
// Each life starts a JVM (DynamoDB Local): seconds when idle, over a minute on a crowded machine.
const READY_TIMEOUT_MS = 180_000;
const DRAIN_TIMEOUT_MS = 300_000;

const home = mkdtempSync(join(tmpdir(), 'opsrail-crash-'));
const policyDir = benchPolicyDir(DEFAULT_POLICY_DIR);
const effectsFile = join(home, 'effects.log');
writeFileSync(effectsFile, '');
Object.assign(process.env, { OPSRAIL_HOME: home, OPSRAIL_POLICY_DIR: policyDir });

const env = { ...process.env, OPSRAIL_LOG_LEVEL: 'SILENT' };
const startedAt = Date.now();
const random = seeded(seed);

function startWorker(extra: string[] = []): {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<number | null>;
  output: () => string;
} {
  const args = [
    '--import',
    'tsx',
    WORKER,
    '--effects',
    effectsFile,
    '--interval',
    String(intervalMs),
    ...extra,
  ];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // never leave a worker (and its stack) behind the bench
      reject(new Error(`worker not ready within ${READY_TIMEOUT_MS} ms: ${output.slice(-2000)}`));
    }, READY_TIMEOUT_MS);
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('READY')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${code}) before it was ready: ${output.slice(-2000)}`));
    });
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, ready, exited, output: () => output };
}

/**
 * What one life ran, from the home's pid file once it was ready: its stack's processes and S3
 * endpoint.
 */
interface Life {
  children: StackFile['children'];
  s3Endpoint: string | undefined;
}
const lives: Life[] = [];
const misses: string[] = [];
const lifeOf = (n: number): Life => {
  const held = readStackFile(home);
  if (held?.owner.command !== 'crash-worker')
    throw new Error(`life ${n}: no pid file of the worker in ${home}`);
  return { children: held.children, s3Endpoint: held.s3Endpoint };
};
/**
 * What of a life is still there: its DynamoDB Local and watchdog (same pid and start time), its S3
 * endpoint.
 */
async function leftOf(life: Life, except: Life | undefined): Promise<string[]> {
  const processes = life.children
    .filter((c) => isProcessAlive(c))
    .map((c) => `${c.name} pid ${c.pid}`);
  const endpoint =
    life.s3Endpoint &&
    life.s3Endpoint !== except?.s3Endpoint &&
    (await endpointAnswers(life.s3Endpoint))
      ? [`S3 endpoint ${life.s3Endpoint}`]
      : [];
  return [...processes, ...endpoint];
}
let leftAfterNextStart = 0;
const afterStart = async (n: number, life: Life) => {
  const previous = lives[lives.length - 1];
  lives.push(life);
  const left = previous ? await leftOf(previous, life) : [];
  leftAfterNextStart += left.length;
  if (left.length)
    misses.push(`life ${n}: the killed life before it left ${left.join(', ')} running`);
};

const killedAfterMs: number[] = [];
const progress = (line: string) =>
  process.stderr.write(`crash bench ${((Date.now() - startedAt) / 1000).toFixed(1)}s ${line}\n`);
for (let k = 0; k < kills; k++) {
  const worker = startWorker();
  const spawned = Date.now();
  await worker.ready;
  await afterStart(k + 1, lifeOf(k + 1));
  progress(
    `life ${k + 1}: ready after ${Date.now() - spawned} ms (its DynamoDB Local: pid ${lives.at(-1)?.children.at(-1)?.pid})`,
  );
  const delay = 200 + Math.floor(random() * 2300);
  await new Promise((resolve) => setTimeout(resolve, delay));
  worker.child.kill('SIGKILL');
  await worker.exited;
  killedAfterMs.push(delay);
}
// Every tick a life claimed (or began to deliver) is due; the draining life delivers any left
// behind. How far the lives got is on the draining life's cursors: it reports them (TICKS) once its
// stack is up.
const drain = startWorker(['--drain', '--ticks-from-cursors']);
await drain.ready;
await afterStart(kills + 1, lifeOf(kills + 1));
const ticks = Number(/TICKS (\d+)/.exec(drain.output())?.[1]);
progress(`draining ${ticks} ticks`);
const drained = await Promise.race([
  drain.exited,
  new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), DRAIN_TIMEOUT_MS)),
]);
if (drained === 'timeout') drain.child.kill('SIGKILL');
progress(`drained: ${drained}`);
// After the final shutdown (the draining life stopped its stack), nothing of the home may be
// running: no DynamoDB Local or watchdog (by command line, and every life's by pid and start time),
// no S3 endpoint.
const describe = (p: { pid: number; command: string }) => `pid ${p.pid} ${p.command.slice(0, 100)}`;
const leftAtEnd = [
  ...(await orphansOf(home)).map(describe),
  ...(await Promise.all(lives.map((life) => leftOf(life, undefined)))).flat(),
];

// The bench's own look at the state table and the evidence: the next start on the home, a stack of
// its own.
const stack = await startLocalStack({ home, policyDir, attach: false, command: 'crash-bench' });
// This process only checks the evidence: its registry names the bench's jobs (as policy requires of
// an enabled job) but never runs them; the workers did.
const notRunHere = BENCH_JOBS.map((j) => ({
  jobId: j.jobId,
  run: async () => {
    throw new Error(`${j.jobId} runs in the crash workers, never in the bench process`);
  },
}));
const deps = buildDependencies(stack.env, notRunHere, { builtinJobs });
// What happened, from the state table and the effects file.
const effects = new Map<string, number>();
for (const line of readFileSync(effectsFile, 'utf8').split('\n').filter(Boolean))
  effects.set(line, (effects.get(line) ?? 0) + 1);
const figures = {
  runs: 0,
  ok: 0,
  unknownOutcome: 0,
  lost: 0,
  leftClaimed: 0,
  falseFailures: 0,
  doubled: 0,
  lostEffects: 0,
  reruns: 0,
  takeovers: 0,
  effects: 0,
};
const planned = new Set<string>();
for (const job of BENCH_JOBS) {
  for (let i = 0; i < ticks; i++) {
    const jobRunId = `${job.jobId}/${tickAt(i)}`;
    planned.add(jobRunId);
    figures.runs++;
    const item = await deps.state.getRun(jobRunId);
    const count = effects.get(jobRunId) ?? 0;
    figures.effects += count;
    if (!item) {
      figures.lost++;
      misses.push(`${jobRunId}: never claimed (lost tick)`);
      continue;
    }
    figures.takeovers += item.audit.filter(
      (e) => e.type === 'job.run.retry' && /taken over/.test(e.retry?.reason ?? ''),
    ).length;
    if (item.phase !== 'finalized' || !item.summary) {
      figures.leftClaimed++;
      misses.push(`${jobRunId}: left claimed`);
      continue;
    }
    const rerunByDesign =
      job.idempotent &&
      item.audit.some(
        (e) => e.type === 'job.run.retry' && /ended without an outcome/.test(e.retry?.reason ?? ''),
      );
    if (item.summary.status === 'ok' && item.summary.quality === 'OK') {
      figures.ok++;
      if (count === 0) {
        figures.lostEffects++;
        misses.push(`${jobRunId}: ok without its effect`);
      }
      if (count > 1 && rerunByDesign) figures.reruns += count - 1;
      else if (count > 1) {
        figures.doubled++;
        misses.push(`${jobRunId}: effect ${count} times`);
      }
    } else if (item.summary.error?.kind === 'unknown_outcome' && !job.idempotent) {
      figures.unknownOutcome++;
      if (count > 1) {
        figures.doubled++;
        misses.push(`${jobRunId}: effect ${count} times`);
      }
    } else {
      figures.falseFailures++;
      misses.push(
        `${jobRunId}: ${item.summary.status}/${item.summary.quality} ${item.summary.error?.kind ?? ''} ${item.summary.error?.message ?? ''}`,
      );
    }
  }
}
for (const [jobRunId, count] of effects)
  if (!planned.has(jobRunId))
    misses.push(`${jobRunId}: ${count} effect(s) of a run outside the plan`);
const open = await deps.state.listOpenRuns();
if (open.length)
  misses.push(`${open.length} run(s) still open: ${open.map((o) => o.jobRunId).join(', ')}`);
let counted = 0;
for (const job of BENCH_JOBS) {
  const state = await deps.state.getJobState(job.jobId);
  counted += state?.consecutiveFailures ?? 0;
  if (state?.quarantine) misses.push(`${job.jobId} quarantined: ${state.quarantine.reason}`);
}
if (counted) misses.push(`${counted} failure(s) counted toward quarantine`);
const verify = await verifyAll().catch((error: Error) => ({
  status: 1,
  output: `${error.name}: ${error.message}`,
}));
if (verify.status !== 0)
  misses.push(
    `verify --all exited ${verify.status}: ${verify.output.split('\n').slice(-12).join('\n')}`,
  );
if (drained !== 0)
  misses.push(
    `the draining worker ${drained === 'timeout' ? `did not finish within ${DRAIN_TIMEOUT_MS} ms` : `exited ${drained}`}: ${drain.output().slice(-1500)}`,
  );

const benchS3 = readStackFile(home)?.s3Endpoint;
await stack.stop();
const afterBench = [
  ...(await orphansOf(home)).map(describe),
  ...(benchS3 && (await endpointAnswers(benchS3)) ? [`S3 endpoint ${benchS3}`] : []),
];
const orphans = [...new Set([...leftAtEnd, ...afterBench])];
if (orphans.length) misses.push(`left running after the final shutdown: ${orphans.join('; ')}`);

console.log(
  `crash bench: seed ${seed}, ${kills} kills (SIGKILL ${Math.min(...killedAfterMs)}-${Math.max(...killedAfterMs)} ms after ready), lease ${BENCH_LEASE_SECONDS} s, one tick per job every ${intervalMs} ms of a life`,
);
console.log(
  `  ticks ${ticks} x ${BENCH_JOBS.length} jobs = ${figures.runs} runs: ok ${figures.ok}, unknown_outcome ${figures.unknownOutcome} (not re-run), lost ${figures.lost}, left claimed ${figures.leftClaimed}, false failures ${figures.falseFailures}`,
);
console.log(
  `  effects ${figures.effects}: doubled ${figures.doubled}, lost ${figures.lostEffects}, idempotent re-runs ${figures.reruns}; takeovers ${figures.takeovers}; failures counted ${counted}`,
);
console.log(`  verify --all: exit ${verify.status} (${verify.output.split('\n').pop() ?? ''})`);
console.log(
  `  stacks: ${lives.length} lives each started DynamoDB Local (pids ${lives.map((l) => l.children.at(-1)?.pid ?? '?').join(',')}); processes/endpoints of a killed life left after the next start ${leftAfterNextStart}`,
);
console.log(
  `  orphaned processes: ${orphans.length} (DynamoDB Local, watchdog or S3 endpoint of the home after the final shutdown)`,
);
if (misses.length) {
  console.log(`FAILED: ${misses.length} miss(es)`);
  for (const miss of misses.slice(0, 40)) console.log(`  - ${miss}`);
  process.exit(1);
}
console.log('ok: 0 doubled, 0 lost');
process.exit(0);

/** `opsrail verify --all` on the bench's stack: the CLI attaches to it through $OPSRAIL_HOME. */
async function verifyAll(): Promise<{ status: number | null; output: string }> {
  // Asynchronously: this process serves the local S3 endpoint the CLI attaches to, so it must not
  // block.
  const cli = spawn(process.execPath, [join(REPO_ROOT, 'cli/bin/opsrail.mjs'), 'verify', '--all'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 300_000,
  });
  let output = '';
  cli.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  cli.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const status = await new Promise<number | null>((resolve) =>
    cli.once('close', (code) => resolve(code)),
  );
  return { status, output: output.trim() };
}
