import { parseArgs } from 'node:util';
import { systemClock } from '../functions/core/clock';
import type { ControlDependencies } from '../functions/core/controls';
import { parseJobRunId } from '../functions/core/ids';
import { findJob, type ResolvedPolicy } from '../functions/core/policy';
import {
  formatRunDetail,
  formatRuns,
  parseSince,
  RUN_HISTORY_STATUSES,
  type RunHistoryStatus,
  runDetail,
  runHistory,
  type ZoneOf,
} from '../functions/core/run-history';
import { UsageError } from './errors';

/**
 * What a command of the CLI gets from cli/main.ts: the stage's policy (which checks --stage) and
 * its controls (the local stack, started only once the arguments are checked, or the deployed
 * stage).
 */
export interface CliContext {
  policyFor(stage: string | undefined): ResolvedPolicy;
  withControls<T>(
    stage: string | undefined,
    fn: (deps: ControlDependencies) => Promise<T>,
  ): Promise<T>;
}

/** Times in each job's own zone with its offset (as `opsrail jobs`), or UTC with --utc. */
export function zoneOf(policy: ResolvedPolicy, utc: boolean): ZoneOf {
  return (jobId) => (utc ? 'UTC' : (findJob(policy, jobId)?.schedule.timezone ?? 'UTC'));
}

export function requireKnownJobArg(policy: ResolvedPolicy, jobId: string): void {
  if (!findJob(policy, jobId))
    throw new UsageError(
      `unknown job '${jobId}'; known: ${policy.jobs.map((j) => j.jobId).join(', ')}`,
    );
}

/** `opsrail runs [jobId] [--since T] [--status S] [--json] [--utc] [--stage S]`. */
export async function runsCommand(args: string[], cli: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      since: { type: 'string' },
      status: { type: 'string' },
      json: { type: 'boolean', default: false },
      utc: { type: 'boolean', default: false },
      stage: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 1) throw new UsageError('runs [jobId]: at most one job');
  const policy = cli.policyFor(values.stage);
  const jobId = positionals[0];
  if (jobId !== undefined) requireKnownJobArg(policy, jobId);
  const since =
    values.since === undefined ? undefined : parseSince(values.since, systemClock.now());
  if (since === null)
    throw new UsageError(
      `--since must be an ISO 8601 time with a zone (2026-01-01T00:00:00Z) or a duration such as 30m, 24h, 7d, 2w (got '${values.since}')`,
    );
  const status = values.status as RunHistoryStatus | undefined;
  if (status !== undefined && !RUN_HISTORY_STATUSES.includes(status))
    throw new UsageError(`--status must be one of ${RUN_HISTORY_STATUSES.join(', ')}`);
  return cli.withControls(values.stage, async (deps) => {
    const rows = runHistory(
      await deps.state.listRuns({
        ...(jobId !== undefined ? { jobId } : {}),
        ...(since !== undefined ? { since } : {}),
      }),
      { ...(status ? { status } : {}) },
    );
    if (values.json)
      console.log(
        JSON.stringify(
          { stage: deps.policy.stage, jobId: jobId ?? null, since: since ?? null, runs: rows },
          null,
          2,
        ),
      );
    else for (const line of formatRuns(rows, zoneOf(deps.policy, values.utc))) console.log(line);
    return 0;
  });
}

/** `opsrail show <jobRunId> [--json] [--utc] [--stage S]`. */
export async function showCommand(args: string[], cli: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      json: { type: 'boolean', default: false },
      utc: { type: 'boolean', default: false },
      stage: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new UsageError('show needs exactly one <jobRunId>');
  const jobRunId = positionals[0] as string;
  const parsed = parseJobRunId(jobRunId);
  if (!parsed)
    throw new UsageError(
      `'${jobRunId}' is not a jobRunId (<jobId>/<window start, UTC>, e.g. evidence_integrity_check/2026-01-01T00:00:00Z)`,
    );
  cli.policyFor(values.stage);
  return cli.withControls(values.stage, async (deps) => {
    const item = await deps.state.getRun(jobRunId);
    if (!item)
      throw new UsageError(
        `no run '${jobRunId}' in stage ${deps.policy.stage} (opsrail runs ${parsed.jobId} lists its runs)`,
      );
    const detail = runDetail(item, await deps.state.listDuplicates(jobRunId));
    if (values.json) console.log(JSON.stringify(detail, null, 2));
    else
      for (const line of formatRunDetail(detail, zoneOf(deps.policy, values.utc)(item.jobId)))
        console.log(line);
    return 0;
  });
}
