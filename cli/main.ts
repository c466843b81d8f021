import { parseArgs } from 'node:util';
import { userInfo } from 'node:os';
import { SafetyMode, Stage, type Diagnostic, type JobDefinition } from '../contracts';
import { directoryPolicySource } from '../functions/adapters/policy-sources';
import { systemClock } from '../functions/core/clock';
import {
  engageKillSwitch,
  releaseKillSwitch,
  releaseQuarantine,
  setSafetyMode,
  statusReport,
  type ControlDependencies,
  type ExecutionController,
  type StatusReport,
} from '../functions/core/controls';
import type { ScheduleSwitch } from '../functions/core/schedule-pause';
import {
  DangerousOpRequiresApprovalError,
  OpsrailError,
  ValidationError,
} from '../functions/core/errors';
import { findJob, loadPolicy, type ResolvedPolicy } from '../functions/core/policy';
import { formatInZone, nextRunTimes } from '../functions/core/schedule';
import { configJson, configLines, resolvedJobConfig } from '../functions/core/job-config';
import { jobRegistry } from '../functions/jobs/registry';
import { loadJobModules } from '../functions/jobs/modules';
import type { JobImplementation } from '../functions/jobs/types';
import type { ExecutionOutcome } from '../local/runtime';
import { DEFAULT_POLICY_DIR, opsrailHome, startLocalStack } from '../local/stack';
import { cliRedactor, redactProcessOutput } from './redacted-output';
import { ApprovalPortInUseError, HomeInUseError } from '../local/errors';
import { UsageError } from './errors';
import { printJobsLint } from './jobs-lint';
import packageJson from '../package.json' with { type: 'json' };

/** What the CLI is doing while the local stack starts: one line on stderr (stdout stays the answer). */
const progressLine = (line: string) => console.error(line);

/** Exit codes, as the README fixes them. */
export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3, degraded: 4 } as const;

const USAGE = `usage: opsrail <command> [options]   (opsrail <command> --help; opsrail --version)

commands:
  jobs [--json] [--stage S]                       every job: version, class, enabled, dangerous, schedule, next 3 runs
  jobs --show <jobId> [--json] [--stage S]        one job's resolved configuration (catalog entry, the stage's
                                                  switches and settings, the policy snapshot), one line per setting
  jobs --lint [--json] [--stage S]                schedule warnings: DST-skipped or repeated times, rate() in a DST zone, …
  run <jobId> [--at <ISO time>] [--as NAME] [--param k=v …] [--json] [--resume]
                                                  one run on the local stack (scheduled time = --at, default now);
                                                  a dangerous job prints its approval link and waits for a decision;
                                                  --resume takes over a run of that window left open by a dead process
  backfill <jobId> --from T --to T [--stage local] [--as NAME]
                                                  the job's windows with ticks from T to T, oldest first, at most
                                                  scheduler.backfillMaxWindows (local stack only); ran ones are duplicates
  approvals [--json] [--stage S]                  pending approval requests, with their links
  approve <approvalId> --as NAME --challenge TEXT [--reason TEXT]
  reject <approvalId> --as NAME [--reason TEXT]
  approve|reject <approvalId> --stage S …         on a deployed stage: you are your AWS credentials (no --as)
  status [--json] [--utc] [--stage S]             safety mode, kill-switches, quarantined and paused jobs, each job's last and next run
  runs [jobId] [--since <ISO time|30m|24h|7d>] [--status ok|error|skipped|dry_run|running] [--json] [--utc] [--stage S]
                                                  run history, newest first: window, status, quality (and why), duration, attempts, trigger
  show <jobRunId> [--json] [--utc] [--stage S]    one run in plain words: timeline, window, pinned inputs, quality and why,
                                                  outputs, diagnostics, approvals, evidence keys
  trigger <jobId> [--as NAME] [--json] [--stage S]  one run now: locally as opsrail run; on a stage, StartExecution
  pause <jobId> --as NAME --reason TEXT [--utc] [--stage S]   disable the job's schedule (audited; shown by status)
  resume <jobId> --as NAME --reason TEXT [--utc] [--stage S]  enable it again (not while a kill-switch is engaged)
  kill engage [jobId] --as NAME --reason TEXT     stop now: refuse new runs, stop running ones, disable schedules
  kill release [jobId] --as NAME --reason TEXT    a dangerous op: refused until approved (approval gate)
  safety SAFE|EMERGENCY_STOP --as NAME --reason TEXT   toward NORMAL is a dangerous op and is refused
  quarantine release <jobId> --as NAME --reason TEXT   a dangerous op: refused until approved
  verify <jobRunId> | verify --all [--job J] [--json]  recompute every hash and the chain; exit 0 only if all verifies (4: nothing to verify)
  verify --freshness [--json] [--stage S]         every enabled job's last success against its dead-man window; exit 1 if any is stale
  support-bundle <jobRunId> --as NAME [--out DIR]  the run's evidence chain and state in one redacted tar.gz
  query "<SQL>" | query --named <name> [--days N] [--json]
                                                  the Athena tables and named queries (each over a window
                                                  of days, its default or N), locally with DuckDB
  start                                           the local stack and its scheduler, until Ctrl-C (npm start)
  new-job <jobId> [--kind module|lambda|http]     a job module (or stand-in) with its test, and a disabled catalog entry

--stage local (default) works on the embedded local stack; --stage dev|stage|prod on the deployed stage,
with your AWS credentials (status, runs, show, trigger, pause, resume, kill, safety, approvals, approve, reject).
times are shown in each job's own time zone with its offset (as jobs shows them), or in UTC with --utc;
times of the whole stage (safety mode, global kill-switch, datasets) in UTC; --json carries UTC instants.
exit codes: 0 ok, 1 run failed, 2 bad usage or input, 3 refused, skipped or duplicate, 4 quality DEGRADED or UNKNOWN
environment: OPSRAIL_HOME (default .opsrail/), OPSRAIL_POLICY_DIR (default policy/ of the package),
             OPSRAIL_JOBS_DIR (default jobs/ beside the policy directory)`;

/**
 * The stage's policy; `runsJobs` (with the job modules) when this command runs jobs here: then each
 * catalog job needs code.
 */
function policyFor(
  stage: string | undefined,
  options: { runsJobs?: readonly JobImplementation[] } = {},
): ResolvedPolicy {
  const parsedStage = Stage.safeParse(stage ?? process.env.OPSRAIL_STAGE ?? 'local');
  if (!parsedStage.success)
    throw new UsageError(`--stage must be one of ${Stage.options.join(', ')}`);
  return loadPolicy(
    directoryPolicySource(process.env.OPSRAIL_POLICY_DIR ?? DEFAULT_POLICY_DIR),
    parsedStage.data,
    options.runsJobs ? jobRegistry(options.runsJobs) : undefined,
  );
}

/**
 * The job modules the catalog names, loaded in this process from the jobs directory
 * (docs/writing-a-job.md).
 */
function userJobs(): Promise<JobImplementation[]> {
  return loadJobModules(process.env.OPSRAIL_POLICY_DIR ?? DEFAULT_POLICY_DIR);
}

function describeJob(job: JobDefinition, now: Date) {
  return {
    jobId: job.jobId,
    jobVersion: job.jobVersion,
    jobClass: job.jobClass,
    enabled: job.enabled,
    dangerous: job.dangerous.value ? job.dangerous.opKind : false,
    mode: job.mode,
    schedule: job.schedule.expression,
    timezone: job.schedule.timezone,
    nextRuns: nextRunTimes(job.schedule, now, 3).map((t) => formatInZone(t, job.schedule.timezone)),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function jobsCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: 'boolean', default: false },
      lint: { type: 'boolean', default: false },
      show: { type: 'string' },
      stage: { type: 'string' },
    },
    strict: true,
  });
  // The catalog as the runtimes see it: an enabled job with no code is an error here too.
  const policy = policyFor(values.stage, { runsJobs: await userJobs() });
  if (values.show !== undefined) {
    const config = resolvedJobConfig(policy, values.show);
    if (!config)
      throw new UsageError(
        `--show ${values.show}: no such job in stage ${policy.stage} (jobs: ${policy.jobs.map((j) => j.jobId).join(', ')})`,
      );
    console.log(values.json ? configJson(config) : configLines(config).join('\n'));
    return EXIT.ok;
  }
  if (values.lint) {
    printJobsLint(policy, systemClock.now(), values.json);
    return EXIT.ok;
  }
  const jobs = policy.jobs.map((job) => describeJob(job, systemClock.now()));
  if (values.json) {
    console.log(JSON.stringify({ stage: policy.stage, jobs }, null, 2));
    return EXIT.ok;
  }
  console.log(`stage ${policy.stage} (policy ${policy.snapshot.sha256.slice(0, 12)})`);
  console.log(
    table([
      ['JOB', 'VERSION', 'CLASS', 'ENABLED', 'DANGEROUS', 'SCHEDULE', 'TIME ZONE', 'NEXT RUNS'],
      ...jobs.map((j) => [
        j.jobId,
        j.jobVersion,
        j.jobClass,
        String(j.enabled),
        String(j.dangerous),
        j.schedule,
        j.timezone,
        j.nextRuns.join(', '),
      ]),
    ]),
  );
  return EXIT.ok;
}

export function exitCodeOf(outcome: ExecutionOutcome): number {
  switch (outcome.kind) {
    case 'duplicate_suppressed':
    case 'tick_skipped':
    case 'refused':
    case 'stopped':
      return EXIT.refused;
    case 'failed':
      return EXIT.failed;
    case 'completed':
      // UNKNOWN is never reported as success.
      return outcome.summary.quality === 'OK' ? EXIT.ok : EXIT.degraded;
  }
}

/**
 * What `opsrail run` prints under the status: the warnings and errors of the sealed outcome and,
 * for a run recorded as succeeded after its bookkeeping failed, that failure (a Finalize that
 * sealed the outcome before it failed left no word of it there; the execution's caught error has
 * it).
 */
export function diagnosticsToShow(
  outcome: ExecutionOutcome,
  sealed: Diagnostic[],
  recovered: (caught: { Error: string; Cause?: string }) => Diagnostic,
): Diagnostic[] {
  const shown = sealed.filter((d) => d.level !== 'info');
  if (outcome.kind !== 'completed' || !outcome.recoveredFrom) return shown;
  const diagnostic = recovered(outcome.recoveredFrom);
  return shown.some((d) => d.code === diagnostic.code) ? shown : [...shown, diagnostic];
}

async function runCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      at: { type: 'string' },
      json: { type: 'boolean', default: false },
      as: { type: 'string' },
      param: { type: 'string', multiple: true },
      'no-wait': { type: 'boolean', default: false },
      resume: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new UsageError('run needs exactly one <jobId>');
  const params: Record<string, string> = {};
  for (const pair of values.param ?? []) {
    const [key, ...rest] = pair.split('=');
    if (!key || rest.length === 0)
      throw new UsageError(`--param must be key=value (got '${pair}')`);
    params[key] = rest.join('=');
  }
  const jobId = positionals[0] as string;
  const at = values.at ?? systemClock.now().toISOString();
  if (
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(at) ||
    Number.isNaN(Date.parse(at))
  ) {
    throw new UsageError(
      `--at must be an ISO 8601 time with a zone, such as 2026-01-01T00:00:00Z (got '${at}')`,
    );
  }
  const modules = await userJobs();
  const policy = policyFor('local', { runsJobs: modules });
  if (!findJob(policy, jobId))
    throw new UsageError(
      `unknown job '${jobId}'; known: ${policy.jobs.map((j) => j.jobId).join(', ')}`,
    );
  if (values['no-wait'])
    return runInBackground(
      args.filter((a) => a !== '--no-wait'),
      jobId,
    );

  const stack = await startLocalStack({ onProgress: progressLine });
  let server: Awaited<ReturnType<typeof import('../local/approval-server').startApprovalServer>> =
    null;
  try {
    const { LocalRuntime } = await import('../local/runtime');
    const { approvalGate } = await import('../functions/adapters/dependencies');
    const { startApprovalServer } = await import('../local/approval-server');
    const runtime = new LocalRuntime(stack.env, modules, {
      takeOverDeadHolders: values.resume,
      onApprovalRequested: ({ approvalId, link }) =>
        console.error(
          `waiting for approval ${approvalId}:\n  ${link}\n  a second person decides: opsrail approve ${approvalId} --as <name> --challenge <text shown on the page>  (or opsrail reject …)`,
        ),
    });
    // While this run may wait at the gate, this process serves its approval link on 127.0.0.1.
    const request = {
      jobId,
      scheduledTime: new Date(at).toISOString(),
      trigger: 'manual' as const,
      requestedBy: values.as ?? userInfo().username,
      params,
    };
    const { openRunCheck } = await import('./resume');
    const blocked = await openRunCheck(runtime.deps, request, values.resume);
    if (blocked) {
      console.error(`opsrail: ${blocked.message}`);
      return blocked.exitCode;
    }
    if (findJob(policy, jobId)?.dangerous.value) {
      server = await startApprovalServer(await approvalGate(runtime.deps)()).catch(
        (error: unknown) => {
          if (!(error instanceof ApprovalPortInUseError)) throw error;
          // Usually npm start (or another waiting run) serves the page there already, and the link
          // works through it.
          console.error(
            `note: ${error.address} is already taken; the approval link works only if opsrail (npm start) serves it`,
          );
          return null;
        },
      );
    }
    const outcome = await runtime.run(request);
    const code = exitCodeOf(outcome);
    const summary = 'summary' in outcome ? outcome.summary : null;
    // What the run's outcome says besides its status (e.g. bookkeeping_failed: recorded as
    // succeeded).
    const sealed = summary
      ? (await runtime.deps.state.getRun(outcome.jobRunId))?.sealed
      : undefined;
    const { bookkeepingFailed } = await import('../functions/core/run/record-failure');
    const diagnostics = diagnosticsToShow(outcome, sealed?.diagnostics ?? [], (caught) =>
      bookkeepingFailed(runtime.deps.redactor, caught),
    );
    const report = {
      jobRunId: outcome.jobRunId,
      outcome: outcome.kind,
      status:
        summary?.status ??
        (outcome.kind === 'duplicate_suppressed' || outcome.kind === 'tick_skipped'
          ? outcome.kind
          : 'error'),
      quality: summary?.quality ?? null,
      evidencePrefix: summary?.evidencePrefix
        ? `s3://${stack.env.EVIDENCE_BUCKET_NAME}/${summary.evidencePrefix}`
        : null,
      manifestKey: summary?.manifestKey ?? null,
      error:
        summary?.error ??
        (outcome.kind === 'failed'
          ? { kind: 'internal', name: 'ExecutionFailed', message: outcome.error }
          : null),
      diagnostics,
      executionId: outcome.executionId,
      exitCode: code,
    };
    const { qualityReason } = await import('../functions/core/run-history');
    // DEGRADED or UNKNOWN (exit 4) always says why: the error, the warnings, or that the job gave none.
    const why =
      outcome.kind === 'completed'
        ? qualityReason(report.quality, sealed?.diagnostics ?? [], report.error)
        : null;
    if (values.json) console.log(JSON.stringify({ ...report, qualityReason: why }, null, 2));
    else {
      console.log(`jobRunId: ${report.jobRunId}`);
      console.log(
        `status:   ${report.status}${report.quality ? ` (quality ${report.quality})` : ''}`,
      );
      if (why && !report.error) console.log(`why:      quality ${report.quality}: ${why}`);
      if (report.manifestKey)
        console.log(`evidence: s3://${stack.env.EVIDENCE_BUCKET_NAME}/${report.manifestKey}`);
      if (report.error)
        console.log(
          `${outcome.kind === 'refused' ? 'refused: ' : 'error:   '} ${report.error.kind}: ${report.error.message}`,
        );
      for (const d of outcome.kind === 'completed' ? diagnostics : [])
        if (!why?.includes(`${d.code}: ${d.message}`))
          console.log(`${`${d.level}:`.padEnd(9)} ${d.code}: ${d.message}`);
      if (outcome.kind === 'duplicate_suppressed')
        console.log('this window already ran: duplicate_suppressed recorded, nothing written');
      if (outcome.kind === 'tick_skipped')
        console.log(
          `run ${outcome.openRunId} of this job is open: not run (overlap, docs/scheduling.md)`,
        );
    }
    return code;
  } finally {
    await server?.close();
    await stack.stop();
  }
}

/**
 * `run --no-wait`: the run goes on in a background process of its own (it waits at the gate and
 * serves the approval page there); this one returns once the approval link exists, with exit 3
 * (pending).
 */
async function runInBackground(args: string[], jobId: string): Promise<number> {
  const { spawn } = await import('node:child_process');
  const { mkdirSync, openSync, readFileSync } = await import('node:fs');
  const { join, resolve } = await import('node:path');
  const dir = resolve(process.env.OPSRAIL_HOME ?? '.opsrail', 'runs');
  mkdirSync(dir, { recursive: true });
  const log = join(dir, `${jobId}-${Date.now()}.log`);
  const out = openSync(log, 'a');
  const child = spawn(process.execPath, [process.argv[1] as string, 'run', ...args], {
    detached: true,
    stdio: ['ignore', out, out],
    env: process.env,
  });
  child.unref();
  for (let waited = 0; waited < 120_000; waited += 250) {
    const text = readFileSync(log, 'utf8');
    const link = /waiting for approval ([a-f0-9]{32}):\n {2}(\S+)/.exec(text);
    if (link) {
      console.log(
        `approval ${link[1]} pending: ${link[2]}\nthe run waits in the background (pid ${child.pid}); its output: ${log}`,
      );
      return EXIT.refused;
    }
    if (child.exitCode !== null) {
      console.log(text.trim());
      return child.exitCode;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log(`no approval request after 2 minutes; the run's output: ${log}`);
  return EXIT.failed;
}

type Controls = ControlDependencies & {
  executions: ExecutionController;
  schedules: ScheduleSwitch;
  starter?: import('./schedule-controls').ExecutionStarter;
  note?: string;
};

/**
 * Runs `fn` against the stage's controls: the embedded stack for local, the deployed stage
 * otherwise.
 */
async function withControls<T>(
  stage: string | undefined,
  fn: (deps: Controls) => Promise<T>,
): Promise<T> {
  const policy = policyFor(stage);
  if (policy.stage !== 'local') {
    const { awsControlDependencies, defaultAwsClients } = await import('./aws');
    return fn(await awsControlDependencies(policy, defaultAwsClients()));
  }
  return withLocalDependencies((deps, stack) =>
    fn({
      ...deps,
      // The process running the executions (npm start) polls the kill-switches and aborts them
      // itself.
      executions: { stopRunning: async () => [] },
      // The local scheduler reads kill-switches and pauses from the state table itself.
      schedules: { disable: async () => [], enable: async () => [] },
      note: stack.owner
        ? undefined
        : 'running executions of the local stack (npm start) stop within a second',
    }),
  );
}

/**
 * The embedded stack (or the one `npm start` runs) and the handlers' dependencies on it, for one
 * command.
 */
async function withLocalDependencies<T>(
  fn: (
    deps: import('../functions/adapters/dependencies').Dependencies,
    stack: Awaited<ReturnType<typeof startLocalStack>>,
  ) => Promise<T>,
): Promise<T> {
  const stack = await startLocalStack({ onProgress: progressLine });
  try {
    const { buildDependencies } = await import('../functions/adapters/dependencies');
    // These commands run no job: the stage may enable jobs this process has no code for.
    return await fn(buildDependencies(stack.env, [], { runsJobs: false }), stack);
  } finally {
    await stack.stop();
  }
}

function actorOptions(args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    options: {
      as: { type: 'string' },
      reason: { type: 'string' },
      stage: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (!values.as)
    throw new UsageError('--as NAME is required: every control change is audited with who made it');
  if (!values.reason)
    throw new UsageError('--reason TEXT is required: every control change is audited with why');
  return {
    positionals,
    actor: { by: values.as, reason: values.reason },
    stage: values.stage,
    json: values.json,
  };
}

async function killCommand(args: string[]): Promise<number> {
  const { positionals, actor, stage, json } = actorOptions(args);
  const [action, jobId, ...rest] = positionals;
  if (rest.length || (action !== 'engage' && action !== 'release'))
    throw new UsageError('kill engage|release [jobId]');
  // An unknown job fails here, before the local stack starts (exit 2).
  if (jobId !== undefined && !findJob(policyFor(stage), jobId))
    throw new UsageError(
      `unknown job '${jobId}'; known: ${policyFor(stage)
        .jobs.map((j) => j.jobId)
        .join(', ')}`,
    );
  return withControls(stage, async (deps) => {
    if (action === 'release') return releaseKillSwitch(deps, jobId ?? null, actor);
    const result = await engageKillSwitch(deps, jobId ?? null, actor);
    if (json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(
        `kill-switch engaged: ${jobId ?? 'global'} by ${actor.by} at ${result.killSwitch.changedAt} (${actor.reason})`,
      );
      console.log(
        `stopped executions: ${result.stoppedExecutions.length ? result.stoppedExecutions.join(', ') : 'none here'}${deps.note ? ` (${deps.note})` : ''}`,
      );
      console.log(
        `disabled schedules: ${result.disabledSchedules.length ? result.disabledSchedules.join(', ') : 'none'}`,
      );
    }
    return EXIT.ok;
  });
}

async function safetyCommand(args: string[]): Promise<number> {
  const { positionals, actor, stage } = actorOptions(args);
  if (positionals.length !== 1) throw new UsageError('safety SAFE|EMERGENCY_STOP');
  // Checked before the local stack starts (setSafetyMode checks it again, for every caller).
  if (!SafetyMode.safeParse(positionals[0]).success)
    throw new UsageError(`safety mode must be one of ${SafetyMode.options.join(', ')}`);
  return withControls(stage, async (deps) => {
    const state = await setSafetyMode(deps, positionals[0] as string, actor);
    console.log(
      `safety mode ${state.mode} (set by ${state.changedBy} at ${state.changedAt}: ${state.reason})`,
    );
    return EXIT.ok;
  });
}

async function quarantineCommand(args: string[]): Promise<number> {
  const { positionals, actor, stage } = actorOptions(args);
  if (positionals[0] !== 'release' || positionals.length !== 2)
    throw new UsageError('quarantine release <jobId>');
  return withControls(stage, (deps) => releaseQuarantine(deps, positionals[1] as string, actor));
}

function describeOpenRun(r: StatusReport['openRuns'][number] & { holder?: string }): string {
  const orphaned =
    r.holder === 'gone'
      ? 'ORPHANED: its holder process is gone; the scheduler takes it over, or opsrail run --resume'
      : null;
  return `${r.jobRunId} (${orphaned ?? `lease until ${r.leaseExpiresAt}`})`;
}

function printStatus(report: StatusReport, zoneOf: (jobId: string) => string): void {
  const at = (jobId: string, iso: string | null) =>
    iso ? formatInZone(new Date(iso), zoneOf(jobId)) : '-';
  const s = report.safety;
  console.log(
    `stage ${report.stage}   safety mode ${s.mode}${s.changedBy ? ` (by ${s.changedBy} at ${s.changedAt}: ${s.reason})` : ''}`,
  );
  console.log(
    `kill-switches: ${report.killSwitches.length ? report.killSwitches.map((k) => `${k.jobId ?? 'GLOBAL'} (by ${k.changedBy} at ${k.jobId ? at(k.jobId, k.changedAt) : k.changedAt}: ${k.reason})`).join('; ') : 'none engaged'}`,
  );
  console.log(
    `quarantined:   ${report.quarantined.length ? report.quarantined.map((q) => `${q.jobId} since ${at(q.jobId, q.since)} (${q.reason})`).join('; ') : 'none'}`,
  );
  const datasets = Object.values(report.datasets);
  if (datasets.length)
    console.log(
      `datasets:      ${datasets.map((d) => `${d.datasetId} ${d.status} (${d.recordedAt})`).join('; ')}`,
    );
  const paused = report.jobs.filter((j) => j.paused);
  if (paused.length)
    console.log(
      `paused:        ${paused.map((j) => `${j.jobId} (by ${j.paused?.pausedBy} at ${at(j.jobId, j.paused?.pausedAt ?? null)}: ${j.paused?.reason})`).join('; ')}`,
    );
  if (report.openRuns.length)
    console.log(`open runs:     ${report.openRuns.map(describeOpenRun).join('; ')}`);
  console.log(
    table([
      [
        'JOB',
        'ENABLED',
        'STATE',
        'LAST RUN',
        'LAST STATUS',
        'QUALITY',
        'CONSEC. FAILURES',
        'RUNS',
        'LAST FAILURE',
        'FRESH',
        'NEXT RUN',
      ],
      ...report.jobs.map((j) => [
        j.jobId,
        String(j.enabled),
        j.quarantined ? 'QUARANTINED' : j.killed ? 'KILLED' : j.paused ? 'PAUSED' : 'active',
        at(j.jobId, j.lastRunAt),
        j.lastStatus ?? '-',
        j.lastQuality ?? '-',
        String(j.consecutiveFailures),
        String(j.runCount),
        j.heartbeat.lastFailureAt
          ? `${at(j.jobId, j.heartbeat.lastFailureAt)} (${j.heartbeat.lastFailureKind})`
          : '-',
        j.heartbeat.maxAgeSeconds === null || !j.enabled
          ? '-'
          : j.heartbeat.stale
            ? 'STALE'
            : 'yes',
        at(j.jobId, j.nextRun),
      ]),
    ]),
  );
  for (const j of report.jobs) {
    // A disabled monitor that never ran has nothing to show (--json still lists its endpoints).
    if (!j.monitors || (!j.enabled && !j.monitors.jobRunId)) continue;
    console.log(
      `latency monitors of ${j.jobId} (${j.monitors.jobRunId ? `state of run ${j.monitors.jobRunId}` : 'no run has left a state yet'}):`,
    );
    console.log(
      table([
        ['  ENDPOINT', 'LAST SUCCESS', 'LAST BREACH', 'LEVEL', 'STREAK', 'PENDING ALERTS'],
        ...j.monitors.endpoints.map((m) => [
          `  ${m.endpoint}`,
          m.lastSuccessAt ? at(j.jobId, m.lastSuccessAt) : 'never',
          m.lastBreachAt ? at(j.jobId, m.lastBreachAt) : 'never',
          m.level ?? '-',
          String(m.streak),
          String(m.pendingAlerts),
        ]),
      ]),
    );
  }
  const alerts = report.jobs.flatMap((j) =>
    j.heartbeat.pendingAlerts.map((a) => `${j.jobId}: ${a}`),
  );
  if (alerts.length) console.log(`pending alerts:\n  ${alerts.join('\n  ')}`);
}

async function statusCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: 'boolean', default: false },
      utc: { type: 'boolean', default: false },
      stage: { type: 'string' },
    },
    strict: true,
  });
  return withControls(values.stage, async (deps) => {
    const { withHolders } = await import('./resume');
    const { zoneOf } = await import('./runs');
    const report = withHolders(await statusReport(deps), deps.policy.stage === 'local');
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else printStatus(report, zoneOf(deps.policy, values.utc));
    return EXIT.ok;
  });
}

async function startCommand(args: string[]): Promise<number> {
  parseArgs({ args, options: {}, strict: true });
  // An invalid policy fails here, before any process is started (exit 2). A home held by a live npm
  // start is refused first (its approval port is taken too, by that owner).
  const { assertHomeFree } = await import('../local/home-lock');
  assertHomeFree(opsrailHome());
  const { assertApprovalPortFree } = await import('../local/approval-server');
  // A taken approval port fails at once too, naming it, before anything is started.
  await assertApprovalPortFree(policyFor('local').settings.approvals.linkBaseUrl);
  const stack = await startLocalStack({ attach: false, command: 'start' });
  try {
    return await runLocalScheduler(stack);
  } finally {
    await stack.stop();
  }
}

/**
 * Under `npm start` the parent is npm (the script `exec`s node, so npm's SIGINT/SIGTERM reach us).
 * If npm itself dies (kill -9), we are re-parented: stop as if told to, instead of running on
 * unseen.
 */
function watchNpmParent(stop: () => void): NodeJS.Timeout | undefined {
  if (!process.env.npm_lifecycle_event) return undefined;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    stop();
  }, 1000);
  timer.unref();
  return timer;
}

async function runLocalScheduler(
  stack: Awaited<ReturnType<typeof startLocalStack>>,
): Promise<number> {
  const { LocalRuntime } = await import('../local/runtime');
  const { LocalScheduler } = await import('../local/scheduler');
  const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  const { isLocalHolderAlive } = await import('../local/holders');
  const runtime = new LocalRuntime(stack.env, await userJobs(), {
    takeOverDeadHolders: true,
    onApprovalRequested: ({ approvalId, link }) => log(`approval ${approvalId} waiting: ${link}`),
  });
  const { approvalGate } = await import('../functions/adapters/dependencies');
  const { startApprovalServer } = await import('../local/approval-server');
  // A taken approval port is a startup error (links would point at whatever holds it); the caller
  // stops the stack.
  const approvalServer = await startApprovalServer(await approvalGate(runtime.deps)());
  const scheduler = new LocalScheduler(
    runtime,
    runtime.deps.policy,
    runtime.deps.state,
    systemClock,
    {
      onResumed: (d, why) => log(`resume   ${d.jobId} tick ${d.scheduledTime}: left open, ${why}`),
      onDispatch: (d) => log(`dispatch ${d.jobId} tick ${d.scheduledTime}`),
      onOutcome: (_d, o) => {
        const s = 'summary' in o ? o.summary : null;
        log(
          `${o.kind.padEnd(9)} ${o.jobRunId}${s ? ` status=${s.status} quality=${s.quality}${s.error ? ` ${s.error.kind}: ${s.error.message}` : ''} evidence=${s.evidencePrefix}` : o.kind === 'failed' ? ` ${o.error}` : ''}`,
        );
      },
      onSkipped: (jobId, tick, why) => log(`skip     ${jobId} tick ${tick}: ${why}`),
      onMissed: (jobId, from, to, count) =>
        log(
          `missed   ${jobId}: ${count} tick(s) after ${from} and up to ${to} are past the catch-up window and were not run`,
        ),
      onError: (e) => log(`error    ${(e as Error).message}`),
    },
    { isHolderAlive: isLocalHolderAlive },
  );
  try {
    console.log(`opsrail local stack (home ${stack.home})`);
    console.log(
      `  DynamoDB Local ${stack.env.AWS_ENDPOINT_URL_DYNAMODB}  tables ${stack.env.STATE_TABLE_NAME}, ${stack.env.IDEMPOTENCY_TABLE_NAME}`,
    );
    console.log(
      `  S3 endpoint    ${stack.env.AWS_ENDPOINT_URL_S3}  bucket ${stack.env.EVIDENCE_BUCKET_NAME}`,
    );
    if (approvalServer)
      console.log(
        `  approvals      ${approvalServer.url} (links in e-mail/Slack point here; GET shows, POST decides)`,
      );
    const enabled = scheduler.enabledJobs();
    console.log(`scheduling ${enabled.length} enabled job(s); Ctrl-C (SIGINT) or SIGTERM stops`);
    for (const job of enabled)
      console.log(
        `  ${job.jobId} ${job.schedule.expression} ${job.schedule.timezone} next ${nextRunTimes(job.schedule, systemClock.now(), 1).map((t) => formatInZone(t, job.schedule.timezone))[0] ?? 'never'}`,
      );
    const stop = new AbortController();
    // SIGINT (Ctrl-C) and SIGTERM (kill, systemd, npm passing it on) stop alike; a repeat is not
    // fatal.
    const onSignal = (signal: NodeJS.Signals) => {
      if (stop.signal.aborted)
        return log(`${signal}: already stopping, waiting for runs in flight`);
      log(`${signal}: stopping, waiting for runs in flight`);
      stop.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const parentWatch = watchNpmParent(() => onSignal('SIGHUP'));
    try {
      // Runs left open by an earlier stop are resumed by the scheduler's first pass (each once).
      await scheduler.loop(stop.signal);
    } finally {
      clearInterval(parentWatch);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    log('stopped');
    return EXIT.ok;
  } finally {
    await approvalServer?.close();
  }
}

async function verifyCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      all: { type: 'boolean', default: false },
      freshness: { type: 'boolean', default: false },
      job: { type: 'string' },
      json: { type: 'boolean', default: false },
      stage: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.freshness) {
    if (values.all || values.job || positionals.length > 0)
      throw new UsageError('verify --freshness takes no jobRunId, --all or --job');
    return verifyFreshness(values.stage, values.json);
  }
  if (values.all === (positionals.length === 1) || positionals.length > 1)
    throw new UsageError('verify <jobRunId>, verify --all [--job <jobId>], or verify --freshness');
  if (values.job && !values.all) throw new UsageError('--job goes with --all');
  const policy = policyFor(values.stage);
  if (values.job && !findJob(policy, values.job))
    throw new UsageError(
      `unknown job '${values.job}'; known: ${policy.jobs.map((j) => j.jobId).join(', ')}`,
    );
  const { verifyEvidence } = await import('../functions/core/verify');
  const { parseJobRunId } = await import('../functions/core/ids');
  if (positionals[0] && !parseJobRunId(positionals[0]))
    throw new UsageError(
      `'${positionals[0]}' is not a jobRunId (<jobId>/<window start, UTC>, e.g. evidence_integrity_check/2026-01-01T00:00:00Z)`,
    );
  return withControls(values.stage, async (deps) => {
    const report = await verifyEvidence(
      deps,
      positionals[0] ? { jobRunId: positionals[0] } : values.job ? { jobId: values.job } : {},
    );
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else {
      for (const p of report.problems) console.log(`${p.kind.padEnd(18)} ${p.key}: ${p.detail}`);
      const verdict = !report.ok
        ? 'FAILED'
        : report.manifests + report.controlEvents === 0
          ? 'UNKNOWN (nothing to verify)'
          : 'verified';
      console.log(
        `${verdict}: ${report.manifests} manifest(s), ${report.objects} object(s), ${report.problems.length} problem(s); ${report.controlEvents} control event(s)${report.exports ? `; ${report.exports} export(s)` : ''}`,
      );
    }
    // Nothing to check is not a pass (as with the integrity check): exit 4, like quality UNKNOWN.
    return !report.ok
      ? EXIT.failed
      : report.manifests + report.controlEvents === 0
        ? EXIT.degraded
        : EXIT.ok;
  });
}

/**
 * Every enabled job's last success against the age its dead-man alarm allows
 * (docs/observability.md#heartbeats-and-freshness): exit 0 when all are fresh, 1 when any is stale.
 */
function verifyFreshness(stage: string | undefined, json: boolean): Promise<number> {
  return withControls(stage, async (deps) => {
    const report = await statusReport(deps);
    const watched = report.jobs.filter((j) => j.enabled && j.heartbeat.maxAgeSeconds !== null);
    const stale = watched.filter((j) => j.heartbeat.stale);
    if (json)
      console.log(
        JSON.stringify(
          {
            stage: report.stage,
            checkedAt: systemClock.now().toISOString(),
            jobs: watched.map((j) => ({ jobId: j.jobId, ...j.heartbeat })),
            stale: stale.map((j) => j.jobId),
          },
          null,
          2,
        ),
      );
    else {
      for (const j of watched)
        console.log(
          `${j.heartbeat.stale ? 'STALE' : 'fresh'}  ${j.jobId}  last success ${j.heartbeat.lastSuccessAt ?? 'never'}, allowed age ${Math.round(j.heartbeat.maxAgeSeconds! / 60)} min`,
        );
      console.log(
        stale.length
          ? `${stale.length} of ${watched.length} enabled job(s) stale: ${stale.map((j) => j.jobId).join(', ')}`
          : `all ${watched.length} enabled job(s) fresh`,
      );
    }
    return stale.length ? EXIT.failed : EXIT.ok;
  });
}

async function supportBundleCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { as: { type: 'string' }, out: { type: 'string' }, stage: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1)
    throw new UsageError('support-bundle <jobRunId> --as NAME [--out DIR]');
  if (!values.as)
    throw new UsageError(
      '--as NAME is required: creating a support bundle is audited with who did it',
    );
  const { parseJobRunId } = await import('../functions/core/ids');
  if (!parseJobRunId(positionals[0] as string))
    throw new UsageError(
      `'${positionals[0]}' is not a jobRunId (<jobId>/<window start, UTC>, e.g. evidence_integrity_check/2026-01-01T00:00:00Z)`,
    );
  const { createSupportBundle } = await import('../functions/core/support-bundle');
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const { join, resolve } = await import('node:path');
  return withControls(values.stage, async (deps) => {
    const bundle = await createSupportBundle(deps, positionals[0] as string, values.as as string);
    const dir = resolve(
      values.out ?? join(process.env.OPSRAIL_HOME ?? '.opsrail', 'support-bundles'),
    );
    mkdirSync(dir, { recursive: true });
    const path = join(dir, bundle.fileName);
    writeFileSync(path, bundle.archive);
    console.log(
      `${path} (${bundle.manifest.files.length} files, redacted; support_bundle.created audited)`,
    );
    return EXIT.ok;
  });
}

async function queryCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      named: { type: 'string' },
      days: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (!!values.named === (positionals.length === 1) || positionals.length > 1)
    throw new UsageError('query "<SQL>", or query --named <name> [--days N]');
  const days = values.days === undefined ? undefined : Number(values.days);
  if (days !== undefined && (!values.named || !/^\d+$/.test(values.days ?? '') || days < 1))
    throw new UsageError('--days N (a whole number of days, 1 or more) goes with --named');
  const { loadNamedQueries } = await import('../contracts/named-queries');
  if (values.named && !loadNamedQueries().some((q) => q.name === values.named)) {
    throw new UsageError(
      `no named query '${values.named}'; known: ${loadNamedQueries()
        .map((q) => q.name)
        .join(', ')}`,
    );
  }
  const { checkSqlSyntax, mirrorEvidence, queryEvidence, runNamedQuery } = await import(
    '../local/query'
  );
  if (positionals[0] !== undefined) await checkSqlSyntax(positionals[0]);
  return withControls('local', async (deps) => {
    const root = await mirrorEvidence(deps.evidence, deps.policy.stage);
    const rows = values.named
      ? // Days and weeks (job_kpis) in the stage's time zone, as Athena's named query has them.
        await runNamedQuery(root, values.named, days, deps.policy.settings.timezone)
      : await queryEvidence(root, positionals[0] as string);
    if (values.json) console.log(JSON.stringify(rows, null, 2));
    else if (rows.length === 0) console.log('(no rows)');
    else {
      const columns = Object.keys(rows[0]!);
      console.log(
        table([
          columns,
          ...rows.map((r) =>
            columns.map((c) =>
              r[c] === null
                ? 'NULL'
                : typeof r[c] === 'object'
                  ? JSON.stringify(r[c])
                  : String(r[c]),
            ),
          ),
        ]),
      );
    }
    return EXIT.ok;
  });
}

async function approvalsCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { json: { type: 'boolean', default: false }, stage: { type: 'string' } },
    strict: true,
  });
  if (values.stage !== undefined && policyFor(values.stage).stage !== 'local') {
    const { listStageApprovals, defaultStageApprovalClients } = await import('./stage-approvals');
    return printApprovals(
      await listStageApprovals(policyFor(values.stage).stage, defaultStageApprovalClients()),
      values.json,
    );
  }
  const { approvalLink } = await import('../functions/core/approvals');
  return withLocalGate(async (gate) => {
    const pending = await gate.approvals.listPendingApprovals();
    return printApprovals(
      pending.map((r) => ({ ...r, link: approvalLink(gate.linkBaseUrl, gate.signingKey, r) })),
      values.json,
    );
  });
}

function printApprovals(
  rows: (import('../contracts').ApprovalRecord & { link: string })[],
  json: boolean,
): number {
  if (json) console.log(JSON.stringify(rows, null, 2));
  else if (rows.length === 0) console.log('no pending approvals');
  else
    for (const r of rows)
      console.log(
        `${r.approvalId}  ${r.opKind} of ${r.jobId} (${r.jobRunId}) requested by ${r.requestedBy}, approvers ${r.allowedApprovers.join(', ')}, expires ${r.expiresAt}\n  ${r.plan.summary}\n  ${r.link}`,
      );
  return EXIT.ok;
}

/**
 * The local approval gate: the same endpoint logic the Lambda runs, with the CLI's --as as the
 * authenticated local user.
 */
async function withLocalGate<T>(
  fn: (gate: import('../functions/core/approvals').ApprovalDependencies) => Promise<T>,
): Promise<T> {
  const { approvalGate } = await import('../functions/adapters/dependencies');
  return withLocalDependencies(async (deps) => fn(await approvalGate(deps)()));
}

async function decideCommand(decision: 'approve' | 'reject', args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      as: { type: 'string' },
      challenge: { type: 'string' },
      reason: { type: 'string' },
      stage: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1)
    throw new UsageError(
      `${decision} <approvalId> --as NAME${decision === 'approve' ? ' --challenge TEXT' : ''}`,
    );
  if (decision === 'approve' && !values.challenge)
    throw new UsageError(
      '--challenge TEXT is required: type the challenge shown on the approval page',
    );
  const exitFor = (status: number) =>
    status === 200 ? EXIT.ok : status === 400 || status === 401 ? EXIT.usage : EXIT.refused;
  if (values.stage !== undefined && policyFor(values.stage).stage !== 'local') {
    // On a stage the approver is whoever the AWS credentials are: a name typed here would prove
    // nothing.
    if (values.as !== undefined)
      throw new UsageError(
        '--as is not used with --stage: the approver is the IAM identity of your AWS credentials',
      );
    const { decideOnStage, defaultStageApprovalClients } = await import('./stage-approvals');
    const outcome = await decideOnStage(
      policyFor(values.stage).stage,
      defaultStageApprovalClients(),
      {
        approvalId: positionals[0] as string,
        decision,
        challenge: values.challenge,
        reason: values.reason,
      },
    );
    console.log(`${outcome.status} ${outcome.title}`);
    return outcome.status === 404 ? EXIT.usage : exitFor(outcome.status);
  }
  if (!values.as) throw new UsageError('--as NAME is required: the approver is named and audited');
  const { decideAsVerified } = await import('../functions/core/approval-sources');
  return withLocalGate(async (gate) => {
    if (!(await gate.approvals.getApproval(positionals[0] as string)))
      throw new UsageError(`no approval request '${positionals[0]}'`);
    const outcome = await decideAsVerified(gate, {
      approvalId: positionals[0] as string,
      identity: values.as as string,
      decision,
      challenge: values.challenge,
      reason: values.reason,
      userAgent: 'opsrail-cli',
      source: 'local',
    });
    console.log(`${outcome.status} ${outcome.title}`);
    return exitFor(outcome.status);
  });
}

async function newJobCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { kind: { type: 'string', default: 'module' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new UsageError('new-job needs one <jobId>');
  const { NEW_JOB_KINDS, newJob } = await import('./new-job');
  const kind = values.kind as (typeof NEW_JOB_KINDS)[number];
  if (!NEW_JOB_KINDS.includes(kind))
    throw new UsageError(`--kind must be one of ${NEW_JOB_KINDS.join(', ')}`);
  console.log(
    newJob(process.env.OPSRAIL_POLICY_DIR ?? DEFAULT_POLICY_DIR, positionals[0] as string, kind)
      .instructions,
  );
  return EXIT.ok;
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  'new-job': newJobCommand,
  approvals: approvalsCommand,
  approve: (args) => decideCommand('approve', args),
  reject: (args) => decideCommand('reject', args),
  query: queryCommand,
  'support-bundle': supportBundleCommand,
  verify: verifyCommand,
  jobs: jobsCommand,
  run: runCommand,
  status: statusCommand,
  kill: killCommand,
  safety: safetyCommand,
  quarantine: quarantineCommand,
  start: startCommand,
  runs: async (args) => (await import('./runs')).runsCommand(args, cliContext),
  show: async (args) => (await import('./runs')).showCommand(args, cliContext),
  trigger: async (args) => (await import('./schedule-controls')).triggerCommand(args, cliContext),
  pause: async (args) => (await import('./schedule-controls')).pauseCommand(args, cliContext),
  resume: async (args) => (await import('./schedule-controls')).resumeCommand(args, cliContext),
  backfill: async (args) => (await import('./backfill')).backfillCommand(args),
};

/** What the commands in their own modules (cli/runs.ts, cli/schedule-controls.ts) get from here. */
const cliContext = { policyFor, withControls, runLocally: runCommand };

/**
 * A command's lines of USAGE (its own, and the indented lines continuing them), and what every
 * command shares (stages, exit codes, environment).
 */
export function usageOf(command: string): string {
  const lines = USAGE.split('\n');
  const start = lines.indexOf('commands:');
  const end = lines.findIndex((l, i) => i > start && l === '');
  const own: string[] = [];
  let inCommand = false;
  for (const line of lines.slice(start + 1, end)) {
    const head = /^ {2}(\S+)/.exec(line)?.[1];
    if (head !== undefined) inCommand = head.split('|').includes(command);
    if (inCommand) own.push(line);
  }
  return [`usage: opsrail ${command} [options]`, '', ...own, '', ...lines.slice(end + 1)].join(
    '\n',
  );
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  // Nothing printed unredacted: names, reasons and errors echo what the user typed.
  redactProcessOutput(cliRedactor(process.env.OPSRAIL_POLICY_DIR ?? DEFAULT_POLICY_DIR));
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      console.log(USAGE);
      return command === undefined ? EXIT.usage : EXIT.ok;
    }
    if (command === '--version' || command === '-V' || command === 'version') {
      console.log(`opsrail ${packageJson.version}`);
      return EXIT.ok;
    }
    const handler = COMMANDS[command];
    if (!handler) throw new UsageError(`unknown command '${command}'`);
    // `opsrail <command> --help`: that command's lines of the usage, not an unknown option.
    if (args.includes('--help') || args.includes('-h')) {
      console.log(usageOf(command));
      return EXIT.ok;
    }
    return await handler(args);
  } catch (error) {
    if (
      error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      console.error(`opsrail: ${(error as Error).message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    if (error instanceof HomeInUseError) {
      console.error(`opsrail: refused: ${error.message}`);
      return EXIT.refused;
    }
    if (error instanceof DangerousOpRequiresApprovalError) {
      console.error(`opsrail: refused: ${error.message}`);
      return EXIT.refused;
    }
    if (error instanceof ValidationError) {
      console.error(`opsrail: invalid input: ${error.message}`);
      return EXIT.usage;
    }
    console.error(
      `opsrail: ${error instanceof OpsrailError ? `${error.name}: ` : ''}${(error as Error).message}`,
    );
    return EXIT.failed;
  }
}
