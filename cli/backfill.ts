import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { directoryPolicySource } from '../functions/adapters/policy-sources';
import { type BackfillWindow, planBackfill } from '../functions/core/backfill';
import { systemClock } from '../functions/core/clock';
import { findJob, loadPolicy } from '../functions/core/policy';
import { jobRegistry } from '../functions/jobs/registry';
import { loadJobModules } from '../functions/jobs/modules';
import type { ExecutionOutcome, LocalRuntime } from '../local/runtime';
import { DEFAULT_POLICY_DIR, startLocalStack } from '../local/stack';
import { UsageError } from './errors';

/** Exit codes, as cli/main.ts (and the README) fix them. */
const EXIT = { ok: 0, failed: 1, refused: 3, degraded: 4 } as const;

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function timeOption(name: string, value: string | undefined): Date {
  if (!value || !ISO_TIME.test(value) || Number.isNaN(Date.parse(value)))
    throw new UsageError(
      `${name} must be an ISO 8601 time with a zone, such as 2026-01-01T00:00:00Z (got '${value ?? ''}')`,
    );
  return new Date(value);
}

/** How a window's execution ended, in a word of the progress line. */
function describe(outcome: ExecutionOutcome): string {
  switch (outcome.kind) {
    case 'completed':
      return `completed (${outcome.summary.status}, quality ${outcome.summary.quality})`;
    case 'duplicate_suppressed':
      return 'duplicate (this window already ran; not run again)';
    case 'tick_skipped':
      return `skipped (run ${outcome.openRunId ?? '?'} of the job is open)`;
    case 'refused':
      return `refused (${outcome.summary.error?.kind ?? 'refused'})`;
    case 'stopped':
      return 'stopped';
    case 'failed':
      return `failed (${outcome.error})`;
  }
}

export interface BackfillTally {
  completed: number;
  duplicates: number;
  skipped: number;
  refused: number;
  failed: number;
  degraded: number;
}

/**
 * Runs the planned windows one after another, oldest first, each as an operator's run of its tick
 * (trigger manual): a window that already ran ends as a duplicate through Preflight's claim, never
 * a second effect (docs/scheduling.md#backfill).
 */
export async function runBackfill(
  runtime: Pick<LocalRuntime, 'run'>,
  jobId: string,
  windows: readonly BackfillWindow[],
  requestedBy: string,
  print: (line: string) => void,
): Promise<BackfillTally> {
  const tally: BackfillTally = {
    completed: 0,
    duplicates: 0,
    skipped: 0,
    refused: 0,
    failed: 0,
    degraded: 0,
  };
  for (const [i, w] of windows.entries()) {
    const outcome = await runtime.run({
      jobId,
      scheduledTime: w.scheduledTime,
      trigger: 'manual',
      requestedBy,
    });
    if (outcome.kind === 'completed') {
      tally.completed++;
      if (outcome.summary.quality !== 'OK') tally.degraded++;
    } else if (outcome.kind === 'duplicate_suppressed') tally.duplicates++;
    else if (outcome.kind === 'tick_skipped') tally.skipped++;
    else if (outcome.kind === 'refused' || outcome.kind === 'stopped') tally.refused++;
    else tally.failed++;
    print(`[${i + 1}/${windows.length}] ${w.scheduledTime}  ${describe(outcome)}`);
  }
  return tally;
}

/**
 * `opsrail backfill <jobId> --from T --to T [--stage local]`: the job's windows between the two
 * times, on the local stack only.
 */
export async function backfillCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      stage: { type: 'string', default: 'local' },
      as: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new UsageError('backfill needs exactly one <jobId>');
  if (values.stage !== 'local')
    throw new UsageError(
      `backfill runs on the local stack only (--stage local), not on '${values.stage}'`,
    );
  const jobId = positionals[0] as string;
  const from = timeOption('--from', values.from);
  const to = timeOption('--to', values.to);
  const policyDir = process.env.OPSRAIL_POLICY_DIR ?? DEFAULT_POLICY_DIR;
  const modules = await loadJobModules(policyDir);
  const policy = loadPolicy(directoryPolicySource(policyDir), 'local', jobRegistry(modules));
  const job = findJob(policy, jobId);
  if (!job)
    throw new UsageError(
      `unknown job '${jobId}'; known: ${policy.jobs.map((j) => j.jobId).join(', ')}`,
    );
  // Planned, and bounded, before the stack starts: a refused range runs nothing.
  const windows = planBackfill(
    job,
    { from, to, now: systemClock.now() },
    policy.settings.scheduler.backfillMaxWindows,
  );
  if (windows.length === 0) {
    console.log(`backfill ${jobId}: no tick of ${job.schedule.expression} in that range`);
    return EXIT.ok;
  }
  console.log(
    `backfill ${jobId}: ${windows.length} windows, ${windows[0]?.scheduledTime} … ${windows.at(-1)?.scheduledTime}, oldest first`,
  );
  const stack = await startLocalStack();
  try {
    const { LocalRuntime } = await import('../local/runtime');
    const runtime = new LocalRuntime(stack.env, modules);
    const tally = await runBackfill(
      runtime,
      jobId,
      windows,
      values.as ?? userInfo().username,
      (line) => console.log(line),
    );
    console.log(
      `backfill ${jobId}: ${tally.completed} completed, ${tally.duplicates} duplicates, ${tally.skipped} skipped, ${tally.refused} refused, ${tally.failed} failed`,
    );
    if (tally.failed) return EXIT.failed;
    if (tally.refused || tally.skipped) return EXIT.refused;
    return tally.degraded ? EXIT.degraded : EXIT.ok;
  } finally {
    await stack.stop();
  }
}
