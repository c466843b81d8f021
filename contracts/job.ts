import { deferred } from './deferred';
import * as z from 'zod';
import { Environment, JobId, SemVer } from './common';
import { ScheduleExpression, TimeZone } from './schedule';
import { JobIamStatement, JobImplementationSpec } from './job-module';

export const JobClass = deferred(() =>
  z.enum(['MAINTENANCE', 'VALIDATION', 'RECOVERY', 'REPORTING', 'BACKUP']),
);
export type JobClass = z.infer<typeof JobClass>;

export const JobMode = deferred(() => z.enum(['paper', 'shadow', 'live']));

/**
 * The kinds of operation that are dangerous and must pass a human gate
 * (docs/safety-rules.md#dangerous-ops).
 */
export const DangerousOpKind = deferred(() =>
  z.enum([
    'retention',
    'compaction',
    'deletion',
    'quarantine_release',
    'kill_switch_release',
    'safety_relax',
    'gate_disable',
    'secret_rotate',
    'secret_revoke',
    'restore',
    'repair',
  ]),
);

export type DangerousOpKind = z.infer<typeof DangerousOpKind>;

export const Dangerous = deferred(() =>
  z.discriminatedUnion('value', [
    z.object({ value: z.literal(false) }),
    z.object({ value: z.literal(true), opKind: DangerousOpKind }),
  ]),
);

export const JobSchedule = deferred(() =>
  z.strictObject({
    expression: ScheduleExpression,
    timezone: TimeZone,
  }),
);
export type JobSchedule = z.infer<typeof JobSchedule>;

/**
 * How a run's window (start/end UTC) follows from its scheduled time:
 * - tick: [tick, tick + minutes), one run per tick;
 * - trailing: [tick - minutes, tick), the period just ended;
 * - calendar: a whole hour, day, ISO week or month in the job's time zone, `offset` units before the
 *   one holding the tick (-1: the previous, complete one). Two ticks in one such unit are one run:
 *   a daily job runs once per day, a weekly one once per ISO week (docs/scheduling.md#windows).
 */
export const WindowPolicy = deferred(() =>
  z.discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('tick'),
      minutes: z
        .number()
        .int()
        .positive()
        .max(60 * 24 * 31),
    }),
    z.strictObject({
      kind: z.literal('trailing'),
      minutes: z
        .number()
        .int()
        .positive()
        .max(60 * 24 * 31),
    }),
    z.strictObject({
      kind: z.literal('calendar'),
      unit: z.enum(['hour', 'day', 'iso_week', 'month']),
      offset: z.number().int().min(-12).max(0).default(-1),
    }),
  ]),
);
export type WindowPolicy = z.infer<typeof WindowPolicy>;

/**
 * What a tick does when a run of the same job (another window) is still open
 * (docs/scheduling.md#overlap):
 * - skip: the tick is not run; `job.run.tick_skipped` on the open run's audit, metric TickSkipped;
 * - buffer_one: the first tick to arrive waits (WaitForOpenRun) and runs once the open run ends;
 *   any later tick while one waits is skipped;
 * - allow: both run at once, each its own window.
 * A second delivery of the same window is a duplicate under every policy.
 */
export const OverlapPolicy = deferred(() => z.enum(['skip', 'buffer_one', 'allow']));
export type OverlapPolicy = z.infer<typeof OverlapPolicy>;

export const Capabilities = deferred(() =>
  z.object({
    /**
     * What the job's own code reads and writes. `evidence` grants its function's role the evidence
     * bucket (docs/writing-a-job.md#permissions); `exports` (writes only) grants writing under the
     * stage's `exports/` prefix and reading evidence, nothing more; `state` adds nothing to the
     * bookkeeping every job
     * has. Only a VALIDATION job with no `writes` is treated as validating its datasets
     * (docs/policy.md#capabilities).
     */
    reads: z.array(z.enum(['state', 'evidence'])).default([]),
    writes: z.array(z.enum(['state', 'evidence', 'exports'])).default([]),
    /** Data-catalog dataset ids the job consumes; pinned into replay_pointers. */
    datasets: z.array(z.string().min(1)).default([]),
    /** The dataset id of what the job produces (lineage); default `opsrail.outputs.<jobId>`. */
    produces: z.string().min(1).optional(),
    /**
     * Datasets this job repairs: it may run while their integrity is FAIL or UNKNOWN
     * (docs/safety-rules.md#dataset-integrity).
     */
    repairs: z.array(z.string().min(1)).default([]),
  }),
);

/** A job as declared once in policy/catalog.json. Stage files only switch it on and tune it. */
export const CatalogJob = deferred(() =>
  z.strictObject({
    jobId: JobId,
    jobVersion: SemVer,
    jobClass: JobClass,
    owner: z.string().min(1),
    description: z.string().min(1),
    mode: JobMode.default('live'),
    /**
     * Without a time zone, the stage policy's default applies (Asia/Tokyo unless it says otherwise).
     */
    schedule: JobSchedule.partial({ timezone: true }),
    capabilities: Capabilities.default({ reads: [], writes: [], datasets: [], repairs: [] }),
    dangerous: Dangerous.default({ value: false }),
    /**
     * The span of time one run covers, derived from its scheduled time; the run id is keyed by its
     * start.
     */
    window: WindowPolicy.default({ kind: 'tick', minutes: 60 }),
    /** A tick arriving while another window's run of the job is open (docs/scheduling.md#overlap). */
    overlap: OverlapPolicy.default('skip'),
    /**
     * Whether running the job again with the same run id is safe (docs/crash-safety.md). When the
     * holder of an Execute died, an idempotent job is run again; any other run ends UNKNOWN
     * (`unknown_outcome`). opsrail's own jobs are idempotent; a user job enabled in a stage must say
     * (checked at load).
     */
    idempotent: z.boolean().optional(),
    /**
     * Job-specific parameters; built-in jobs and job modules validate theirs when the policy loads.
     */
    params: z.record(z.string(), z.unknown()).default({}),
    /**
     * Where the behaviour comes from: a module in the jobs directory, an HTTP call, a Lambda function
     * (contracts/job-module.ts).
     */
    implementation: JobImplementationSpec.optional(),
    /**
     * IAM statements this job's own code needs beyond its capabilities, granted to its function's
     * role alone (docs/writing-a-job.md#permissions).
     */
    iam: z.array(JobIamStatement).optional(),
  }),
);
export type CatalogJob = z.infer<typeof CatalogJob>;

/** A job resolved for one stage: the catalog entry with the stage's switches applied. */
export const JobDefinition = deferred(() =>
  CatalogJob.extend({
    schedule: JobSchedule,
    environment: Environment,
    /**
     * Opt-in: a job runs on its schedule only where a stage enables it (docs/scheduling.md#opt-in).
     */
    enabled: z.boolean().default(false),
  }),
);
export type JobDefinition = z.infer<typeof JobDefinition>;
