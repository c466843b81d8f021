import { parseArgs } from 'node:util';
import { Stage, type JobDefinition } from '../contracts';
import { directoryPolicySource } from '../functions/adapters/policy-sources';
import { OpsrailError, ValidationError } from '../functions/core/errors';
import { loadPolicy, findJob, type ResolvedPolicy } from '../functions/core/policy';
import { formatInZone, nextRunTimes } from '../functions/core/schedule';
import { systemClock } from '../functions/core/clock';
import { DEFAULT_POLICY_DIR, opsrailHome, startLocalStack } from '../local/stack';
import type { ExecutionOutcome } from '../local/runtime';

/** Exit codes, as the issue tracker and the README fix them. */
export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3, degraded: 4 } as const;

class UsageError extends Error {
  override name = 'UsageError';
}

const USAGE = `usage: opsrail <command> [options]

commands:
  jobs [--json] [--stage S]                  every job: version, class, enabled, dangerous, schedule, next 3 runs
  run <jobId> [--at <ISO time>] [--json]     one run on the local stack (scheduled time = --at, default now)
  start                                      the local stack and its scheduler, until Ctrl-C (npm start)

exit codes: 0 ok, 1 run failed, 2 bad usage or input, 3 refused or duplicate, 4 quality DEGRADED or UNKNOWN
environment: OPSRAIL_HOME (default .opsrail/), OPSRAIL_POLICY_DIR (default policy/ of the package)`;

function policyFor(stage: string | undefined): ResolvedPolicy {
  const parsedStage = Stage.safeParse(stage ?? process.env.OPSRAIL_STAGE ?? 'local');
  if (!parsedStage.success) throw new UsageError(`--stage must be one of ${Stage.options.join(', ')}`);
  return loadPolicy(directoryPolicySource(process.env.OPSRAIL_POLICY_DIR ?? DEFAULT_POLICY_DIR), parsedStage.data);
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
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

async function jobsCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false }, stage: { type: 'string' } }, strict: true });
  const policy = policyFor(values.stage);
  const jobs = policy.jobs.map((job) => describeJob(job, systemClock.now()));
  if (values.json) {
    console.log(JSON.stringify({ stage: policy.stage, jobs }, null, 2));
    return EXIT.ok;
  }
  console.log(`stage ${policy.stage} (policy ${policy.snapshot.sha256.slice(0, 12)})`);
  console.log(
    table([
      ['JOB', 'VERSION', 'CLASS', 'ENABLED', 'DANGEROUS', 'SCHEDULE', 'TIME ZONE', 'NEXT RUNS'],
      ...jobs.map((j) => [j.jobId, j.jobVersion, j.jobClass, String(j.enabled), String(j.dangerous), j.schedule, j.timezone, j.nextRuns.join(', ')]),
    ]),
  );
  return EXIT.ok;
}

export function exitCodeOf(outcome: ExecutionOutcome): number {
  if (outcome.kind === 'duplicate_suppressed') return EXIT.refused;
  if (outcome.kind === 'failed') return EXIT.failed;
  if (outcome.summary.status === 'skipped') return EXIT.refused;
  // UNKNOWN is never reported as success.
  return outcome.summary.quality === 'OK' ? EXIT.ok : EXIT.degraded;
}

async function runCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { at: { type: 'string' }, json: { type: 'boolean', default: false } }, allowPositionals: true, strict: true });
  if (positionals.length !== 1) throw new UsageError('run needs exactly one <jobId>');
  const jobId = positionals[0] as string;
  const at = values.at ?? systemClock.now().toISOString();
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(at) || Number.isNaN(Date.parse(at))) {
    throw new UsageError(`--at must be an ISO 8601 time with a zone, such as 2026-01-01T00:00:00Z (got '${at}')`);
  }
  const policy = policyFor('local');
  if (!findJob(policy, jobId)) throw new UsageError(`unknown job '${jobId}'; known: ${policy.jobs.map((j) => j.jobId).join(', ')}`);

  const stack = await startLocalStack();
  try {
    const { LocalRuntime } = await import('../local/runtime');
    const runtime = new LocalRuntime(stack.env);
    const outcome = await runtime.run({ jobId, scheduledTime: new Date(at).toISOString(), trigger: 'manual' });
    const code = exitCodeOf(outcome);
    const summary = outcome.kind === 'completed' ? outcome.summary : outcome.kind === 'failed' ? outcome.summary : null;
    const report = {
      jobRunId: outcome.kind === 'completed' ? outcome.summary.jobRunId : outcome.jobRunId,
      outcome: outcome.kind,
      status: summary?.status ?? (outcome.kind === 'duplicate_suppressed' ? 'duplicate_suppressed' : 'error'),
      quality: summary?.quality ?? null,
      evidencePrefix: summary?.evidencePrefix ? `s3://${stack.env.EVIDENCE_BUCKET_NAME}/${summary.evidencePrefix}` : null,
      error: outcome.kind === 'failed' ? (summary?.error ?? { kind: 'internal', name: 'ExecutionFailed', message: outcome.error }) : null,
      executionId: outcome.executionId,
      exitCode: code,
    };
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else {
      console.log(`jobRunId: ${report.jobRunId}`);
      console.log(`status:   ${report.status}${report.quality ? ` (quality ${report.quality})` : ''}`);
      if (report.evidencePrefix) console.log(`evidence: ${report.evidencePrefix}`);
      if (report.error) console.log(`error:    ${report.error.name}: ${report.error.message}`);
      if (outcome.kind === 'duplicate_suppressed') console.log('this tick already ran: duplicate_suppressed recorded, nothing written');
    }
    return code;
  } finally {
    await stack.stop();
  }
}

async function startCommand(args: string[]): Promise<number> {
  parseArgs({ args, options: {}, strict: true });
  const stack = await startLocalStack({ attach: false });
  const { LocalRuntime } = await import('../local/runtime');
  const { LocalScheduler } = await import('../local/scheduler');
  const runtime = new LocalRuntime(stack.env);
  const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  const scheduler = new LocalScheduler(runtime, runtime.deps.policy, runtime.deps.state, systemClock, {
    onDispatch: (d) => log(`dispatch ${d.jobId} tick ${d.scheduledTime}`),
    onOutcome: (d, o) =>
      log(
        o.kind === 'completed'
          ? `done     ${o.summary.jobRunId} status=${o.summary.status} quality=${o.summary.quality} evidence=${o.summary.evidencePrefix}`
          : o.kind === 'failed'
            ? `failed   ${o.jobRunId} ${o.summary?.error ? `${o.summary.error.name}: ${o.summary.error.message}` : o.error}`
            : `skipped  ${o.jobRunId} duplicate_suppressed`,
      ),
    onMissed: (jobId, from, to) => log(`missed   ${jobId}: ticks between ${from} and ${to} are past the catch-up window and were not run`),
    onError: (e) => log(`error    ${(e as Error).message}`),
  });
  console.log(`opsrail local stack (home ${stack.home})`);
  console.log(`  DynamoDB Local ${stack.env.AWS_ENDPOINT_URL_DYNAMODB}  tables ${stack.env.STATE_TABLE_NAME}, ${stack.env.IDEMPOTENCY_TABLE_NAME}`);
  console.log(`  S3 endpoint    ${stack.env.AWS_ENDPOINT_URL_S3}  bucket ${stack.env.EVIDENCE_BUCKET_NAME}`);
  const enabled = scheduler.enabledJobs();
  console.log(`scheduling ${enabled.length} enabled job(s); Ctrl-C stops`);
  for (const job of enabled) console.log(`  ${job.jobId} ${job.schedule.expression} ${job.schedule.timezone} next ${nextRunTimes(job.schedule, systemClock.now(), 1).map((t) => formatInZone(t, job.schedule.timezone))[0] ?? 'never'}`);
  const stop = new AbortController();
  const onSignal = () => {
    log('stopping: waiting for runs in flight');
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await scheduler.loop(stop.signal);
  } finally {
    await stack.stop();
  }
  return EXIT.ok;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'jobs':
        return await jobsCommand(args);
      case 'run':
        return await runCommand(args);
      case 'start':
        return await startCommand(args);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE);
        return command === undefined ? EXIT.usage : EXIT.ok;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`opsrail: ${(error as Error).message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    if (error instanceof ValidationError) {
      console.error(`opsrail: invalid input: ${error.message}`);
      return EXIT.usage;
    }
    console.error(`opsrail: ${error instanceof OpsrailError ? `${error.name}: ` : ''}${(error as Error).message}`);
    return EXIT.failed;
  }
}

export { opsrailHome };
